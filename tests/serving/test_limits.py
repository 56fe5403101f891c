"""What one request can cost a real server: slow clients are cut off, a burst of huge
pictures stays within a worker's memory bound, a texture is refused quickly."""

import http.client
import io
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.preprocess.test_fields import dot_grid
from tests.serving.test_workers import free_port, reap

MEMORY_BOUND = 1_000_000_000  # bytes a worker may peak at, whatever a burst of clients sends


@pytest.fixture(scope="module")
def server(onnx_path, tmp_path_factory):
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "digitrec",
        "serve",
        "--model",
        str(onnx_path),
        "--port",
        str(port),
        "--header-timeout",
        "1",
        "--body-timeout",
        "1",
    ]
    log = tmp_path_factory.mktemp("server") / "stderr.txt"
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log.open("w"), text=True)
    process.log = log
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert process.poll() is None, process.log.read_text()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        yield process, port
    finally:
        reap(process)


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (the socket's timeout,
    far past the server's, fails the test if it never does)."""
    sock.settimeout(20)
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def test_headers_that_never_finish_get_408_and_a_closed_connection(server):
    _, port = server
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        assert read_until_closed(sock).startswith(b"HTTP/1.1 408")


def test_a_body_that_never_finishes_gets_its_connection_closed(server):
    _, port = server
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n"
            + b"\x89PNG"
        )
        assert b"200 OK" not in read_until_closed(sock)


def test_a_client_leaving_mid_upload_is_one_line_in_the_log(server):
    """An aborted upload logged a ClientDisconnect traceback."""
    process, port = server
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n"
            + b"\x89PNG" * 100
        )
    deadline = time.monotonic() + 20
    while "left during the upload" not in process.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = process.log.read_text()
    assert "left during the upload of /api/v1/predict" in log and "Traceback" not in log, log


def test_an_idle_connection_after_a_request_is_closed(server):
    _, port = server
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_until_closed(sock).startswith(b"HTTP/1.1 200")


def test_a_texture_of_10000_dots_gets_no_number(server):
    _, port = server
    buffer = io.BytesIO()
    Image.fromarray(dot_grid()).save(buffer, "PNG", optimize=True)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/api/v1/predict", body=buffer.getvalue(), headers={"Content-Type": "image/png"})
    response = conn.getresponse()
    body = json.loads(response.read())
    assert response.status == 200 and body["text"] == "" and "10,000 separate marks" in body["warning"]


def peak_rss(pid: int) -> int:
    line = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak RSS from /proc")
def test_a_burst_of_16_huge_pngs_stays_under_the_memory_bound(server):
    """A 6300x6300 PNG (under the 40-megapixel limit) cost ~300 MB per request decoded
    whole: 16 at once peaked at 4.4 GB. Reduced while decoding, two at a time: ~0.4 GB."""
    process, port = server
    page = np.full((6300, 6300), 255, np.uint8)
    page[1500:4800, 3000:3500] = 0  # a "1"
    buffer = io.BytesIO()
    Image.fromarray(page).save(buffer, "PNG", optimize=True)
    statuses = []

    def post() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        conn.request("POST", "/api/v1/predict", body=buffer.getvalue(), headers={"Content-Type": "image/png"})
        response = conn.getresponse()
        body = json.loads(response.read())
        statuses.append((response.status, body["text"]))

    clients = [threading.Thread(target=post) for _ in range(16)]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    assert [s for s, _ in statuses] == [200] * 16
    assert all(len(text) == 1 for _, text in statuses), statuses  # the "1", found at a reduced size
    assert peak_rss(process.pid) < MEMORY_BOUND
