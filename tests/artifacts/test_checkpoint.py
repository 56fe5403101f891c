import json
from itertools import pairwise

import pytest
import safetensors.torch
import torch

from digitrec.artifacts.checkpoint import (
    flatten_state,
    load_model,
    load_train_state,
    save_model_checkpoint,
    save_train_state,
    unflatten_state,
)
from digitrec.errors import CheckpointError
from digitrec.evaluation import predict_logits
from digitrec.models import ModelConfig, build_model
from digitrec.models.inputs import Normalization
from tests.helpers import synthetic_dataset

META = {
    "model": {"arch": "fastnet", "options": {"conv1": 8, "conv2": 16, "hidden": 32}},
    "normalization": {"mean": 0.1, "std": 0.3},
}


def _model():
    torch.manual_seed(0)
    return build_model(ModelConfig.from_dict(META["model"]))


def test_round_trip_gives_identical_predictions(tmp_path):
    model = _model()
    path = save_model_checkpoint(tmp_path / "m.safetensors", model, META)
    loaded = load_model(path)
    data = synthetic_dataset(64)
    norm = Normalization(0.1, 0.3)
    assert torch.equal(predict_logits(model, data.images, norm), predict_logits(loaded.model, data.images, norm))
    assert loaded.normalization == norm
    assert loaded.meta["versions"]["torch"] == torch.__version__
    assert not loaded.model.training


def test_checkpoint_is_plain_safetensors_with_json_metadata(tmp_path):
    """The file is safetensors' layout and nothing else: an 8-byte header length, a JSON
    header, then raw tensor bytes that the header's offsets cover exactly. A pickle or a
    zip (torch.save) has neither, so no code can run when a checkpoint is opened."""
    model = _model()
    path = save_model_checkpoint(tmp_path / "m.safetensors", model, META)
    raw = path.read_bytes()
    length = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + length])
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    ends = sorted(v["data_offsets"] for v in tensors.values())
    assert ends[0][0] == 0 and all(a[1] == b[0] for a, b in pairwise(ends))
    assert 8 + length + ends[-1][1] == len(raw), "the tensors fill the rest of the file"
    assert set(tensors) == set(model.state_dict())
    meta = json.loads(header["__metadata__"]["digitrec"])
    assert meta["model"]["arch"] == "fastnet" and meta["classes"] == list(range(10))


def test_truncated_checkpoint(tmp_path):
    path = save_model_checkpoint(tmp_path / "m.safetensors", _model(), META)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="not a readable safetensors checkpoint"):
        load_model(path)


def test_garbage_file(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"\x80\x04\x95 a pickle, which we never load")
    with pytest.raises(CheckpointError, match="not a readable safetensors checkpoint"):
        load_model(path)


def test_foreign_safetensors_file(tmp_path):
    path = tmp_path / "other.safetensors"
    safetensors.torch.save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="not a digitrec checkpoint"):
        load_model(path)


def test_weights_that_do_not_fit_the_architecture(tmp_path):
    meta = {**META, "model": {"arch": "mlp", "options": {}}}
    path = save_model_checkpoint(tmp_path / "m.safetensors", _model(), meta)
    with pytest.raises(CheckpointError, match="weights do not fit architecture 'mlp'"):
        load_model(path)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "none.safetensors")


def test_nested_state_round_trip_keeps_types():
    model = _model()
    opt = torch.optim.Adam(model.parameters())
    model(torch.rand(2, 1, 28, 28)).sum().backward()
    opt.step()
    state = {"opt": opt.state_dict(), "t": (1, 2.5, None), "rng": torch.get_rng_state(), "inf": float("-inf")}
    tensors: dict = {}
    skeleton = json.loads(json.dumps(flatten_state(state, tensors)))
    back = unflatten_state(skeleton, tensors)
    assert back["t"] == (1, 2.5, None) and back["inf"] == float("-inf")
    assert set(back["opt"]["state"]) == set(state["opt"]["state"])  # integer keys survive JSON
    assert torch.equal(back["rng"], state["rng"])
    opt.load_state_dict(back["opt"])


