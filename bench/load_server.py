"""Load on `digitrec serve`, on loopback, with concurrent clients.

    python bench/load_server.py --model runs/demo [--runtime onnx] [--workers 1]
        [--clients 16,64] [--pixels-requests 10000] [--photo-requests 1000] [--time-limit 300]

Starts the server in its own process on 127.0.0.1, sends a bounded number of requests
(each phase also stops at --time-limit seconds), and reports requests per second, p50
and p99 latency and errors for a pixels request and a photo upload, and the server's
resident memory sampled during each phase. Traffic never leaves this machine.

The load comes from wrk (Debian's package `wrk`) when it is installed: written in C, it
leaves the 2 cores to the server. Otherwise, from aiohttp clients in this process, which
take a good share of a core themselves (--client aiohttp forces them).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiohttp
import numpy as np
from PIL import Image


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total / 1024


def server_pids(root: int) -> list[int]:
    """The server process and its workers (uvicorn's --workers are children)."""
    pids = [root]
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        ppid = next((line.split()[1] for line in text.splitlines() if line.startswith("PPid:")), None)
        if ppid == str(root):
            pids.append(int(status.parent.name))
    return pids


ESTABLISHED, LISTEN = "01", "0A"  # socket states in /proc/net/tcp


def tcp_socket_inodes(port: int, state: str) -> set[str]:
    """The inodes of this machine's TCP sockets on local `port` in `state`."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                inodes.add(fields[9])
    return inodes


def connections_per_process(pids: list[int], port: int) -> list[int]:
    """How many established client connections each server process holds: with several
    workers, how the kernel and the workers' accept loops split the clients."""
    inodes = tcp_socket_inodes(port, ESTABLISHED)
    counts = []
    for pid in pids:
        try:
            links = [os.readlink(f) for f in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            links = []
        counts.append(sum(1 for link in links if link.startswith("socket:[") and link[8:-1] in inodes))
    return [c for c in counts if c] or [0]


def wait_until_listening(root: int, port: int, workers: int, timeout: float = 120) -> list[int]:
    """The server's processes, once every worker listens.

    /healthz answers as soon as the first worker is up; a second one still loading its
    model would accept no connections, and the load would all land on the first. Each of
    `digitrec serve`'s workers opens its own listening socket once its model is loaded.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(tcp_socket_inodes(port, LISTEN)) >= workers:
            return server_pids(root)
        time.sleep(0.2)
    raise SystemExit(f"the server's {workers} worker(s) did not all listen within {timeout:.0f} s")


def pixels_payload() -> bytes:
    image = np.zeros((28, 28), int)
    image[5:23, 12:16] = 255
    image[5:8, 10:16] = 255
    return json.dumps({"pixels": image.tolist()}).encode()


def photo_payload() -> bytes:
    rng = np.random.default_rng(0)
    page = np.clip(230 + rng.normal(0, 6, (480, 640)), 0, 255)
    page[120:360, 300:330] = 40  # a "1" written on paper
    page[120:140, 270:330] = 40
    buffer = io.BytesIO()
    Image.fromarray(page.astype(np.uint8)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


async def phase(
    url: str, body: bytes, content_type: str, total: int, clients: int, time_limit: float, on_progress
) -> dict:
    latencies: list[float] = []
    errors = 0
    sent = 0
    started = time.perf_counter()
    deadline = started + time_limit
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def worker() -> None:
            nonlocal sent, errors
            while sent < total and time.perf_counter() < deadline:
                sent += 1
                t0 = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers={"Content-Type": content_type}) as r:
                        ok = r.status == 200 and "text" in await r.json()
                except (TimeoutError, aiohttp.ClientError):
                    ok = False
                latencies.append(time.perf_counter() - t0)
                errors += not ok
                if len(latencies) % 1000 == 0:
                    on_progress(len(latencies))

        await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    ms = sorted(1000 * x for x in latencies)
    return {
        "requests": len(ms),
        "seconds": elapsed,
        "rps": len(ms) / elapsed,
        "p50_ms": statistics.median(ms),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": ms[-1],
        "errors": errors,
        "stopped_by_time_limit": len(ms) < total,
    }


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "%(content_type)s"
local f = assert(io.open("%(body)s", "rb"))
wrk.body = f:read("*all")
f:close()
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %%d, "seconds": %%f, "p50_ms": %%f, '
    .. '"p99_ms": %%f, "max_ms": %%f, "errors": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def _run_wrk(script: Path, url: str, clients: int, seconds: float) -> dict:
    result = subprocess.run(
        ["wrk", "-t1", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--timeout", "30s", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    line = [x for x in result.stdout.splitlines() if x.startswith("{")]
    if result.returncode != 0 or not line:
        raise SystemExit(f"wrk failed: {result.stderr or result.stdout}")
    return json.loads(line[-1])


def wrk_phase(
    url: str,
    body: bytes,
    content_type: str,
    total: int,
    clients: int,
    time_limit: float,
    memory: list,
    pids: list,
    port: int,
) -> dict:
    """wrk runs for a time, not a count: a 2-second calibration run (not reported) sets
    the duration that covers about `total` requests, within `time_limit`. Server memory
    is sampled every half second meanwhile."""
    with tempfile.TemporaryDirectory() as tmp:
        body_path = Path(tmp) / "body"
        body_path.write_bytes(body)
        script = Path(tmp) / "post.lua"
        script.write_text(WRK_SCRIPT % {"content_type": content_type, "body": body_path})
        calibration = _run_wrk(script, url, clients, 2)
        rate = calibration["requests"] / calibration["seconds"]
        seconds = min(time_limit, max(2.0, total / max(rate, 1e-6)))
        stop = threading.Event()
        split: list[int] = []

        def sample() -> None:
            while not stop.wait(0.5):
                memory.append(rss_mb(pids))
                if not split:
                    split.extend(connections_per_process(pids, port))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            r = _run_wrk(script, url, clients, seconds)
        finally:
            stop.set()
            sampler.join()
    r["rps"] = r["requests"] / r["seconds"]
    r["stopped_by_time_limit"] = seconds >= time_limit
    r["client"] = "wrk"
    r["connections_per_process"] = sorted(split, reverse=True)
    return r


async def phase_get(url: str, total: int, clients: int, time_limit: float) -> dict:
    latencies: list[float] = []
    started = time.perf_counter()
    counter = iter(range(total))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as session:

        async def worker() -> None:
            for _ in counter:
                if time.perf_counter() - started > time_limit:
                    return
                t0 = time.perf_counter()
                async with session.get(url) as r:
                    await r.read()
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(clients)))
    ms = sorted(1000 * x for x in latencies)
    elapsed = time.perf_counter() - started
    return {
        "requests": len(ms),
        "rps": len(ms) / elapsed,
        "p50_ms": statistics.median(ms),
        "p99_ms": float(np.percentile(ms, 99)),
    }


async def get_json(url: str, timeout: float = 2.0) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
        session.get(url) as r,
    ):
        return r.status, await r.json()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="runs/demo")
    parser.add_argument("--runtime", default="auto")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--clients", default="16,64", help="concurrent connections, comma-separated: each level is measured in turn"
    )
    parser.add_argument("--pixels-requests", type=int, default=10_000)
    parser.add_argument("--photo-requests", type=int, default=1_000)
    parser.add_argument("--time-limit", type=float, default=300.0, help="seconds per phase at most")
    parser.add_argument(
        "--client",
        choices=("auto", "wrk", "aiohttp"),
        default="auto",
        help="load generator: wrk when installed (auto), or aiohttp in this process",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.clients.split(",")]

    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "digitrec",
        "serve",
        "--model",
        args.model,
        "--runtime",
        args.runtime,
        "--port",
        str(port),
        "--workers",
        str(args.workers),
    ]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                raise SystemExit(f"the server exited: {server.stderr.read().decode()}")
            try:
                if asyncio.run(get_json(base + "/healthz"))[0] == 200:
                    break
            except (TimeoutError, aiohttp.ClientError):
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start within 120 s")
            time.sleep(0.2)
        pids = wait_until_listening(server.pid, port, args.workers)
        model = asyncio.run(get_json(base + "/api/v1/model"))[1]
        memory = [rss_mb(pids)]
        report = {
            "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
            "model": model,
            "clients": levels,
            "workers": args.workers,
        }
        # Warm-up, not measured: first requests pay one-off costs (imports, allocations).
        asyncio.run(
            phase(
                base + "/api/v1/predict/pixels",
                pixels_payload(),
                "application/json",
                200,
                levels[0],
                30,
                lambda n: None,
            )
        )
        memory.append(rss_mb(pids))
        # Baseline: the HTTP stack alone, an endpoint that does no work (GET-free POST is
        # not allowed, so /healthz is fetched with the same client and concurrency).
        report["baseline_healthz"] = asyncio.run(phase_get(base + "/healthz", 5000, levels[0], args.time_limit))
        client = args.client if args.client != "auto" else ("wrk" if shutil.which("wrk") else "aiohttp")
        report["client"] = client
        phases = (
            ("pixels", "/api/v1/predict/pixels", pixels_payload(), "application/json", args.pixels_requests),
            ("photo", "/api/v1/predict", photo_payload(), "image/jpeg", args.photo_requests),
        )
        report["levels"] = {}
        for clients in levels:
            level = report["levels"][clients] = {}
            for name, path, body, content_type, total in phases:
                if client == "wrk":
                    level[name] = wrk_phase(
                        base + path, body, content_type, total, clients, args.time_limit, memory, pids, port
                    )
                else:
                    level[name] = asyncio.run(
                        phase(
                            base + path,
                            body,
                            content_type,
                            total,
                            clients,
                            args.time_limit,
                            lambda n: memory.append(rss_mb(pids)),
                        )
                    )
        memory.append(rss_mb(pids))
        report["memory_mb"] = {
            "after_start": memory[0],
            "after_warm_up": memory[1],
            "samples": memory[2:],
            "growth_after_warm_up": memory[-1] - memory[1],
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    m = report["machine"]
    print(
        f"machine: {m['cpu']}, {m['cores']} cores; model {report['model']['recipe']} on {report['model']['runtime']}, "
        f"{args.workers} worker(s), clients from {report['client']} on loopback"
    )
    b = report["baseline_healthz"]
    print(
        f"baseline GET /healthz (no work, {levels[0]} clients): {b['rps']:.0f}/s  "
        f"p50 {b['p50_ms']:.1f} ms  p99 {b['p99_ms']:.1f} ms"
    )
    for clients, level in report["levels"].items():
        for name in ("pixels", "photo"):
            r = level[name]
            print(
                f"{clients:>3} clients {name:>6}: {r['requests']:,} requests in {r['seconds']:.1f} s "
                f"= {r['rps']:.0f}/s  "
                f"p50 {r['p50_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms  max {r['max_ms']:.1f} ms  errors {r['errors']}"
                + (
                    f"  connections per process {'/'.join(map(str, r['connections_per_process']))}"
                    if "connections_per_process" in r
                    else ""
                )
            )
    mem = report["memory_mb"]
    print(
        f"server memory: {mem['after_warm_up']:.0f} MB after warm-up, {memory[-1]:.0f} MB at the end "
        f"({mem['growth_after_warm_up']:+.1f} MB); samples: {', '.join(f'{x:.0f}' for x in mem['samples'])}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
