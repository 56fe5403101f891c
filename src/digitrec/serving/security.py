"""What every answer of the server carries, and who may ask: security headers on every
response, `Cache-Control: no-store` on API answers, and, with an API key, a 401 for any
API request without it.

One plain ASGI middleware rather than Starlette's BaseHTTPMiddleware: it adds headers to
the response start and nothing else, so a pixels request (about a millisecond) pays
nothing measurable for it.
"""

from __future__ import annotations

import hmac
import ipaddress
from pathlib import Path
from typing import Any

import orjson

from digitrec.errors import ConfigError

# --- headers -------------------------------------------------------------------------
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)  # the page and /docs load only the package's own files; photos are shown from blob: URLs
HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
API_PREFIX = "/api/"  # computed per request: never cached, and behind the key (the page,
# its assets, /docs and /healthz stay open: a load balancer's probe has no key)
API_KEY_HEADER = b"x-api-key"


def presented_key(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The key a request carries: `X-API-Key: KEY` or `Authorization: Bearer KEY`."""
    for name, value in headers:
        if name == API_KEY_HEADER:
            return value.strip()
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].strip()
    return None


MIN_API_KEY_LENGTH = 16


def read_api_key(key: str | None, key_file: Path | None) -> str | None:
    """The server's API key, given as itself or in a file (which keeps it out of the
    process list), or None for none; refused when shorter than a guessable length."""
    if key is not None and key_file is not None:
        raise ConfigError("give --api-key or --api-key-file, not both")
    if key_file is not None:
        try:
            key = key_file.read_text().strip()
        except OSError as e:
            raise ConfigError(f"cannot read the API key file {key_file}: {e.strerror or e}") from None
    if key is not None and len(key) < MIN_API_KEY_LENGTH:
        raise ConfigError(
            f"an API key must be at least {MIN_API_KEY_LENGTH} characters "
            "(`python -c 'import secrets; print(secrets.token_urlsafe())'` makes one)"
        )
    return key


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the server to this machine; a host name other than
    localhost may resolve to anything, so it does not count."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SecurityMiddleware:
    def __init__(self, app: Any, api_key: str | None = None):
        self.app = app
        self.api_key = api_key.encode() if api_key else None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        api = path.startswith(API_PREFIX)
        extra = HEADERS + ([(b"cache-control", b"no-store")] if api else [])
        if self.api_key is not None and api:
            key = presented_key(scope["headers"])
            if key is None or not hmac.compare_digest(key, self.api_key):
                await self._refuse(send, extra, "an API key is missing" if key is None else "the API key is wrong")
                return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    async def _refuse(send: Any, extra: list[tuple[bytes, bytes]], why: str) -> None:
        body = orjson.dumps({"error": f"{why}: send it as X-API-Key or Authorization: Bearer"})
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", b"Bearer"),
        ]
        await send({"type": "http.response.start", "status": 401, "headers": headers + extra})
        await send({"type": "http.response.body", "body": body})
