"""The Ray engine: the same job on Ray Data, on this machine or a cluster.

The driver streams the inputs in blocks; each block becomes a dataset of paths whose
`map_batches` runs on a pool of actors, each with the model loaded once (on a GPU when
the cluster has them), reading its pictures itself: local paths on a shared filesystem,
or object storage (`s3://...`) through pyarrow's filesystems. Results come back to the
driver in input order (`preserve_order`) and go to the same writers as the local
engine's, so the output file, and resuming it, are the same.

Needs the optional extra: pip install 'digitrec[cluster]'.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from digitrec.batch.inputs import PictureFile, chunked
from digitrec.batch.local import CHUNK
from digitrec.batch.rows import COLUMNS, ReaderSpec, Row, read_row
from digitrec.errors import DigitrecError

# --- tuning --------------------------------------------------------------------------
BLOCK = 50_000  # paths per dataset: bounds the driver's memory; actors restart per block (~1 s)
LOCAL_OBJECT_STORE = 256 << 20  # bytes for a local Ray's object store: paths and rows are small


class ReaderActor:
    """One Ray actor: the model loaded once, then batches of paths in, rows out."""

    def __init__(self, spec: ReaderSpec):
        from digitrec.processes import start_worker

        self.recognizer = start_worker(spec.load)  # Ray stops its actors with the job
        self.spec = spec

    def __call__(self, batch: dict) -> dict:
        rows = [
            read_row(self.recognizer, PictureFile(str(path), str(problem) or None), self.spec)
            for path, problem in zip(batch["path"], batch["problem"])
        ]
        return {c: [getattr(r, c) for r in rows] for c in COLUMNS}


def start_ray(address: str | None, workers: int):
    try:
        import ray
    except ImportError:
        raise DigitrecError("--engine ray needs Ray: pip install 'digitrec[cluster]'") from None
    if ray.is_initialized():
        return ray, False
    if address is None:  # a Ray of our own on this machine, gone when the job ends
        ray.init(
            num_cpus=workers,
            include_dashboard=False,
            log_to_driver=False,
            object_store_memory=LOCAL_OBJECT_STORE,
            configure_logging=False,
        )
    else:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    return ray, True


def read_ray(
    pictures: Iterator[PictureFile], spec: ReaderSpec, workers: int, address: str | None
) -> Iterator[list[Row]]:
    ray, started = start_ray(address, workers)
    try:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # rows in input order, as the local engine writes them
        context.enable_progress_bars = context.print_on_execution_start = False  # digitrec draws its own bar
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        gpus = ray.cluster_resources().get("GPU", 0)
        if gpus and spec.device == "cpu":
            from dataclasses import replace

            spec = replace(spec, device="cuda")
        actors = int(gpus) if gpus else (int(ray.cluster_resources().get("CPU", workers)) if address else workers)
        for block in chunked(pictures, BLOCK):
            items = [{"path": p.path, "problem": p.problem or ""} for p in block]
            dataset = ray.data.from_items(items).map_batches(
                ReaderActor,
                fn_constructor_args=(spec,),
                batch_size=CHUNK,
                compute=ray.data.ActorPoolStrategy(size=actors),
                num_gpus=1 if gpus else 0,
                num_cpus=0 if gpus else 1,
                batch_format="numpy",
            )
            for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                yield [Row(**{c: _plain(batch[c][i]) for c in COLUMNS}) for i in range(len(batch["path"]))]
    finally:
        if started:
            ray.shutdown()


def _plain(value):
    """numpy scalars from Ray's batches back to Python's str and float."""
    return value.item() if hasattr(value, "item") else value
