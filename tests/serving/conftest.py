import pytest

from digitrec.artifacts.onnx import export_onnx


@pytest.fixture(scope="session")
def onnx_path(tiny_run, tmp_path_factory):
    """tiny_run exported to ONNX: a server on it starts without importing PyTorch."""
    return export_onnx(tiny_run, tmp_path_factory.mktemp("onnx") / "model.onnx")
