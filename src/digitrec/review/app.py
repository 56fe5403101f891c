"""The review page and its API, on a local server: a person goes through the rows the
reader was unsure of, by keyboard, and every decision is kept at once in the journal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware

from digitrec import __version__
from digitrec.review.journal import ACTIONS, ReviewError
from digitrec.review.learn import LearnBusy, Learner
from digitrec.review.session import PictureRefused, ReadAgain, ReviewSession
from digitrec.serving.app import ApiError, read_capped
from digitrec.serving.security import SecurityMiddleware

STATIC = Path(__file__).resolve().parent / "static"
MAX_ITEMS = 200  # queue items per request: the page asks for more as it goes
MAX_DECISION_BYTES = 4096  # a decision's JSON body: a few dozen bytes in practice

api = APIRouter(prefix="/api/review")


class DecisionIn(BaseModel):
    id: int
    action: str
    number: str = ""


def session_of(request: Request) -> ReviewSession:
    return request.app.state.session


@api.get("/state")
def state(request: Request) -> dict[str, Any]:
    """How many rows are accepted as read, decided by a person, left to review; the bar."""
    session = session_of(request)
    return {**session.state(), "results": session.results.name, "actions": list(ACTIONS)}


@api.get("/queue")
def queue(
    request: Request, after_confidence: float | None = None, after_id: int | None = None, count: int = 50
) -> list[dict[str, Any]]:
    """The rows left to review, least sure first, after the row (confidence, id) given."""
    return session_of(request).items(cursor(after_confidence, after_id), max(0, min(count, MAX_ITEMS)))


def cursor(after_confidence: float | None, after_id: int | None) -> tuple[float, int] | None:
    return None if after_id is None else (after_confidence or 0.0, after_id)


@api.get("/rows")
def rows(
    request: Request,
    number: str | None = None,
    after_confidence: float | None = None,
    after_id: int | None = None,
    count: int = 50,
) -> list[dict[str, Any]]:
    """Rows to look at again: those now read as `number`, or without it the rows accepted
    without review, least sure first; any of them can be decided again."""
    if number is not None and not (number == "" or (number.isascii() and number.isdigit())):
        return JSONResponse({"error": f"a number is digits only, not {number!r}"}, status_code=422)
    after = cursor(after_confidence, after_id)
    return session_of(request).browse(number, after, max(0, min(count, MAX_ITEMS)))


@api.get("/picture/{index}")
def picture(request: Request, index: int) -> Response:
    """A row's picture, only if the results file names it and it lies inside the folders
    under review; never any other file."""
    try:
        data, kind = session_of(request).picture(index)
    except KeyError:
        return JSONResponse({"error": f"there is no row {index}"}, status_code=404)
    except PictureRefused as e:
        return JSONResponse({"error": f"the picture of row {index} is not shown: {e}"}, status_code=403)
    return Response(data, media_type=kind)


@api.get("/details/{index}")
def details(request: Request, index: int) -> Response:
    """Where the reader saw the number in the row's picture, and each digit's alternatives."""
    try:
        found = session_of(request).details(index)
    except KeyError:
        return JSONResponse({"error": f"there is no row {index}"}, status_code=404)
    except PictureRefused as e:
        return JSONResponse({"error": f"the picture of row {index} is not shown: {e}"}, status_code=403)
    if found is None:
        return JSONResponse({"error": "the model that read this row cannot be loaded here"}, status_code=404)
    return JSONResponse(found)


@api.post("/decide")
async def decide(request: Request) -> Response:
    """Keep one decision (durably, before answering) and return the new counts."""
    refused = not_from_the_page(request)
    if refused is not None:
        return refused
    try:  # a decision is a few dozen bytes: a larger body is a mistake or an attack, not read further
        body = await read_capped(request, MAX_DECISION_BYTES)
    except ApiError as e:
        return JSONResponse({"error": e.message}, status_code=e.status)
    try:
        decision = DecisionIn.model_validate_json(body)
    except ValidationError as e:
        return JSONResponse({"error": f"not a decision: {e.errors()[0]['msg']}"}, status_code=422)
    session = session_of(request)
    try:
        made = await run_in_threadpool(session.decide, decision.id, decision.action, decision.number)
    except KeyError:
        return JSONResponse({"error": f"there is no row {decision.id}"}, status_code=404)
    except ReadAgain as e:  # the page shows the new reading instead
        return JSONResponse({"error": str(e), "row": session.item(decision.id)}, status_code=409)
    except ReviewError as e:
        return JSONResponse({"error": str(e)}, status_code=422)
    answer = {"decision": {"id": decision.id, "action": made.action, "number": made.number}, **session.state()}
    return JSONResponse(answer)


@api.get("/learn")
def learn_progress(request: Request) -> dict[str, Any]:
    """Where the reader's learning stands: its stage, how far, and what it moved."""
    learner = request.app.state.learner
    return {"available": learner is not None, **(learner.progress().to_dict() if learner else {})}


@api.post("/learn")
async def learn(request: Request) -> Response:
    """Fine-tune the reader on the corrections so far, in the background, then read the
    rows still waiting again; GET /learn follows it."""
    refused = not_from_the_page(request)
    if refused is not None:
        return refused
    try:
        await read_capped(request, MAX_DECISION_BYTES)  # nothing is needed from the body: it is not kept
    except ApiError as e:
        return JSONResponse({"error": e.message}, status_code=e.status)
    learner = request.app.state.learner
    if learner is None:
        return JSONResponse({"error": "this review was started without learning"}, status_code=404)
    try:
        started = learner.start()
    except LearnBusy as e:
        return JSONResponse({"error": str(e)}, status_code=409)
    except ReviewError as e:  # too few corrections yet
        return JSONResponse({"error": str(e)}, status_code=422)
    return JSONResponse(started.to_dict(), status_code=202)


def not_from_the_page(request: Request) -> Response | None:
    """A decision comes from the review page itself, as JSON: another site's page in the
    person's browser could otherwise post a form or a `text/plain` body here (no key is
    needed on loopback). Browsers say where a request comes from (Sec-Fetch-Site, Origin)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return JSONResponse({"error": "a decision is sent as application/json"}, status_code=415)
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    host = request.headers.get("host", "")
    if (site is not None and site not in ("same-origin", "none")) or (
        origin is not None and origin.split("://", 1)[-1] != host
    ):
        return JSONResponse({"error": "a decision comes from the review page, not another site"}, status_code=403)
    return None


def create_review_app(
    session: ReviewSession, api_key: str | None = None, hosts: list[str] | None = None, learner: Learner | None = None
) -> FastAPI:
    """The review app; `hosts`: the Host headers it answers (the address it listens on),
    so that a page of another site that rebinds its DNS name to loopback gets nothing;
    `learner`: what the page's Learn button runs (None: no learning here)."""
    app = FastAPI(title="digitrec review", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.session, app.state.learner = session, learner
    app.include_router(api)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "review.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(SecurityMiddleware, api_key=api_key)
    if hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts)
    return app
