import pytest
import torch

from digitrec.training.config import OptimizerConfig, ScheduleConfig
from digitrec.training.optim import LRSchedule, build_optimizer


def _optimizer(lr=1.0):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def _lr(opt):
    return opt.param_groups[0]["lr"]


def test_constant():
    opt = _optimizer()
    s = LRSchedule(opt, ScheduleConfig("constant"), epochs=3, steps_per_epoch=5)
    for _ in range(5):
        opt.step()  # the engine's order: optimiser step, then schedule
        s.after_batch()
    s.after_epoch(0.5)
    assert _lr(opt) == 1.0


def test_step_decays_per_epoch():
    opt = _optimizer()
    s = LRSchedule(opt, ScheduleConfig("step", step_size=1, gamma=0.7), epochs=3, steps_per_epoch=5)
    opt.step()
    s.after_epoch(0.0)
    s.after_epoch(0.0)
    assert _lr(opt) == pytest.approx(0.49)


def test_plateau_waits_for_patience_then_halves_with_a_floor():
    opt = _optimizer(1e-3)
    s = LRSchedule(opt, ScheduleConfig("plateau", factor=0.5, patience=3, min_lr=3e-4), epochs=30, steps_per_epoch=1)
    s.after_epoch(0.90)
    for _ in range(3):
        s.after_epoch(0.90 + 5e-5)  # below min_delta: no improvement, but within patience
    assert _lr(opt) == 1e-3
    s.after_epoch(0.90)
    assert _lr(opt) == pytest.approx(5e-4)
    for _ in range(8):
        s.after_epoch(0.5)
    assert _lr(opt) == pytest.approx(3e-4)


def test_onecycle_warms_up_peaks_and_ends_low_but_positive():
    opt = _optimizer(0.01)
    cfg = ScheduleConfig("onecycle", pct_start=0.25, div_factor=20, final_div_factor=200)
    s = LRSchedule(opt, cfg, epochs=2, steps_per_epoch=50)
    lrs = [_lr(opt)]
    for _ in range(100):
        opt.step()  # the engine's order: optimiser step, then schedule
        s.after_batch()
        lrs.append(_lr(opt))
    assert lrs[0] == pytest.approx(0.01 / 20)
    assert max(lrs) == pytest.approx(0.01, rel=0.02)
    assert 0 < lrs[-1] < 0.01 / 20 / 100


@pytest.mark.parametrize(
    "cfg, cls, checks",
    [
        (
            OptimizerConfig("adadelta", lr=1.0, rho=0.95, eps=1e-7),
            torch.optim.Adadelta,
            {"rho": 0.95, "eps": 1e-7, "lr": 1.0},
        ),
        (OptimizerConfig("rmsprop", lr=1e-3, rho=0.9, eps=1e-8), torch.optim.RMSprop, {"alpha": 0.9, "eps": 1e-8}),
        (OptimizerConfig("adam", lr=1e-3, eps=1e-7), torch.optim.Adam, {"betas": (0.9, 0.999), "eps": 1e-7}),
        (
            OptimizerConfig("sgd", lr=0.1, momentum=0.9, nesterov=True),
            torch.optim.SGD,
            {"momentum": 0.9, "nesterov": True},
        ),
    ],
)
def test_optimizers_get_keras_settings(cfg, cls, checks):
    opt = build_optimizer(torch.nn.Linear(2, 2), cfg)
    assert isinstance(opt, cls)
    for key, value in checks.items():
        assert opt.param_groups[0][key] == value
