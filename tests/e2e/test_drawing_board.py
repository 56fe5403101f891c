"""The drawing board in a real headless Chromium (Debian's), driven by Playwright."""

import math
import socket
import threading
import time

import numpy as np
import pytest

from digitrec.shipped import CLASSIFIER, READER, shipped
from tests.e2e.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.mnist]

CANVAS_W, CANVAS_H = 560, 280  # the canvas's own pixels (see static/index.html)


def serve_in_thread(model):
    """The app of `model` on a free loopback port in a thread: yields its URL, then stops it."""
    import uvicorn

    from digitrec.serving.app import load_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(load_app(model), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)  # polls uvicorn's own flag: the server says when it listens
    assert srv.started, "the server did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def server():
    """The page on the shipped digit classifier alone: drawings go through the digit path."""
    yield from serve_in_thread(shipped(CLASSIFIER))


def csp_violations(page) -> list[str]:
    """Console messages of the Content-Security-Policy refusing something of the page's
    own: the page must need nothing the policy forbids (inline script, eval, a CDN)."""
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text) if "Content Security Policy" in m.text else None)
    return found


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1000, "height": 720})
    page = context.new_page()
    violations = csp_violations(page)
    page.goto(server + "/")
    page.wait_for_selector("#canvas")
    yield page
    context.close()
    assert not violations, violations


def test_the_api_docs_render_offline_under_the_policy(browser, server):
    """/docs loaded Swagger UI from a CDN; now from the package (Swagger UI 5: FastAPI's
    schema is OpenAPI 3.1, which Swagger UI 4 refuses to render), with no inline script."""
    context = browser.new_context()
    page = context.new_page()
    violations = csp_violations(page)
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((server, "data:", "blob:")) else None)
    page.goto(server + "/docs")
    page.get_by_text("/api/v1/predict/pixels", exact=True).first.wait_for(
        timeout=15_000
    )  # Swagger UI rendered the schema
    context.close()
    assert not violations, violations
    assert not outside, outside


def stroke(page, points, lift: bool = True):
    """Draw one stroke with the mouse through `points`, given in canvas pixels; with
    `lift` False the pen stays down at the end (the person is still drawing)."""
    box = page.locator("#canvas").bounding_box()
    sx, sy = box["width"] / CANVAS_W, box["height"] / CANVAS_H
    page.mouse.move(box["x"] + points[0][0] * sx, box["y"] + points[0][1] * sy)
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x * sx, box["y"] + y * sy, steps=6)
    if lift:
        page.mouse.up()


def one(x):
    return [[(x, 50), (x - 4, 235)]]


def zero(x):
    return [[(x + 45 * math.sin(t), 140 - 90 * math.cos(t)) for t in np.linspace(0, 2 * math.pi, 40)]]


def seven(x):
    return [[(x - 50, 55), (x + 50, 55), (x - 15, 235)]]


def read(page):
    from playwright.sync_api import expect

    # The page marks its body "idle" once its latest reading is shown. An assertion that
    # polls, not wait_for_function: that evaluates a string in the page, which the page's
    # Content-Security-Policy (no eval) rightly refuses.
    expect(page.locator("body")).to_have_attribute("data-state", "idle", timeout=10_000)
    return page.text_content("#prediction")


def clear(page):
    page.click("#clear")
    assert page.text_content("#prediction") == ""


@pytest.mark.parametrize("digit, strokes", [("1", one(280)), ("0", zero(280)), ("7", seven(280))])
def test_draw_a_digit_and_read_it(page, digit, strokes):
    for s in strokes:
        stroke(page, s)
    assert read(page) == digit
    bars = page.locator(".digit .bar")
    assert bars.count() == 10
    top = page.locator(".digit .bar.top")
    assert top.get_attribute("data-digit") == digit and float(top.get_attribute("data-probability")) > 0.5
    assert page.locator(".digit img").get_attribute("src").startswith("data:image/png;base64,")


def test_two_digit_number_reads_left_to_right(page):
    for s in seven(400) + one(150):  # drawn right digit first: order comes from position
        stroke(page, s)
    assert read(page) == "17"
    assert page.locator(".digit").count() == 2