def test_train_state_file_round_trip(tmp_path):
    path = save_train_state(tmp_path / "s.safetensors", {"epoch": 3, "w": torch.arange(4)})
    back = load_train_state(path)
    assert back["epoch"] == 3 and torch.equal(back["w"], torch.arange(4))


def rewrite_meta(path, change) -> None:
    """The checkpoint at `path` with its metadata passed through `change`."""
    with safetensors.safe_open(str(path), "pt") as f:
        meta = json.loads(f.metadata()["digitrec"])
        # safe_open has keys() but is not iterable itself
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    safetensors.torch.save_file(tensors, str(path), metadata={"digitrec": json.dumps(change(meta))})


def without(key):
    return lambda meta: {k: v for k, v in meta.items() if k != key}


def setting(key, value):
    return lambda meta: {**meta, key: value}


BAD_METADATA = [
    ("no normalization", without("normalization"), "no normalization"),
    ("normalization a string", setting("normalization", "0.1/0.3"), "normalization is str"),
    ("std of 0", setting("normalization", {"mean": 0.1, "std": 0}), "std must be a finite number above 0"),
    ("NaN mean", setting("normalization", {"mean": float("nan"), "std": 0.3}), "std must be a finite number above 0"),
    ("metadata a list", lambda meta: [meta], "metadata is a JSON list"),
    ("no model", without("model"), "no model description"),
    (
        "hidden of 400,000",
        lambda meta: {**meta, "model": {"arch": "fastnet", "options": {"conv1": 8, "conv2": 16, "hidden": 400_000}}},
        "hidden is 400000, outside",
    ),
    ("classes not digits", setting("classes", ["a"] * 10), "classes must be a list of the 10 digits"),
    ("unknown kind", setting("kind", "detector"), "kind is 'detector'"),
    ("reader without a stride", lambda meta: {**meta, "kind": "reader"}, "a reader's stride must be a whole number"),
    (
        "reader's blank last",
        lambda meta: {**meta, "kind": "reader", "stride": 4, "blank": 10},
        r"must be the blank \(0\), then the digits",
    ),
    (
        "reader of letters",
        lambda meta: {**meta, "kind": "reader", "stride": 4, "alphabet": "abcdefghij"},
        "alphabet 'abcdefghij'",
    ),
]


@pytest.mark.parametrize("case, change, message", BAD_METADATA, ids=[c[0] for c in BAD_METADATA])
def test_bad_metadata_is_refused_at_load_with_one_sentence(tmp_path, case, change, message):
    path = save_model_checkpoint(tmp_path / "m.safetensors", _model(), META)
    rewrite_meta(path, change)
    with pytest.raises(CheckpointError, match=message):
        load_model(path)


def test_a_wider_architecture_than_the_weights_is_refused_before_it_is_built(tmp_path, monkeypatch):
    """hidden=40,000 in the metadata of 32-wide weights: the shapes are compared on the meta
    device, so the 40,000-wide model (1.2 GB of float32 for its first layer) is never built."""
    import digitrec.artifacts.checkpoint as checkpoint

    path = save_model_checkpoint(tmp_path / "m.safetensors", _model(), META)
    rewrite_meta(
        path,
        lambda meta: {**meta, "model": {"arch": "fastnet", "options": {"conv1": 8, "conv2": 16, "hidden": 40_000}}},
    )
    built = []
    real = checkpoint.build_model
    monkeypatch.setattr(
        checkpoint, "build_model", lambda config: built.append(torch.empty(0).device.type) or real(config)
    )
    with pytest.raises(CheckpointError, match=r"do not fit architecture 'fastnet'.*in the file"):
        load_model(path)
    assert built == ["meta"]  # only the skeleton, on the meta device


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_weights_with_nan_or_infinity_are_refused(tmp_path, value):
    model = _model()
    with torch.no_grad():
        next(model.parameters())[0].fill_(value)
    path = save_model_checkpoint(tmp_path / "m.safetensors", model, META)
    with pytest.raises(CheckpointError, match="NaN or infinite"):
        load_model(path)


def test_an_onnx_export_given_to_a_pytorch_command_says_what_it_is(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x08\x07")
    with pytest.raises(CheckpointError, match="is an ONNX export"):
        load_model(path)
