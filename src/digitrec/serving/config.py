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
    max_pixels: int | None = None  # largest decoded picture; None: the decoder's own limit (preprocess.decode.MAX_PIXELS)
    header_timeout: float = 10.0  # seconds a request's headers may take to arrive
    body_timeout: float = 30.0  # seconds its body may take, once the headers are in
    api_key: str | None = None  # when set, every /api/ request must carry it (see security.py)
    finder: str | None = None  # a number finder's checkpoint: where a page's numbers are, for a field reader
    reading_slots: int = 2  # pictures a worker reads at once; the rest wait their turn. It
    # bounds the memory of a burst (a 6300x6300 PNG holds ~60 MB while it is decoded)
    # and costs no throughput: a worker has one core to read with

    def to_json(self) -> str:
        """These settings for a worker process that rebuilds them (`from_json`)."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServerConfig:
        return cls(**json.loads(text))
