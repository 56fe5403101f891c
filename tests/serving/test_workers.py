"""`digitrec serve --workers N`: real processes on a real port, on loopback."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from digitrec.serving.workers import balanced_workers_supported
from tests.processes import alive, children, free_port, gone_within, reap, workers_of

pytestmark = pytest.mark.skipif(not balanced_workers_supported(), reason="balanced workers need Linux's SO_REUSEPORT")


def listening_sockets(port: int) -> int:
    """How many sockets listen on the port: the pool binds one per worker before they start."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines if int(line.split()[1].rsplit(":", 1)[1], 16) == port and line.split()[3] == "0A")


def owner_of_connection(local_port: int, server_pids: set[int]) -> int | None:
    """The server process holding the far end of a client socket bound to `local_port`."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[2].rsplit(":", 1)[1], 16) == local_port and fields[3] == "01":
            inode = fields[9]
    for pid in server_pids:
        try:
            if any(os.readlink(f) == f"socket:[{inode}]" for f in Path(f"/proc/{pid}/fd").iterdir()):
                return pid
        except OSError:
            continue
    return None


def get(port: int, path: str = "/healthz", conn: http.client.HTTPConnection | None = None) -> tuple[int, dict]:
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def wait_for_workers(server: subprocess.Popen, port: int, workers: int, timeout: float = 120) -> set[int]:
    """Every worker's process started, and the port answering. A worker still loading its
    model holds its connections until it serves them (its socket listens already)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stderr.read()
        if len(workers_of(server.pid)) == workers and listening_sockets(port) == workers:
            assert get(port)[0] == 200
            return children(server.pid)
        time.sleep(0.3)
    raise AssertionError("the workers did not start")


def serve_command(onnx_path: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "digitrec", "serve", "--model", str(onnx_path), "--port", str(port), "--workers", "2"]


@pytest.fixture
def pool(onnx_path):
    port = free_port()
    server = subprocess.Popen(
        serve_command(onnx_path, port), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        yield (
            server,
            port,
            wait_for_workers(server, port, 2),
        )  # the workers, and perhaps multiprocessing's resource tracker
    finally:
        reap(server)


def test_connections_spread_over_the_workers_and_a_dead_worker_is_replaced(pool):
    server, port, pids = pool
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(16)]
    for conn in connections:
        assert get(port, conn=conn)[0] == 200  # keep-alive: each connection stays with its worker
    owners = {owner_of_connection(conn.sock.getsockname()[1], pids) for conn in connections}
    assert len(owners - {None}) == 2, f"16 connections all went to {owners}"
    for conn in connections:
        conn.close()

    victim = sorted(owners - {None})[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = children(server.pid)
        if victim not in now and len(now - pids) >= 1:
            break
        time.sleep(0.3)
    else:
        raise AssertionError("the killed worker was not replaced")
    wait_for_workers(server, port, 2)
    assert all(get(port)[0] == 200 for _ in range(10))
    assert get(port, "/api/v1/model")[1]["runtime"] == "onnxruntime"


def test_sigterm_stops_every_worker(pool):
    server, _port, pids = pool
    workers = workers_of(server.pid)
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=60) == 0
    assert not any(alive(p) for p in workers)  # the pool joins its workers before it exits
    assert gone_within(pids, 2)  # and multiprocessing's resource tracker follows them


def test_workers_die_with_a_killed_server(pool):
    """SIGKILL gives the pool no chance to stop its workers: the kernel must, within 2 s,
    and nothing the server started is left (workers, resource tracker)."""
    server, port, pids = pool
    server.kill()
    server.wait()
    assert gone_within(pids, 2), "a process outlived its server"  # a worker exits on its SIGTERM
    assert listening_sockets(port) == 0, "a worker outlived its server"


def test_two_servers_started_together_do_not_share_the_port(onnx_path):
    """Started at once, one server keeps the port and the other exits with a clear message
    (both passed the old port check and formed one group of 4 listeners)."""
    port = free_port()
    servers = [
        subprocess.Popen(serve_command(onnx_path, port), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and all(s.poll() is None for s in servers):
            time.sleep(0.1)
        lost = [s for s in servers if s.poll() is not None]
        assert len(lost) == 1, "neither server exited"
        kept = next(s for s in servers if s is not lost[0])
        assert lost[0].returncode == 1
        message = lost[0].stderr.read()
        assert f"127.0.0.1:{port}" in message and (
            "already served by digitrec" in message or "cannot listen" in message
        ), message
        wait_for_workers(kept, port, 2)
        assert listening_sockets(port) == 2  # the winner's group, and nobody else's
    finally:
        for s in servers:
            reap(s)


def test_a_taken_port_is_refused_before_any_worker_starts(onnx_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(serve_command(onnx_path, port), capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