def test_a_reply_to_an_older_drawing_does_not_end_the_reading(page):
    """The reply for the 7 alone comes while the person is drawing the 1: it may show, but
    the page must not say "idle" over it (CI once read "7" for "17" that way)."""
    held = []  # the first read is held until the second stroke is under way; later ones pass
    page.route("**/api/v1/predict", lambda route: held.append(route) if not held else route.continue_())
    page.evaluate(
        """() => { window.shownWhenIdle = [];
        document.addEventListener("digitrec:read",
          () => window.shownWhenIdle.push(document.getElementById("prediction").textContent)); }"""
    )
    with page.expect_request("**/api/v1/predict"):
        stroke(page, seven(400)[0])
    stroke(page, one(150)[0], lift=False)  # the pen stays down: a read is due
    with page.expect_response("**/api/v1/predict"):
        held[0].continue_()
    page.mouse.up()
    assert read(page) == "17"
    assert set(page.evaluate("window.shownWhenIdle")) == {"17"}


def test_clear_and_undo(page):
    for s in one(150) + zero(400):
        stroke(page, s)
    assert read(page) == "10"
    page.click("#undo")
    assert read(page) == "1"
    clear(page)
    assert page.locator(".digit").count() == 0
    stroke(page, one(280)[0])
    assert read(page) == "1"
    page.focus("#clear")  # the buttons work from the keyboard
    page.keyboard.press("Enter")
    assert page.text_content("#prediction") == ""


def test_upload_a_photo(page, mnist_test, tmp_path):
    from tests.pictures import encode, paper, paste_digit, shadow

    digit, label = mnist_test.images[0].numpy(), int(mnist_test.labels[0])
    sheet = paper(640, 480, seed=3)
    paste_digit(sheet, digit, 250, 120, 220)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(encode(shadow(sheet), "JPEG", rotate=3, quality=70))
    page.set_input_files("#photo", str(photo))
    assert read(page) == str(label)
    assert page.locator(".digit .bar").count() == 10
    heights = [float(b.get_attribute("data-probability")) for b in page.locator(".digit .bar").all()]
    assert abs(sum(heights) - 1) < 0.01 and heights.index(max(heights)) == label


def test_page_controls_are_labelled_and_drawing_does_not_scroll(page):
    assert page.eval_on_selector("#canvas", "c => getComputedStyle(c).touchAction") == "none"
    for control in ("#pen", "#photo"):
        assert page.locator(f"label[for={control[1:]}]").count() == 1
    assert page.get_attribute("#photo", "capture") == "environment"
    for button in ("#undo", "#clear"):
        assert page.locator(button).evaluate("b => b.tagName") == "BUTTON"


def test_phone_width_and_screenshot(browser, server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, has_touch=True)
    page = context.new_page()
    page.goto(server + "/")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390, "no sideways scrolling on a phone"
    for s in seven(300) + one(120):
        stroke(page, s)
    assert read(page) == "17"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "drawing-board-phone.png"), full_page=True)
    context.close()


def test_desktop_screenshot_for_a_person(page):
    for s in seven(400) + zero(150):
        stroke(page, s)
    assert read(page) == "07"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / "drawing-board.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000


@pytest.fixture(scope="module")
def reader_server():
    """The shipped models, as `digitrec serve` starts with no --model."""
    yield from serve_in_thread(shipped(READER))


def test_upload_a_photo_of_a_number_and_see_its_box_and_text(browser, reader_server, mnist_test, tmp_path):
    from tests.pictures import encode, paper, paste_digit, shadow

    digits = {int(mnist_test.labels[i]): mnist_test.images[i].numpy() for i in range(40)}
    text = "2071"
    sheet = paper(800, 500, seed=4)
    boxes = [paste_digit(sheet, digits[int(c)], 220 + 70 * i, 190, 90) for i, c in enumerate(text)]
    photo = tmp_path / "number.jpg"
    photo.write_bytes(encode(shadow(sheet), "JPEG", quality=80))
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    page = context.new_page()
    page.goto(reader_server + "/")
    page.set_input_files("#photo", str(photo))
    page.wait_for_selector("#photo-view .box", timeout=15_000)
    assert page.text_content("#prediction") == text
    box = page.locator("#photo-view .box")
    assert box.count() == 1 and box.get_attribute("data-text") == text
    # The box drawn on the photo covers the number: compare it with the digits' own boxes, in screen pixels.
    shown = page.locator("#photo-image").bounding_box()
    scale = shown["width"] / 800
    drawn = box.bounding_box()
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
    assert drawn["x"] <= shown["x"] + x0 * scale + 4 and drawn["x"] + drawn["width"] >= shown["x"] + x1 * scale - 4
    assert drawn["y"] <= shown["y"] + y0 * scale + 4 and drawn["y"] + drawn["height"] >= shown["y"] + y1 * scale - 4
    assert page.locator("#numbers li.number").count() == 1
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "photo-upload.png"), full_page=True)
    context.close()
    phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, has_touch=True)
    page = phone.new_page()
    page.goto(reader_server + "/")
    page.set_input_files("#photo", str(photo))
    page.wait_for_selector("#photo-view .box", timeout=15_000)
    assert page.text_content("#prediction") == text
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390, "no sideways scrolling on a phone"
    page.screenshot(path=str(SCREENSHOTS / "photo-upload-phone.png"), full_page=True)
    phone.close()


