"""The app for uvicorn's own workers, used by `digitrec serve --workers N` where the
balanced workers of workers.py are not available (not Linux)."""

import os

from digitrec.processes import prepare_worker_process
from digitrec.serving.app import ServerConfig, load_app

app = load_app(
    os.environ["DIGITREC_SERVE_MODEL"],
    os.environ.get("DIGITREC_SERVE_RUNTIME", "auto"),
    ServerConfig(max_bytes=int(os.environ.get("DIGITREC_SERVE_MAX_BYTES", 10 * 1024 * 1024)), api_key=os.environ.get("DIGITREC_API_KEY"),
                 finder=os.environ.get("DIGITREC_SERVE_FINDER")),
)
prepare_worker_process()
