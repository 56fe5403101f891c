"""A Kaggle Digit Recognizer submission from a saved model."""

from __future__ import annotations

from pathlib import Path

from digitrec.artifacts.checkpoint import load_model
from digitrec.data.kaggle import read_kaggle_csv, write_submission
from digitrec.errors import DataError
from digitrec.evaluation.checkpoints import predict_classes


def kaggle_submission(
    run_or_checkpoint: str | Path, test_csv: str | Path, out: str | Path, device: str = "auto"
) -> dict:
    """Predict every row of Kaggle's test.csv and write `ImageId,Label` to `out`."""
    if Path(out).resolve() == Path(test_csv).resolve():
        raise DataError(f"--out {out} would overwrite the test file; write the submission elsewhere")
    loaded = load_model(run_or_checkpoint, device)
    data = read_kaggle_csv(test_csv, labelled=False)
    predictions = predict_classes(loaded, data)
    write_submission(out, predictions)
    counts = predictions.bincount(minlength=10).tolist()
    return {"out": str(out), "rows": len(data), "model": str(loaded.path), "predicted_class_counts": counts}
