"""Metrics over data sets (and, later, figures and reports)."""

from digitrec.evaluation.metrics import EvalResult, evaluate, predict_logits

__all__ = ["EvalResult", "evaluate", "predict_logits"]
