"""prepare_worker_process: the settings a server or batch worker process runs under."""

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