def test_one_input_at_a_time_and_it_says_which(page, mnist_test, tmp_path):
    from tests.pictures import encode, paper, paste_digit

    for s in one(150):
        stroke(page, s)
    assert read(page) == "1"
    assert page.get_attribute("#result", "data-source") == "drawing"
    sheet = paper(640, 480, seed=5)
    paste_digit(sheet, mnist_test.images[0].numpy(), 250, 120, 220)
    photo = tmp_path / "my photo.png"
    photo.write_bytes(encode(sheet, "PNG"))
    page.set_input_files("#photo", str(photo))
    assert read(page) == str(int(mnist_test.labels[0]))
    assert page.get_attribute("#result", "data-source") == "photo"
    assert "my photo.png" in page.text_content("#source")
    ink = page.locator("#canvas").evaluate(
        "c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data"
        ".filter((v, i) => i % 4 === 0 && v < 128).length"
    )
    assert ink == 0, "the old drawing is still on the canvas beside the photo's answer"
    stroke(page, one(280)[0])  # drawing again replaces the photo
    assert read(page) == "1"
    assert page.get_attribute("#result", "data-source") == "drawing" and page.locator("#photo-view").is_hidden()


def canned_reading(numbers: list[tuple[str, float]]) -> dict:
    """An API answer of these numbers, as /api/v1/predict gives it."""
    import base64

    import cv2

    png = base64.b64encode(cv2.imencode(".png", np.zeros((28, 28), np.uint8))[1].tobytes()).decode()
    digits, entries = [], []
    for i, (text, confidence) in enumerate(numbers):
        mine = [
            {
                "digit": int(c),
                "confidence": confidence,
                "top3": [[int(c), confidence]],
                "box": [10 * j, 40 * i, 8, 20],
                "probabilities": [confidence if k == int(c) else (1 - confidence) / 9 for k in range(10)],
                "image": png,
            }
            for j, c in enumerate(text)
        ]
        digits += mine
        entries.append({"text": text, "confidence": confidence, "box": [0, 40 * i, 60, 30], "digits": mine})
    return {
        "text": " ".join(t for t, _ in numbers),
        "confidence": float(np.prod([c for _, c in numbers])),
        "digits": digits,
        "numbers": entries,
    }


def answer_with(page, body: dict) -> None:
    import json

    page.route(
        "**/api/v1/predict",
        lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps(body)),
    )


def test_an_unsure_answer_looks_unsure_and_says_what_to_do(page):
    answer_with(page, canned_reading([("38", 0.41)]))
    stroke(page, one(150)[0])
    assert read(page) == "38"
    prediction = page.locator("#prediction")
    assert "unsure" in prediction.get_attribute("class")
    assert prediction.evaluate("p => getComputedStyle(p).fontWeight") == "400"  # not the sure answer's bold
    assert "write the number again" in page.text_content("#unsure") and page.locator("#unsure").is_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "unsure-answer.png"), full_page=True)
    answer_with(page, canned_reading([("38", 0.97)]))
    stroke(page, one(300)[0])
    assert read(page) == "38"
    assert "unsure" not in (prediction.get_attribute("class") or "") and page.locator("#unsure").is_hidden()
    assert prediction.evaluate("p => getComputedStyle(p).fontWeight") == "700"


