"""A bounded schemathesis run against the app, in-process: thousands of requests built
from the OpenAPI schema, valid and not, and no answer may be a 5xx or break the schema's
promises (documented status codes, JSON error bodies).

The app serves the shipped models (in the package: no training needed). The schema is
loaded when the module is, since schemathesis' fixture loader does not run on pytest 9.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import positive_data_acceptance

from digitrec.recognizer import Recognizer
from digitrec.serving.app import ServerConfig, create_app

EXAMPLES = 300  # per operation: ~700 requests in all (an operation with fewer distinct inputs stops early)
# A schema can say "binary", not "a picture that decodes": random bytes are schema-valid
# images, rightly answered 400. Every other check runs on the image endpoint too.
SCHEMA_CANNOT_SAY = {"POST /api/v1/predict": [positive_data_acceptance]}

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(Recognizer.load(), ServerConfig(max_bytes=200_000)))
# One test per operation with an id of its own (schemathesis' own parametrize gives them all
# one id, and pytest-xdist then runs only one of them).
OPERATIONS = {f"{op.method.upper()} {op.path}": op for op in (result.ok() for result in schema.get_all_operations())}


@pytest.mark.parametrize("name", sorted(OPERATIONS))
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=st.data())
def test_no_request_gets_a_server_error_or_breaks_the_schema(name, data):
    case = data.draw(OPERATIONS[name].as_strategy())
    response = case.call()
    assert response.status_code < 500, (response.status_code, response.text[:300])
    case.validate_response(response, excluded_checks=SCHEMA_CANNOT_SAY.get(name))
