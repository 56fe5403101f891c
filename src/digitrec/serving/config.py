"""A server's settings and their defaults: one home for `digitrec serve`'s options, the
app, and the worker processes that rebuild the settings from JSON. Free of heavy imports,
because the command line reads these defaults whenever it starts."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class ServerConfig:
    max_bytes: int = 10 * 1024 * 1024  # largest request body
    # largest decoded picture; None: the decoder's own limit (preprocess.decode.MAX_PIXELS)
    max_pixels: int | None = None
    header_timeout: float = 10.0  # seconds a request's headers may take to arrive
    body_timeout: float = 30.0  # seconds its body may take, once the headers are in
    api_key: str | None = None  # when set, every /api/ request must carry it (see security.py)
    finder: str | None = None  # a number finder's checkpoint: where a page's numbers are, for a field reader
    reading_slots: int = 2  # pictures a worker reads at once; the rest wait their turn. It
    # bounds the memory of a burst (a 6300x6300 PNG holds ~60 MB while it is decoded)
    # and costs no throughput: a worker has one core to read with


WORKER_SETTINGS = "DIGITREC_SERVE"  # the environment variable in which `serve` hands uvicorn's workers their settings


def worker_settings(model: str, runtime: str, config: ServerConfig) -> str:
    """What a server worker process loads and how it serves, as JSON (`from_worker_settings`)."""
    return json.dumps({"model": model, "runtime": runtime, "config": dataclasses.asdict(config)})


def from_worker_settings(text: str) -> tuple[str, str, ServerConfig]:
    """The model, runtime and settings of `worker_settings`."""
    settings = json.loads(text)
    return settings["model"], settings["runtime"], ServerConfig(**settings["config"])
