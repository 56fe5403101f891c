"""How many threads a process of digitrec runs."""

import pytest

from digitrec.device import threads_per_rank
from digitrec.errors import ConfigError


def test_one_thread_per_core_shared_among_the_ranks_on_the_machine(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert threads_per_rank(8) == 8
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert threads_per_rank(8) == 4
    assert threads_per_rank(1) == 1


def test_omp_num_threads_set_by_the_user_wins(monkeypatch):
    """A training left to one core of two, so that other work can use the other."""
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads_per_rank(8) == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "two")
    with pytest.raises(ConfigError, match="OMP_NUM_THREADS must be a whole number"):
        threads_per_rank(8)
