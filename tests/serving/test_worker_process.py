"""prepare_worker_process: the settings a server or batch worker process runs under."""

import json
import os
import subprocess
import sys

import pytest

# A child does what a photo request does to memory, 40 times: holds a few working arrays
# of a few MB at once, then frees them, and prints the page faults it took. By default
# glibc returns the freed top of its heap (past twice its adaptive mmap threshold) to the
# system, and the next request faults every page in again.
CHILD = """
import resource, sys
import numpy as np
if sys.argv[1] == "prepared":
    from digitrec.processes import prepare_worker_process
    prepare_worker_process()
def request():
    held = [np.ones(size << 18, np.float32) for size in (3, 1, 3, 2, 3)]  # 12 MB in all
    del held
request()  # the first may fault in either case
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(40):
    request()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True, timeout=60)
    return int(out.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator settings")
def test_a_worker_reuses_the_memory_a_request_freed():
    plain, prepared = faults("plain"), faults("prepared")
    assert plain > 40 * 1_000, "the measurement itself: without the setting, every array faults its pages in"
    assert prepared < 1_000, f"{prepared} page faults for 40 requests' worth of reused arrays"


# What one of uvicorn's workers builds from the settings `digitrec serve` leaves it.
UVICORN_WORKER = """
import json
from fastapi.testclient import TestClient
import digitrec.serving.uvicorn_worker as worker
client = TestClient(worker.app)
too_big = client.post(
    "/api/v1/predict", content=b"x" * 2000, headers={"content-type": "image/png", "x-api-key": "k" * 32}
)
print(json.dumps({"header": worker.Protocol.header_timeout, "body": worker.Protocol.body_timeout,
                  "too_big": too_big.status_code, "keyless": client.get("/api/v1/model").status_code}))
"""


def test_uvicorns_workers_keep_every_setting_of_serve(tiny_run):
    """Where the balanced workers are not available (not Linux), `serve --workers N`
    hands the settings to uvicorn's workers through the environment: the body limit, the
    API key and the header and body deadlines all reach them (the deadlines once did not)."""
    from digitrec.serving.config import WORKER_SETTINGS, ServerConfig, worker_settings

    config = ServerConfig(max_bytes=1000, header_timeout=3.0, body_timeout=4.0, api_key="k" * 32)
    env = {**os.environ, WORKER_SETTINGS: worker_settings(str(tiny_run), "auto", config)}
    out = subprocess.run([sys.executable, "-c", UVICORN_WORKER], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["header"] == 3.0 and seen["body"] == 4.0
    assert seen["too_big"] == 413 and seen["keyless"] == 401
