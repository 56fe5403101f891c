"""Micro-batching: requests that arrive together share one classifier call, and each gets
its own rows back."""

import asyncio

import httpx2 as httpx
import numpy as np
import pytest

from digitrec.recognizer import Recognizer
from digitrec.serving.app import create_app
from digitrec.serving.batching import MicroBatcher


def images(n: int, value: int) -> np.ndarray:
    return np.full((n, 28, 28), value, np.uint8)


class Recording:
    """A classifier whose probabilities say which image they came from."""

    def __init__(self, fail: bool = False):
        self.calls: list[int] = []
        self.fail = fail

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.calls.append(len(batch))
        if self.fail:
            raise RuntimeError("the model broke")
        out = np.zeros((len(batch), 10), np.float32)
        out[np.arange(len(batch)), batch[:, 0, 0] % 10] = 1
        return out


def test_requests_in_the_same_turn_share_one_call_and_get_their_own_rows():
    classify = Recording()
    batcher = MicroBatcher(classify)

    async def main():
        return await asyncio.gather(*(batcher.classify(images(k % 3 + 1, k)) for k in range(10)))

    results = asyncio.run(main())
    assert classify.calls == [sum(k % 3 + 1 for k in range(10))]
    for k, probabilities in enumerate(results):
        assert probabilities.shape == (k % 3 + 1, 10)
        assert (probabilities.argmax(1) == k % 10).all()
    assert batcher.batches == 1 and batcher.digits == classify.calls[0]


def test_a_full_batch_is_classified_without_waiting_and_the_rest_follow():
    classify = Recording()
    batcher = MicroBatcher(classify, max_batch=4)

    async def main():
        return await asyncio.gather(*(batcher.classify(images(1, k)) for k in range(10)))

    results = asyncio.run(main())
    assert classify.calls == [4, 4, 2]
    assert [int(p.argmax()) for p in results] == list(range(10))


def test_an_error_reaches_every_request_in_the_batch_and_the_next_batch_works():
    batcher = MicroBatcher(Recording(fail=True))

    async def main():
        return await asyncio.gather(*(batcher.classify(images(1, k)) for k in range(3)), return_exceptions=True)

    assert all(isinstance(r, RuntimeError) for r in asyncio.run(main()))
    batcher._classify = Recording()
    assert asyncio.run(batcher.classify(images(2, 7))).argmax(1).tolist() == [7, 7]


def test_a_cancelled_request_is_left_out_and_nothing_is_classified_for_no_digits():
    classify = Recording()
    batcher = MicroBatcher(classify)

    async def main():
        leaving = asyncio.ensure_future(batcher.classify(images(5, 1)))
        staying = asyncio.ensure_future(batcher.classify(images(2, 3)))
        await asyncio.sleep(0)  # both queued
        leaving.cancel()
        return await staying, await batcher.classify(images(0, 0))

    kept, empty = asyncio.run(main())
    assert classify.calls == [2] and kept.shape == (2, 10) and empty.shape == (0, 10)


@pytest.fixture(scope="module")
def recognizer(tiny_run):
    return Recognizer.load(tiny_run)


def test_concurrent_pixel_requests_are_batched_and_read_as_alone(recognizer):
    app = create_app(recognizer)
    rng = np.random.default_rng(0)
    drawings = []
    for k in range(12):
        image = np.zeros((28, 28), int)
        x = int(rng.integers(6, 18))
        image[4:24, x : x + 4] = 255
        image[4:8, 6 : 6 + k + 6] = 255
        drawings.append(image)

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            responses = await asyncio.gather(
                *(client.post("/api/v1/predict/pixels", json={"pixels": d.tolist()}) for d in drawings)
            )
        return [r.json() for r in responses]

    bodies = asyncio.run(main())
    assert app.state.served.batcher.batches < len(drawings), "concurrent requests should share classifier calls"
    for drawing, body in zip(drawings, bodies):
        alone = recognizer.read(drawing.astype(np.uint8), True)
        assert body["text"] == alone.text
        np.testing.assert_allclose(body["digits"][0]["probabilities"], alone.digits[0].probabilities, atol=1e-5)
