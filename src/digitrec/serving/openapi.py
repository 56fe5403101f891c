"""What the OpenAPI schema says beyond FastAPI's defaults: every error answer with its
JSON body, and request bodies as strict as the server's own checks (schemathesis holds
the two to each other: tests/fuzz/test_schemathesis.py)."""

from __future__ import annotations

from typing import Any

ERROR_BODY = {
    "type": "object",
    "properties": {"error": {"type": "string", "description": "what is wrong, in one sentence"}},
    "required": ["error"],
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers of an endpoint, each with its JSON body."""
    meaning = {
        400: "an empty body, an undecodable image, invalid JSON",
        401: "the server has an API key and the request did not carry it",
        413: "more bytes than the server accepts, or more pixels",
        415: "a content type the endpoint does not take",
        422: "pixels of the wrong shape or type, NaN, or out of range",
    }
    return {s: {"description": meaning[s], "content": {"application/json": {"schema": ERROR_BODY}}} for s in statuses}


PIXEL = {"type": "number", "minimum": 0, "maximum": 255}
PIXELS_SCHEMA = {
    "type": "object",
    "required": ["pixels"],
    "properties": {
        "pixels": {
            "oneOf": [
                {
                    "type": "array",
                    "items": PIXEL,
                    "minItems": 784,
                    "maxItems": 784,
                    "description": "784 numbers, row by row",
                },
                {
                    "type": "array",
                    "items": {"type": "array", "items": PIXEL, "minItems": 28, "maxItems": 28},
                    "minItems": 28,
                    "maxItems": 28,
                    "description": "28 rows of 28 numbers",
                },
            ],
            "description": "0-255, or 0-1 when none is above 1; either polarity",
        }
    },
}
