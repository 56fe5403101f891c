"""The HTTP API and the drawing board page, on FastAPI.

Every request goes through the same preprocessing path as `digitrec predict`. Bad input
never reaches a 500: it gets 400, 413, 415 or 422 and a JSON body {"error": "..."}.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.resources
import itertools
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import orjson
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from digitrec import __version__
from digitrec.preprocess.decode import MAX_PIXELS, ImageError, ImageTooLargeError
from digitrec.preprocess.fields import FieldOptions
from digitrec.preprocess.pipeline import PreprocessOptions
from digitrec.recognizer import Reading, Recognizer
from digitrec.serving.batching import MicroBatcher
from digitrec.serving.config import ServerConfig
from digitrec.serving.openapi import PIXELS_SCHEMA, error_responses
from digitrec.serving.security import SecurityMiddleware

log = logging.getLogger("digitrec.serving")

STATIC = Path(__file__).parent / "static"
SWAGGER_UI = str(importlib.resources.files("fastapi_swagger.resources"))  # Swagger UI 5 (OpenAPI 3.1), packaged


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def png_base64(image: np.ndarray) -> str:
    # OpenCV's encoder: a quarter of Pillow's time for a 28x28 image, on every digit served.
    ok, png = cv2.imencode(".png", image)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return base64.b64encode(png.tobytes()).decode("ascii")


def reading_json(reading: Reading) -> dict[str, Any]:
    """`digitrec predict --json`'s object, each digit with the 28x28 image it was read from."""
    body = reading.to_dict()
    for out, digit in zip(body["digits"], reading.digits):
        out["image"] = png_base64(digit.image)
    return body


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, never empty and never past `limit` (ApiError 400 or 413)."""
    body = await read_capped(request, limit)
    if not body:
        raise ApiError(400, "the body is empty; send an image")
    return body


async def read_capped(request: Request, limit: int) -> bytes:
    """The request's body, read no further than `limit` bytes (ApiError 413 past it,
    whether Content-Length says so first or the stream does)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the body is {int(declared):,} bytes, over the limit of {limit:,}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the body is over the limit of {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class FastJSONResponse(JSONResponse):
    """orjson renders a reading several times faster than the standard library."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)  # a fifth of json.loads' time for 784 numbers
    except orjson.JSONDecodeError:
        pass
    # Not strict JSON, or beyond orjson's limits: perhaps Python's NaN, which deserves
    # "contains NaN", not "invalid". The standard library has limits of its own: integers
    # of more than 4,300 digits (ValueError), nesting past the recursion limit.
    try:
        return json.loads(body)
    except RecursionError:
        raise ApiError(400, "the body is not valid JSON (nested too deeply)") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, f"the body is not valid JSON ({e})") from None


PIXELS_HELP = "pixels must be numbers, in 28 rows of 28 or a flat list of 784"
JSON_NAMES = {str: "strings", bool: "true/false", list: "nested lists", dict: "objects", type(None): "null"}


def pixels_array(payload: Any) -> np.ndarray:
    """28x28 or 784 numbers, 0-255 or 0-1, as a uint8 (28, 28) image. Only JSON numbers:
    numpy would also take "1" and true for 1."""
    values = payload.get("pixels") if isinstance(payload, dict) else payload
    if values is None:
        raise ApiError(422, 'expected a JSON object {"pixels": [...]} with 28x28 or 784 numbers')
    if not isinstance(values, list):
        raise ApiError(422, f"{PIXELS_HELP}; got {type(values).__name__}")
    rows = values and all(isinstance(row, list) for row in values)
    kinds = set(map(type, itertools.chain.from_iterable(values) if rows else values))
    if not kinds <= {int, float}:
        names = ", ".join(sorted({JSON_NAMES.get(k, k.__name__) for k in kinds - {int, float}}))
        raise ApiError(422, f"{PIXELS_HELP}; got {names}")
    try:
        array = np.asarray(values, dtype=np.float64)
    except OverflowError:  # an integer past float64's range, such as 10**400
        raise ApiError(422, "pixel values must be in 0-255 (or 0-1); got an integer too large for any image") from None
    except (ValueError, TypeError):
        raise ApiError(422, PIXELS_HELP) from None
    if array.shape not in ((28, 28), (784,)):
        raise ApiError(422, f"pixels have shape {list(array.shape)}; expected [28, 28] or [784]")
    if not np.isfinite(array).all():
        raise ApiError(422, "pixels contain NaN or infinite values")
    if array.min() < 0 or array.max() > 255:
        raise ApiError(422, f"pixel values must be in 0-255 (or 0-1); got {array.min():g} to {array.max():g}")
    if array.max() <= 1.0:
        array = array * 255.0
    return array.reshape(28, 28).round().astype(np.uint8)


def media_type(request: Request) -> str:
    """The request's media type, lower case, without parameters ("application/jsonx" is not
    "application/json")."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


