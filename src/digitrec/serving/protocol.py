"""uvicorn's HTTP protocol with deadlines for receiving a request.

uvicorn has no timeout while a request arrives: its keep-alive timer covers the idle time
between requests and is reset by every byte, so a client sending one header byte at a
time, or a body slower than it promised, held a connection (and a request's buffers) for
as long as it liked. Here a request's headers must arrive within `header_timeout` of the
connection opening or of the previous response, and its body within `body_timeout` of
its headers; a late header gets 408, a late body has its connection closed (the app sees
a disconnect).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("digitrec.serving")


class DeadlineProtocol(HttpToolsProtocol):
    header_timeout: float = 10.0  # seconds for a request's line and headers
    body_timeout: float = 30.0  # seconds for its body, once the headers are in

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.deadline: asyncio.TimerHandle | None = None

    def _arm(self, seconds: float, on_expiry) -> None:
        self._disarm()
        self.deadline = self.loop.call_later(seconds, on_expiry)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _headers_late(self) -> None:
        self.deadline = None
        if not self.transport.is_closing():
            log.warning(
                "digitrec: closed a connection from %s whose request headers took over %gs",
                self.client,
                self.header_timeout,
            )
            self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            self.transport.close()

    def _body_late(self) -> None:
        self.deadline = None
        if not self.transport.is_closing():
            log.warning(
                "digitrec: closed a connection from %s whose request body took over %gs", self.client, self.body_timeout
            )
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout, self._headers_late)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.body_timeout, self._body_late)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()  # the app has the whole request; answering takes what it takes

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:  # a pipelined request is in already
            self._arm(self.header_timeout, self._headers_late)  # for the next request

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def protocol_with(header_timeout: float, body_timeout: float) -> type[DeadlineProtocol]:
    return type(
        "DigitrecHttpProtocol", (DeadlineProtocol,), {"header_timeout": header_timeout, "body_timeout": body_timeout}
    )
