"""`digitrec export` and `digitrec serve`."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from digitrec.cli.common import FinderOption, JsonOption, emit_json, err, out
from digitrec.errors import ConfigError
from digitrec.serving.config import WORKER_SETTINGS, ServerConfig, worker_settings

DEFAULTS = ServerConfig()


def export(
    run: Path = typer.Argument(..., help="Run folder or checkpoint."),
    fmt: str = typer.Option("onnx", "--format", help="Export format: onnx."),
    out_path: Path = typer.Option(Path("model.onnx"), "--out", help="File to write."),
    as_json: bool = JsonOption,
) -> None:
    """Export a model (with its normalisation and class names in the metadata) for other runtimes."""
    if fmt != "onnx":
        raise ConfigError(f"unknown export format {fmt!r}; digitrec exports onnx")
    from digitrec.artifacts.onnx import export_onnx

    path = export_onnx(run, out_path)
    if as_json:
        emit_json({"out": path, "format": fmt, "bytes": path.stat().st_size})
        return
    from digitrec.runtime import onnx_session

    if onnx_session(path)[1].get("kind") == "finder":  # a finder finds numbers for a reader: it is served beside one
        out.print(
            f"wrote {path} ({path.stat().st_size:,} bytes); serve it beside a reader with "
            f"`digitrec serve --model reader.onnx --finder {path} --runtime onnx`"
        )
    else:
        out.print(
            f"wrote {path} ({path.stat().st_size:,} bytes); "
            f"serve it with `digitrec serve --model {path} --runtime onnx`"
        )


def serve(
    model: Path | None = typer.Option(
        None, "--model", help="Run folder, checkpoint, or .onnx export; default: the shipped models."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; loopback unless told otherwise."),
    port: int = typer.Option(8000, "--port", min=1, max=65535),
    runtime: str = typer.Option("auto", "--runtime", help="pytorch, onnx, or auto (onnx for .onnx files)."),
    finder: Path | None = FinderOption,
    max_bytes: int = typer.Option(DEFAULTS.max_bytes, "--max-bytes", min=1, help="Largest request body accepted."),
    workers: int = typer.Option(1, "--workers", min=1, help="Server processes (each loads the model once)."),
    header_timeout: float = typer.Option(
        DEFAULTS.header_timeout,
        "--header-timeout",
        min=0.1,
        help="Seconds a request's headers may take to arrive (then 408).",
    ),
    body_timeout: float = typer.Option(
        DEFAULTS.body_timeout,
        "--body-timeout",
        min=0.1,
        help="Seconds a request's body may take once its headers are in (then the connection closes).",
    ),
    api_key: str | None = typer.Option(
        None,
        "--api-key",
        envvar="DIGITREC_API_KEY",
        help=(
            "Every /api/ request must carry this key (X-API-Key or Authorization: Bearer); also from DIGITREC_API_KEY."
        ),
    ),
    api_key_file: Path | None = typer.Option(
        None, "--api-key-file", help="Read the API key from this file (it stays out of the process list)."
    ),
) -> None:
    """Serve the REST API and the drawing board page (FastAPI on uvicorn)."""

    import uvicorn

    from digitrec.processes import prepare_worker_process
    from digitrec.serving.app import load_app, serve_on
    from digitrec.serving.security import is_loopback, read_api_key

    if model is None:
        from digitrec.shipped import READER, shipped

        model = shipped(READER)  # with the shipped classifier beside it for pixels
    key = read_api_key(api_key, api_key_file)
    if not is_loopback(host):
        advice = (
            "every /api/ request needs its API key"
            if key
            else "anyone who can reach this address can use the API; pass --api-key or --api-key-file"
        )
        err.print(f"[bold yellow]warning:[/] serving on {host}, not loopback: {advice}")
    config = ServerConfig(
        max_bytes=max_bytes,
        header_timeout=header_timeout,
        body_timeout=body_timeout,
        api_key=key,
        finder=str(finder) if finder is not None else None,
    )
    app = load_app(model, runtime, config)  # a bad model fails here, before the port is claimed
    from digitrec.serving.workers import WorkerPool, balanced_workers_supported

    if workers > 1 and not balanced_workers_supported():
        # Each of uvicorn's workers imports uvicorn_worker, which reads these settings.
        os.environ[WORKER_SETTINGS] = worker_settings(str(model), runtime, config)
        err.print(f"digitrec serving {model} ({runtime}) on http://{host}:{port} with {workers} workers (uvicorn's)")
        uvicorn.run(
            "digitrec.serving.uvicorn_worker:app",
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            http="digitrec.serving.uvicorn_worker:Protocol",
        )
        return
    from digitrec.serving.listen import claim_port

    claim = claim_port(host, port, workers)  # a taken port fails here, with one clear message
    try:
        if workers == 1:
            prepare_worker_process()
            err.print(f"digitrec serving {model} ({runtime}) on http://{host}:{port}  (API docs at /docs)")
            serve_on(app, claim.sockets[0], config)
            return
        del app  # each worker loads its own
        err.print(f"digitrec serving {model} ({runtime}) on http://{host}:{port} with {workers} workers")
        status = WorkerPool(model, runtime, config, claim).run()
    finally:
        claim.close()
    raise typer.Exit(status)