@dataclass
class Served:
    """What the routes serve with, kept on the app (`app.state.served`): the model, loaded
    once by the caller, and the settings."""

    recognizer: Recognizer
    config: ServerConfig
    card: dict[str, Any]  # the model's card (`/api/v1/model`)
    batcher: MicroBatcher  # shares the classifier's calls among concurrent pixel requests
    reading_slots: asyncio.Semaphore  # pictures read at once (ServerConfig.reading_slots)


def served(request: Request) -> Served:
    return request.app.state.served


# --- errors: one JSON shape, {"error": ...} ----------------------------------------------
async def api_error(_: Request, e: ApiError) -> JSONResponse:
    return JSONResponse({"error": e.message}, status_code=e.status)


async def validation_error(_: Request, e: RequestValidationError) -> JSONResponse:
    return JSONResponse(
        {"error": "invalid request", "detail": json.loads(json.dumps(e.errors(), default=str))}, status_code=422
    )


async def http_error(_: Request, e: StarletteHTTPException) -> JSONResponse:
    return JSONResponse({"error": str(e.detail)}, status_code=e.status_code, headers=e.headers)  # 405 keeps its Allow


async def client_gone(request: Request, _: ClientDisconnect) -> Response:
    log.warning(
        "digitrec: %s left during the upload of %s",
        request.client.host if request.client else "a client",
        request.url.path,
    )
    return Response(status_code=400)  # never delivered: there is no one to read it


ERROR_HANDLERS = {
    ApiError: api_error,
    RequestValidationError: validation_error,
    StarletteHTTPException: http_error,
    ClientDisconnect: client_gone,
}


# --- the API -----------------------------------------------------------------------------
api = APIRouter()


async def read_image(request: Request, data: bytes, name: str, layout: str) -> JSONResponse:
    """An image's reading, in the thread pool, within the worker's reading slots."""
    state = served(request)
    try:
        async with state.reading_slots:
            reading = await run_in_threadpool(state.recognizer.read, data, None, name, layout)
    except ImageTooLargeError as e:
        raise ApiError(413, str(e)) from None
    except ImageError as e:
        raise ApiError(400, str(e)) from None
    return FastJSONResponse(reading_json(reading))


async def uploaded_file(request: Request, max_bytes: int) -> tuple[bytes, str]:
    """The first file of a multipart body read under `max_bytes`, and its name for messages."""
    body = await read_body(request, max_bytes)

    async def replay() -> dict[str, Any]:  # the stream is spent: parse the bytes read under the limit
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_part_size=max_bytes)
    except Exception:
        raise ApiError(400, "the multipart body cannot be parsed") from None
    uploads = [v for v in form.values() if hasattr(v, "read")]
    if not uploads:
        raise ApiError(400, "the multipart body has no file; attach the image as a file field")
    data = await uploads[0].read()
    if not data:
        raise ApiError(400, "the uploaded file is empty")
    return data, f"the uploaded file {uploads[0].filename or ''}".strip()


