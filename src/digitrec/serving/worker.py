"""The app for `digitrec serve --workers N`: each worker process loads the model once."""

import os

from digitrec.serving.app import ServerConfig, load_app

app = load_app(
    os.environ["DIGITREC_SERVE_MODEL"],
    os.environ.get("DIGITREC_SERVE_RUNTIME", "auto"),
    ServerConfig(max_bytes=int(os.environ.get("DIGITREC_SERVE_MAX_BYTES", 10 * 1024 * 1024))),
)
