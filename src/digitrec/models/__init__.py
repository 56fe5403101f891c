"""Architectures: the tutorials' five with Keras semantics, and digitrec's own."""

from digitrec.models import finder, ours, reader, tutorials  # noqa: F401  (registers the architectures)
from digitrec.models.registry import ARCHITECTURES, ModelConfig, build_model, count_parameters
from digitrec.models.summary import format_summary, summarize

__all__ = ["ARCHITECTURES", "ModelConfig", "build_model", "count_parameters", "format_summary", "summarize"]
