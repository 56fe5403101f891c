import pytest
import torch

from digitrec.data import kfold_indices, train_val_indices


def test_train_val_split_is_disjoint_covering_and_seeded():
    train, val = train_val_indices(1000, 0.1, seed=3)
    assert len(val) == 100 and len(train) == 900
    assert set(train.tolist()).isdisjoint(val.tolist())
    assert sorted(train.tolist() + val.tolist()) == list(range(1000))
    again_train, again_val = train_val_indices(1000, 0.1, seed=3)
    assert torch.equal(val, again_val) and torch.equal(train, again_train)
    assert not torch.equal(val, train_val_indices(1000, 0.1, seed=4)[1])


def test_zero_validation():
    train, val = train_val_indices(10, 0.0, seed=0)
    assert len(train) == 10 and len(val) == 0


@pytest.mark.parametrize("folds", [2, 4, 5])
def test_kfold_folds_are_disjoint_and_cover(folds):
    pairs = kfold_indices(103, folds, seed=1)
    assert len(pairs) == folds
    vals = [set(v.tolist()) for _, v in pairs]
    assert set().union(*vals) == set(range(103))
    assert sum(len(v) for v in vals) == 103
    for train, val in pairs:
        assert set(train.tolist()).isdisjoint(val.tolist())
        assert len(train) + len(val) == 103
    assert all(torch.equal(a[1], b[1]) for a, b in zip(pairs, kfold_indices(103, folds, seed=1)))


def test_kfold_rejects_bad_fold_count():
    with pytest.raises(ValueError):
        kfold_indices(10, 1, seed=0)
