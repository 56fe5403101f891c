"""The app for uvicorn's own workers, used by `digitrec serve --workers N` where the
balanced workers of workers.py are not available (not Linux): each worker process imports
this module, which rebuilds the server's settings that `serve` left in the environment
(`SETTINGS`), loads the model, and gives uvicorn the protocol with the same header and
body deadlines as the single-process server (`Protocol`)."""

import json
import os

from digitrec.processes import start_worker
from digitrec.serving.app import ServerConfig, load_app
from digitrec.serving.protocol import protocol_with

SETTINGS = "DIGITREC_SERVE"  # the environment variable: {"model", "runtime", "config"} as JSON

_settings = json.loads(os.environ[SETTINGS])
_config = ServerConfig.from_json(_settings["config"])
app = start_worker(lambda: load_app(_settings["model"], _settings["runtime"], _config))  # uvicorn stops its workers
Protocol = protocol_with(_config.header_timeout, _config.body_timeout)
