"""The app for uvicorn's own workers, used by `digitrec serve --workers N` where the
balanced workers of workers.py are not available (not Linux): each worker process imports
this module, which rebuilds the server's settings that `serve` left in the environment
(`config.WORKER_SETTINGS`), loads the model, and gives uvicorn the protocol with the same header and
body deadlines as the single-process server (`Protocol`)."""

import os

from digitrec.processes import start_worker
from digitrec.serving.app import load_app
from digitrec.serving.config import WORKER_SETTINGS, from_worker_settings
from digitrec.serving.protocol import protocol_with

_model, _runtime, _config = from_worker_settings(os.environ[WORKER_SETTINGS])
app = start_worker(lambda: load_app(_model, _runtime, _config))  # uvicorn stops its workers
Protocol = protocol_with(_config.header_timeout, _config.body_timeout)
