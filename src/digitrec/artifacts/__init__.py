"""Model artefacts: the one checkpoint format and `load_model` (checkpoint.py), and ONNX
export (onnx.py). Imports only `digitrec.models`, so anything that runs a model can use it."""
