import base64
import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from digitrec.recognizer import Recognizer
from digitrec.serving import app as app_module
from digitrec.serving.app import ServerConfig, create_app, load_app
from tests.preprocess.test_decode import _png_header_only, metadata_bomb


def png(array: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt)
    return buffer.getvalue()


def drawing() -> np.ndarray:
    page = np.full((120, 240), 255, np.uint8)
    page[20:100, 50:60] = 0  # a "1"
    page[20:30, 140:200] = 0  # a "7": bar and stem
    page[30:100, 150:160] = 0
    return page


@pytest.fixture(scope="module")
def client(tiny_run):
    return TestClient(create_app(Recognizer.load(tiny_run), ServerConfig(max_bytes=200_000)))


def _check_reading(body: dict, digits: int) -> None:
    assert len(body["text"]) == digits and len(body["digits"]) == digits
    assert body["text"] == "".join(str(d["digit"]) for d in body["digits"])
    for d in body["digits"]:
        assert {"digit", "confidence", "top3", "box", "probabilities", "image"} <= set(d)
        image = Image.open(io.BytesIO(base64.b64decode(d["image"])))
        assert image.size == (28, 28) and image.mode == "L"
        assert abs(sum(d["probabilities"]) - 1) < 1e-3


def test_health_model_docs_and_page(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    model = client.get("/api/v1/model").json()
    assert model["recipe"] == "fast" and model["runtime"] == "pytorch" and model["parameters"] > 0
    assert model["test_accuracy"] is None, "the tiny run was never evaluated on a labelled test set"
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/predict", "/api/v1/predict/pixels", "/api/v1/model", "/healthz"} <= set(paths)
    page = client.get("/")
    assert page.status_code == 200 and 'id="prediction"' in page.text
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200
    assert "http://" not in page.text.replace("http://www.w3.org", "") and "https://" not in page.text, "no CDN"


@pytest.mark.parametrize(
    "fmt, content_type", [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("PNG", "application/octet-stream")]
)
def test_predict_raw_bytes(client, fmt, content_type):
    r = client.post("/api/v1/predict", content=png(drawing(), fmt), headers={"Content-Type": content_type})
    assert r.status_code == 200, r.text
    _check_reading(r.json(), 2)
    boxes = [d["box"] for d in r.json()["digits"]]
    assert boxes[0][0] < boxes[1][0] and abs(boxes[0][0] - 50) <= 3


def test_predict_multipart(client):
    r = client.post("/api/v1/predict", files={"file": ("d.png", png(drawing()), "image/png")})
    assert r.status_code == 200, r.text
    _check_reading(r.json(), 2)


def test_predict_blank_has_a_warning(client):
    r = client.post(
        "/api/v1/predict", content=png(np.full((50, 50), 255, np.uint8)), headers={"Content-Type": "image/png"}
    )
    assert r.status_code == 200 and r.json()["text"] == "" and "no digit" in r.json()["warning"]


@pytest.mark.parametrize("scale", [255, 1])
@pytest.mark.parametrize("flat", [False, True])
def test_predict_pixels(client, scale, flat):
    image = np.zeros((28, 28))
    image[4:24, 12:16] = scale
    pixels = image.flatten().tolist() if flat else image.tolist()
    r = client.post("/api/v1/predict/pixels", json={"pixels": pixels})
    assert r.status_code == 200, r.text
    _check_reading(r.json(), 1)


BAD = [
    (
        "wrong content type",
        "/api/v1/predict",
        {"content": b"hello", "headers": {"Content-Type": "text/plain"}},
        415,
        "unsupported content type",
    ),
    (
        "no content type",
        "/api/v1/predict",
        {"content": b"hello", "headers": {"Content-Type": ""}},
        415,
        "unsupported content type",
    ),
    (
        "undecodable image",
        "/api/v1/predict",
        {"content": b"\x89PNG\r\n\x1a\n" + b"x" * 100, "headers": {"Content-Type": "image/png"}},
        400,
        "not an image|corrupt",
    ),
    (
        "too many bytes",
        "/api/v1/predict",
        {"content": b"\x00" * 300_000, "headers": {"Content-Type": "image/png"}},
        413,
        "over the limit",
    ),
    (
        "too many bytes, multipart",
        "/api/v1/predict",
        {"files": {"file": ("big.png", b"\x00" * 300_000, "image/png")}},
        413,
        "over the limit",
    ),
    (
        "too many pixels",
        "/api/v1/predict",
        {"content": _png_header_only(30000, 30000), "headers": {"Content-Type": "image/png"}},
        413,
        "megapixels",
    ),
    ("empty body", "/api/v1/predict", {"content": b"", "headers": {"Content-Type": "image/png"}}, 400, "empty"),
    ("multipart without a file", "/api/v1/predict", {"files": {"x": (None, "just text")}}, 400, "no file"),
    ("empty file", "/api/v1/predict", {"files": {"file": ("e.png", b"", "image/png")}}, 400, "empty"),
    (
        "pixels: wrong content type",
        "/api/v1/predict/pixels",
        {"content": b"1,2", "headers": {"Content-Type": "text/csv"}},
        415,
        "application/json",
    ),
    (
        "pixels: empty body",
        "/api/v1/predict/pixels",
        {"content": b"", "headers": {"Content-Type": "application/json"}},
        400,
        "empty",
    ),
    (
        "pixels: not JSON",
        "/api/v1/predict/pixels",
        {"content": b"{pixels", "headers": {"Content-Type": "application/json"}},
        400,
        "not valid JSON",
    ),
    ("pixels: wrong shape", "/api/v1/predict/pixels", {"json": {"pixels": [[0] * 27] * 28}}, 422, "shape"),
    ("pixels: ragged", "/api/v1/predict/pixels", {"json": {"pixels": [[0] * 28] * 27 + [[0] * 5]}}, 422, "pixels"),
    (
        "pixels: NaN",
        "/api/v1/predict/pixels",
        {"content": b'{"pixels": [NaN' + b", 0" * 783 + b"]}", "headers": {"Content-Type": "application/json"}},
        422,
        "NaN",
    ),
    ("pixels: out of range", "/api/v1/predict/pixels", {"json": {"pixels": [300] + [0] * 783}}, 422, "0-255"),
    ("pixels: negative", "/api/v1/predict/pixels", {"json": {"pixels": [-1] + [0] * 783}}, 422, "0-255"),
    ("pixels: strings", "/api/v1/predict/pixels", {"json": {"pixels": ["a"] * 784}}, 422, "numbers"),
    ("pixels: missing key", "/api/v1/predict/pixels", {"json": {"image": [0] * 784}}, 422, "pixels"),
    *[
        (
            f"{kind} bomb",
            "/api/v1/predict",
            {"content": metadata_bomb(kind), "headers": {"Content-Type": "image/png"}},
            400,
            "metadata",
        )
        for kind in ("zTXt", "iTXt", "iCCP")
    ],
    (
        "pixels: nested 2,000 deep",
        "/api/v1/predict/pixels",
        {"content": b'{"pixels": ' + b"[" * 2000 + b"]" * 2000 + b"}", "headers": {"Content-Type": "application/json"}},
        400,
        "nested too deeply",
    ),
    (
        "pixels: a 5,000-digit integer",
        "/api/v1/predict/pixels",
        {
            "content": b'{"pixels": [' + b"9" * 5000 + b", 0" * 783 + b"]}",
            "headers": {"Content-Type": "application/json"},
        },
        400,
        "not valid JSON",
    ),
    (
        "pixels: 10^400",
        "/api/v1/predict/pixels",
        {
            "content": b'{"pixels": [1' + b"0" * 400 + b", 0" * 783 + b"]}",
            "headers": {"Content-Type": "application/json"},
        },
        422,
        "0-255",
    ),
    ("pixels: numeric strings", "/api/v1/predict/pixels", {"json": {"pixels": ["1"] * 784}}, 422, "numbers.*strings"),
    ("pixels: booleans", "/api/v1/predict/pixels", {"json": {"pixels": [True] * 784}}, 422, "numbers.*true/false"),
    ("pixels: not a list", "/api/v1/predict/pixels", {"json": {"pixels": "0" * 784}}, 422, "numbers.*str"),
    ("pixels: empty", "/api/v1/predict/pixels", {"json": {"pixels": []}}, 422, "shape"),
    (
        "pixels: application/jsonx",
        "/api/v1/predict/pixels",
        {"content": b'{"pixels": [0]}', "headers": {"Content-Type": "application/jsonx"}},
        415,
        "application/json",
    ),
    (
        "image: image-ish type",
        "/api/v1/predict",
        {"content": b"hello", "headers": {"Content-Type": "imagex/png"}},
        415,
        "unsupported content type",
    ),
]


@pytest.mark.parametrize("case, path, kwargs, status, message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_gets_the_right_status_and_a_json_error(client, case, path, kwargs, status, message):
    import re

    r = client.post(path, **kwargs)
    assert r.status_code == status, (case, r.status_code, r.text)
    assert re.search(message, r.json()["error"]), r.json()


def test_model_is_loaded_once_at_start_up(tiny_run, monkeypatch):
    calls = []
    real = Recognizer.load.__func__

    def counting(cls, *args, **kwargs):
        calls.append(args)
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(app_module.Recognizer, "load", classmethod(counting))
    client = TestClient(load_app(tiny_run))
    assert len(calls) == 1
    for _ in range(3):
        r = client.post("/api/v1/predict", content=png(drawing()), headers={"Content-Type": "image/png"})
        assert r.status_code == 200 and len(r.json()["digits"]) == 2, r.text
    assert len(calls) == 1


def test_the_model_card_reports_the_runs_test_evaluation(tiny_run, tmp_path):
    import json
    import shutil

    run = shutil.copytree(tiny_run, tmp_path / "run")
    (run / "evaluation-test.json").write_text(json.dumps({"accuracy": 0.9912}))
    assert TestClient(load_app(run)).get("/api/v1/model").json()["test_accuracy"] == 0.9912
    (run / "evaluation-test.json").write_text(json.dumps({"accuracy": float("nan")}))
    assert TestClient(load_app(run)).get("/api/v1/model").json()["test_accuracy"] is None, "NaN is not JSON"


def test_the_pixel_limit_is_the_servers_own(tiny_run):
    """--max-pixels reaches the decoders of both paths (it was defined and never passed)."""
    client = TestClient(load_app(tiny_run, config=ServerConfig(max_pixels=10_000)))
    r = client.post("/api/v1/predict", content=png(drawing()), headers={"Content-Type": "image/png"})  # 240x120
    assert r.status_code == 413 and "over the limit of 0.01" in r.json()["error"], r.text
    small = drawing()[::3, ::3]  # 80x40
    assert client.post("/api/v1/predict", content=png(small), headers={"Content-Type": "image/png"}).status_code == 200


def test_bad_model_fails_at_start_up(tmp_path):
    from digitrec.errors import DigitrecError

    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(DigitrecError, match="not a readable ONNX model"):
        load_app(bad)


def test_an_onnx_model_with_bad_metadata_fails_at_start_up(onnx_path, tmp_path):
    """std 0 was accepted: the server started and every answer had confidence null."""
    import json

    import onnx

    from digitrec.artifacts.onnx import ONNX_METADATA_KEY
    from digitrec.errors import DigitrecError

    proto = onnx.load(str(onnx_path))
    for prop in proto.metadata_props:
        if prop.key == ONNX_METADATA_KEY:
            prop.value = json.dumps({**json.loads(prop.value), "normalization": {"mean": 0.1, "std": 0}})
    bad = tmp_path / "bad.onnx"
    onnx.save(proto, str(bad))
    with pytest.raises(DigitrecError, match="std must be a finite number above 0"):
        load_app(bad)


def test_the_openapi_schema_documents_every_error_and_is_as_strict_as_the_checks(client):
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path, statuses in (
        ("/api/v1/predict", {"400", "413", "415"}),
        ("/api/v1/predict/pixels", {"400", "413", "415", "422"}),
    ):
        responses = paths[path]["post"]["responses"]
        assert statuses <= set(responses), (path, set(responses))
        for status in statuses:
            assert responses[status]["content"]["application/json"]["schema"]["required"] == ["error"]
    pixels = paths["/api/v1/predict/pixels"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "properties"
    ]["pixels"]
    flat, rows = pixels["oneOf"]
    assert (flat["minItems"], flat["maxItems"]) == (784, 784) and flat["items"][
        "maximum"
    ] == 255  # [] is no longer valid
    assert (rows["minItems"], rows["items"]["maxItems"]) == (28, 28)


def test_a_wrong_method_gets_405_with_allow(client):
    r = client.get("/api/v1/predict")
    assert r.status_code == 405 and r.headers["allow"] == "POST" and r.json() == {"error": "Method Not Allowed"}


@pytest.mark.parametrize("path", ["/", "/healthz", "/api/v1/model", "/docs", "/static/app.js"])
def test_every_answer_carries_the_security_headers(client, path):
    headers = client.get(path).headers
    assert (
        "default-src 'self'" in headers["content-security-policy"]
        and "frame-ancestors 'none'" in headers["content-security-policy"]
    )
    assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
    assert (headers.get("cache-control") == "no-store") == path.startswith("/api/")


def test_the_api_docs_load_their_assets_from_the_package(client):
    """/docs loaded Swagger UI from a CDN: offline, it was a blank page."""
    import re

    page = client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(a.startswith("/static/") or a.startswith("data:") for a in assets), assets
    for asset in assets:
        if asset.startswith("/static/"):
            assert client.get(asset).status_code == 200, asset
    assert "<script>" not in page.text, "no inline script: the CSP allows none"


KEY = "k" * 24


@pytest.fixture(scope="module")
def keyed(tiny_run):
    return TestClient(create_app(Recognizer.load(tiny_run), ServerConfig(api_key=KEY)))


def test_with_an_api_key_every_api_request_must_carry_it(keyed):
    assert keyed.get("/api/v1/model").status_code == 401
    assert keyed.get("/api/v1/model", headers={"X-API-Key": "wrong" * 5}).status_code == 401
    r = keyed.post("/api/v1/predict/pixels", json={"pixels": [0] * 784})
    assert r.status_code == 401 and "API key" in r.json()["error"]
    assert keyed.get("/api/v1/model", headers={"X-API-Key": KEY}).status_code == 200
    assert keyed.get("/api/v1/model", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    for open_path in ("/healthz", "/", "/docs"):
        assert keyed.get(open_path).status_code == 200, open_path


def test_only_loopback_counts_as_private_and_keys_are_long_enough():
    from digitrec.errors import ConfigError
    from digitrec.serving.security import is_loopback, read_api_key

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2") and not is_loopback("example.org")
    with pytest.raises(ConfigError, match="at least 16"):
        read_api_key("short", None)


def test_the_api_key_comes_from_the_flag_or_a_file_never_both(tmp_path):
    from digitrec.errors import ConfigError
    from digitrec.serving.security import read_api_key

    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    assert read_api_key(None, key_file) == KEY and read_api_key(KEY, None) == KEY
    assert read_api_key(None, None) is None
    with pytest.raises(ConfigError, match="not both"):
        read_api_key(KEY, key_file)
    with pytest.raises(ConfigError, match=f"cannot read the API key file {tmp_path / 'missing'}"):
        read_api_key(None, tmp_path / "missing")
