"""The test harness's promise (tests/conftest.py): only the tests marked `mnist` see the
real data root, so every other test exercises the defaults a new user gets."""

import os

import pytest


def test_a_test_not_marked_mnist_sees_no_data_root() -> None:
    assert "DIGITREC_DATA" not in os.environ


@pytest.mark.mnist
def test_a_test_marked_mnist_keeps_the_data_root() -> None:
    assert os.environ["DIGITREC_DATA"]