@api.post(
    "/api/v1/predict",
    summary="Read the digits in an image",
    responses=error_responses(400, 401, 413, 415),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
                "image/*": {"schema": {"type": "string", "format": "binary"}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def predict(
    request: Request,
    layout: Literal["auto", "field", "page"] = Query(
        "auto",
        description=(
            "field: the picture is one field, read whole; page: its numbers are found and each read; "
            "auto: a picture 600 pixels or more on its longer side is a page of the numbers found on it, "
            "a smaller one a field"
        ),
    ),
) -> JSONResponse:
    """An image as a multipart upload (any field name) or as the raw body. Returns the
    number read, and per digit its class, confidence, top 3, box and 28x28 image (base64 PNG)."""
    content_type, max_bytes = media_type(request), served(request).config.max_bytes
    if content_type == "multipart/form-data":
        data, name = await uploaded_file(request, max_bytes)
        return await read_image(request, data, name, layout)
    if not (content_type.startswith("image/") or content_type == "application/octet-stream"):
        raise ApiError(
            415,
            f"unsupported content type {content_type or '(none)'!r}; "
            "send multipart/form-data or image bytes (image/png, image/jpeg, ...)",
        )
    return await read_image(request, await read_body(request, max_bytes), "the uploaded image", layout)


@api.post(
    "/api/v1/predict/pixels",
    summary="Read a digit given as pixels",
    responses={
        **error_responses(400, 401, 413, 415, 422),
        501: {"description": "a number reader served without a digit classifier"},
    },
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": PIXELS_SCHEMA}}}},
)
async def predict_pixels(request: Request) -> JSONResponse:
    """JSON {"pixels": ...}: 28 rows of 28 numbers or 784 numbers, 0-255 or 0-1, either polarity."""
    state, content_type = served(request), media_type(request)
    if state.recognizer.classifier is None:
        raise ApiError(
            501,
            "this server has a number reader and no digit classifier, which single 28x28 digits need; "
            "serve one with --model",
        )
    if content_type != "application/json":
        raise ApiError(415, f"unsupported content type {content_type or '(none)'!r}; send application/json")
    image = pixels_array(parse_json(await read_body(request, state.config.max_bytes)))
    try:
        # A fraction of a millisecond of work: a hop to the thread pool would cost more
        # than it frees, so it runs here, and the classifier call is shared (batching.py).
        pre = state.recognizer.preprocess(image, True, "the pixels")
    except ImageError as e:
        raise ApiError(422, str(e)) from None
    reading = state.recognizer.reading(pre, await state.batcher.classify(pre.images))
    # A ready response: FastAPI's generic encoder costs more than the reading itself.
    return FastJSONResponse(reading_json(reading))


@api.get("/api/v1/model", summary="The model being served", responses=error_responses(401))
async def model(request: Request) -> dict[str, Any]:
    state = served(request)
    card, accuracy = state.card, state.card.get("test_accuracy")
    return {
        "recipe": card.get("recipe"),
        "test_accuracy": None
        if accuracy is None or (isinstance(accuracy, float) and math.isnan(accuracy))
        else accuracy,
        "parameters": card.get("parameters"),
        "runtime": state.recognizer.runtime,
        "architecture": card.get("model", {}).get("arch"),
        "classes": card.get("classes", list(range(10))),
        "normalization": card.get("normalization"),
    }


@api.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


# --- the page ------------------------------------------------------------------------------
page = APIRouter(include_in_schema=False)


@page.get("/docs")
async def docs() -> FileResponse:
    return FileResponse(STATIC / "docs.html")


@page.get("/")
async def index() -> FileResponse:
    return FileResponse(STATIC / "index.html")


def create_app(
    recognizer: Recognizer, config: ServerConfig = ServerConfig(), model_card: dict[str, Any] | None = None
) -> FastAPI:
    """The app around one loaded model; the model is loaded once, by the caller."""
    app = FastAPI(
        title="digitrec",
        version=__version__,
        description="Read handwritten digits from pictures or pixel arrays.",
        docs_url=None,  # served by `page` from the package's own Swagger UI, not a CDN
        redoc_url=None,
        exception_handlers=ERROR_HANDLERS,
    )
    app.state.served = Served(
        recognizer,
        config,
        dict(model_card or recognizer.meta),
        MicroBatcher(recognizer.classify),
        asyncio.Semaphore(config.reading_slots),
    )
    app.include_router(api)
    app.include_router(page)
    app.mount("/static/swagger", StaticFiles(directory=SWAGGER_UI), name="swagger")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(SecurityMiddleware, api_key=config.api_key)
    return app


def serve_on(app: FastAPI, sock: Any, config: ServerConfig = ServerConfig()) -> None:
    """Serve `app` on an already listening socket until SIGINT or SIGTERM."""
    import uvicorn

    from digitrec.serving.protocol import protocol_with

    http = protocol_with(config.header_timeout, config.body_timeout)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", http=http)).run(sockets=[sock])


def load_app(model: str | Path, runtime: str = "auto", config: ServerConfig = ServerConfig()) -> FastAPI:
    """Load the model once and build the app around it."""
    pixels = config.max_pixels if config.max_pixels is not None else MAX_PIXELS
    recognizer = Recognizer.load(
        model,
        "cpu",
        PreprocessOptions(max_pixels=pixels),
        runtime=runtime,
        field_options=FieldOptions(max_pixels=pixels),
        finder=config.finder,
    )
    card = dict(recognizer.meta)
    if recognizer.runtime == "pytorch":
        from digitrec.artifacts.checkpoint import model_card

        card = model_card(Path(model), recognizer.meta)
    return create_app(recognizer, config, card)
