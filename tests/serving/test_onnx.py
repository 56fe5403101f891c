import json
import re
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest

from digitrec.artifacts.onnx import export_onnx
from digitrec.errors import CheckpointError, ConfigError
from digitrec.recognizer import Recognizer
from digitrec.runtime import OnnxClassifier
from digitrec.shipped import CLASSIFIER, shipped


def test_export_carries_normalisation_and_classes(onnx_path, tiny_run):
    model = onnx.load(str(onnx_path))
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["normalization"]) == {"mean": 0.1307, "std": 0.3081}
    assert json.loads(props["classes"]) == list(range(10))
    card = json.loads(props["digitrec"])
    assert card["recipe"] == "fast" and card["model"]["arch"] == "fastnet"
    assert [i.name for i in model.graph.input] == ["input"]


def test_onnx_and_pytorch_agree_on_synthetic_digits(onnx_path, tiny_run):
    from tests.helpers import synthetic_digits

    images, _ = synthetic_digits(200, seed=9)
    p_onnx = Recognizer.load(onnx_path).classify(images)
    p_torch = Recognizer.load(tiny_run).classify(images)
    assert (p_onnx.argmax(1) == p_torch.argmax(1)).all()
    assert np.abs(p_onnx - p_torch).max() < 1e-4


def best_kind():
    """`best`'s kind of model: batch norm folded at export, the EMA weights in the checkpoint."""
    from digitrec.models import ModelConfig
    from digitrec.training import get_recipe

    return get_recipe("best").with_overrides(model=ModelConfig("vggnet", {"width": 4}), epochs=2, batch_size=32)


def resnet_kind():
    """`best-resnet`'s kind of model: residual additions and global average pooling."""
    from digitrec.models import ModelConfig
    from digitrec.training import get_recipe

    return get_recipe("best-resnet").with_overrides(model=ModelConfig("resnet", {"width": 4}), epochs=2, batch_size=32)


def quick_kind():
    """`quick`'s kind of model: its fixed first layer's filters are buffers, which the export carries."""
    from digitrec.training import get_recipe

    return get_recipe("quick").with_overrides(batch_size=32)


@pytest.mark.parametrize(
    "recipe", [best_kind, resnet_kind, quick_kind], ids=["batch-norm-ema", "residual", "whitened-first-layer"]
)
def test_a_trained_model_exports_and_onnx_runtime_agrees(tmp_path, recipe):
    from digitrec.training import RunOptions, train_recipe
    from tests.helpers import synthetic_digits, write_kaggle_root

    root = write_kaggle_root(tmp_path / "data", n_train=300, n_test=10)
    train_recipe(recipe(), RunOptions(dataset="kaggle", device="cpu"), tmp_path / "run", root)
    path = export_onnx(tmp_path / "run", tmp_path / "model.onnx")
    images, _ = synthetic_digits(200, seed=9)
    p_onnx = Recognizer.load(path).classify(images)
    p_torch = Recognizer.load(tmp_path / "run").classify(images)
    assert (p_onnx.argmax(1) == p_torch.argmax(1)).all()
    assert np.abs(p_onnx - p_torch).max() < 1e-4


@pytest.mark.mnist
def test_parity_on_all_10000_test_images(mnist_test, tmp_path):
    path = export_onnx(shipped(CLASSIFIER), tmp_path / "m.onnx")
    images = mnist_test.images.numpy()
    p_onnx = Recognizer.load(path).classify(images)
    p_torch = Recognizer.load(shipped(CLASSIFIER)).classify(images)
    assert (p_onnx.argmax(1) == p_torch.argmax(1)).all(), "the same class on every test image"
    assert np.abs(p_onnx - p_torch).max() < 1e-4


def test_onnx_without_digitrec_metadata(onnx_path, tmp_path):
    model = onnx.load(str(onnx_path))
    del model.metadata_props[:]
    plain = tmp_path / "plain.onnx"
    onnx.save(model, str(plain))
    with pytest.raises(CheckpointError, match="without digitrec metadata"):
        OnnxClassifier(plain)