def test_several_numbers_get_a_group_of_digit_cards_each(page):
    numbers = [("12", 0.99), ("345", 0.98), ("6", 0.97), ("78", 0.96), ("9012", 0.95)]
    answer_with(page, canned_reading(numbers))
    stroke(page, one(150)[0])
    assert read(page) == "12 345 6 78 9012"
    groups = page.locator("#digits details.number-group")
    assert groups.count() == 5
    assert [groups.nth(i).locator(".digit").count() for i in range(5)] == [2, 3, 1, 2, 4]
    assert [groups.nth(i).evaluate("g => g.open") for i in range(5)] == [True, True, True, False, False]
    assert groups.nth(1).locator("summary").text_content().startswith("345")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "several-numbers.png"), full_page=True)


def test_on_a_phone_undo_and_clear_stay_together(browser, server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, has_touch=True)
    page = context.new_page()
    page.goto(server + "/")
    undo, clear_button = page.locator("#undo").bounding_box(), page.locator("#clear").bounding_box()
    assert undo["y"] == clear_button["y"], "Undo and Clear are on different lines"
    context.close()


def test_the_footer_aligns_with_the_content(page):
    assert page.locator("footer").bounding_box()["x"] == page.locator("header").bounding_box()["x"]


SLOW_TO_BLOB = """
const toBlob = HTMLCanvasElement.prototype.toBlob;
HTMLCanvasElement.prototype.toBlob = function (callback, ...rest) {
  document.body.dataset.encoding = "started";
  toBlob.call(this, (blob) => setTimeout(() => {
    callback(blob);
    document.body.dataset.blobs = String(Number(document.body.dataset.blobs || 0) + 1);
  }, 400), ...rest);
};
"""


def test_a_photo_chosen_while_a_drawing_is_being_encoded_keeps_its_answer(page, mnist_test, tmp_path):
    from playwright.sync_api import expect

    from tests.pictures import encode, paper, paste_digit

    page.add_init_script(SLOW_TO_BLOB)  # the canvas takes 400 ms to encode: the photo comes in meanwhile
    page.reload()
    sheet = paper(640, 480, seed=6)
    paste_digit(sheet, mnist_test.images[1].numpy(), 250, 120, 220)
    photo = tmp_path / "photo.png"
    photo.write_bytes(encode(sheet, "PNG"))
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.url.endswith("/api/v1/predict") else None)
    stroke(page, one(150)[0])
    expect(page.locator("body")).to_have_attribute("data-encoding", "started")  # the drawing's read is under way
    page.set_input_files("#photo", str(photo))
    expect(page.locator("body")).to_have_attribute("data-blobs", "1", timeout=10_000)  # the stale encoding ended
    assert read(page) == str(int(mnist_test.labels[1]))
    assert page.get_attribute("#result", "data-source") == "photo" and len(posts) == 1


def test_after_clear_the_same_photo_can_be_chosen_again(page, mnist_test, tmp_path):
    from tests.pictures import encode, paper, paste_digit

    sheet = paper(640, 480, seed=7)
    paste_digit(sheet, mnist_test.images[2].numpy(), 250, 120, 220)
    photo = tmp_path / "photo.png"
    photo.write_bytes(encode(sheet, "PNG"))
    page.set_input_files("#photo", str(photo))
    answer = read(page)
    page.click("#clear")
    assert page.text_content("#prediction") == "" and page.locator("#photo-view").is_hidden()
    page.set_input_files("#photo", str(photo))
    assert read(page) == answer and page.get_attribute("#result", "data-source") == "photo"


def test_sure_numbers_make_a_sure_page_however_many(page):
    answer_with(page, canned_reading([(str(n), 0.96) for n in range(10, 16)]))  # product 0.78, each 0.96
    stroke(page, one(150)[0])
    assert read(page) == "10 11 12 13 14 15"
    assert page.get_attribute("#result", "data-sure") == "true" and page.locator("#unsure").is_hidden()
    answer_with(page, canned_reading([("10", 0.96), ("11", 0.5)]))
    stroke(page, one(300)[0])
    assert read(page) == "10 11"
    assert page.get_attribute("#result", "data-sure") == "false"
    assert page.locator("details.number-group.unsure summary").text_content().startswith("11")