def run_without_torch(body: str) -> str:
    """Run `body` in a fresh Python where `import torch` fails; returns what it printed."""
    script = (
        textwrap.dedent("""
        import sys
        class NoTorch:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is blocked in this test")
        sys.meta_path.insert(0, NoTorch())
    """)
        + textwrap.dedent(body)
        + '\nassert "torch" not in sys.modules\n'
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_server_on_onnx_runs_without_pytorch(onnx_path, tmp_path):
    """Block `import torch` entirely, then serve the export and read a picture."""
    from PIL import Image

    picture = tmp_path / "d.png"
    page = np.full((100, 100), 255, np.uint8)
    page[20:80, 45:55] = 0
    Image.fromarray(page).save(picture)
    printed = run_without_torch(f"""
        from fastapi.testclient import TestClient
        from digitrec.serving.app import load_app
        client = TestClient(load_app({str(onnx_path)!r}, runtime="onnx"))
        r = client.post(
            "/api/v1/predict", content=open({str(picture)!r}, "rb").read(), headers={{"Content-Type": "image/png"}}
        )
        assert r.status_code == 200, r.text
        assert client.get("/api/v1/model").json()["runtime"] == "onnxruntime"
        print("ok", r.json()["text"])
    """)
    # the stroke read as one digit (the tiny model is no judge of which)
    assert re.fullmatch(r"ok \d", printed.strip()), printed


def test_export_cli(capsys, tiny_run, tmp_path):
    from digitrec.cli import main

    assert main(["export", str(tiny_run), "--format", "onnx", "--out", str(tmp_path / "x.onnx"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["bytes"] > 1000 and (tmp_path / "x.onnx").exists()
    assert main(["export", str(tiny_run), "--format", "tflite"]) == 1


@pytest.fixture(scope="module")
def reader_onnx(tmp_path_factory):
    from digitrec.shipped import READER, shipped

    return export_onnx(shipped(READER), tmp_path_factory.mktemp("onnx") / "reader.onnx")


def test_the_reader_exports_and_onnx_runtime_reads_its_strips_as_pytorch_does(reader_onnx):
    from digitrec.runtime import OnnxReader, load_runtime_model
    from digitrec.shipped import READER

    onnx_reader, torch_reader = load_runtime_model(reader_onnx), load_runtime_model(READER)
    assert isinstance(onnx_reader, OnnxReader) and onnx_reader.meta["kind"] == "reader"
    rng = np.random.default_rng(0)
    height = torch_reader.meta["input"]["shape"][1]  # a strip's, or a whole field's
    strips = [
        (rng.random((height, w)) ** 3 * 255).astype(np.uint8) for w in (9, 40, 64, 131, 250)
    ]  # any width, one batch
    for (a, boxes_a), (b, boxes_b) in zip(onnx_reader.read_columns(strips), torch_reader.read_columns(strips)):
        assert a.shape == b.shape and np.abs(a - b).max() < 1e-4
        assert (a.argmax(1) == b.argmax(1)).all()
        assert (boxes_a is None) == (boxes_b is None) and (boxes_a is None or np.abs(boxes_a - boxes_b).max() < 1e-4)


@pytest.fixture(scope="module")
def finder_onnx(tmp_path_factory):
    from digitrec.shipped import FINDER

    return export_onnx(FINDER, tmp_path_factory.mktemp("onnx") / "finder.onnx")


def test_the_finder_exports_and_onnx_runtime_finds_the_boxes_pytorch_does(finder_onnx):
    from digitrec.layout import NumberFinderRuntime
    from digitrec.shipped import FINDER
    from tests.pictures import paper

    onnx_finder, torch_finder = NumberFinderRuntime.load(finder_onnx), NumberFinderRuntime.load(FINDER)
    assert (onnx_finder.runtime, torch_finder.runtime) == ("onnxruntime", "pytorch")
    import cv2

    sheet = paper(500, 300, seed=3).astype(np.uint8)
    cv2.putText(sheet, "2071", (60, 120), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 30, 5)
    cv2.putText(sheet, "58", (300, 250), cv2.FONT_HERSHEY_SIMPLEX, 1.5, 30, 4)
    found, expected = onnx_finder.find(sheet), torch_finder.find(sheet)
    assert found.boxes == expected.boxes and len(found.boxes) >= 1
    assert np.allclose(found.scores, expected.scores, atol=1e-4)


def test_a_reader_cut_by_a_finder_is_not_served_without_one(reader_onnx):
    with pytest.raises(ConfigError, match="cut by a number finder: pass one with --finder"):
        Recognizer.load(reader_onnx, runtime="onnx")


def test_a_server_on_the_reader_export_reads_numbers_without_pytorch(reader_onnx, finder_onnx, tmp_path):
    import cv2

    picture = tmp_path / "n.png"
    page = np.full((120, 300), 250, np.uint8)
    cv2.putText(page, "47", (100, 90), cv2.FONT_HERSHEY_SIMPLEX, 2.5, 20, 6)
    cv2.imwrite(str(picture), page)
    printed = run_without_torch(f"""
        from fastapi.testclient import TestClient
        from digitrec.serving.app import load_app
        from digitrec.serving.app import ServerConfig
        client = TestClient(
            load_app({str(reader_onnx)!r}, runtime="onnx", config=ServerConfig(finder={str(finder_onnx)!r}))
        )
        r = client.post(
            "/api/v1/predict", content=open({str(picture)!r}, "rb").read(), headers={{"Content-Type": "image/png"}}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["numbers"]) == 1 and body["numbers"][0]["box"][2] > 0, body
        # no classifier beside it
        assert client.post("/api/v1/predict/pixels", json={{"pixels": [0] * 784}}).status_code == 501
        print("ok", body["text"])
    """)
    assert printed.strip() == "ok 47"
