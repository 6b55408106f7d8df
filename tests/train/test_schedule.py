"""Learning-rate schedule (warm-up, cosine by step, decay that follows a time budget) and the
weight EMA's copy of the model."""

from __future__ import annotations

import pytest
import torch

from vla.train.config import TrainConfig
from vla.train.runtime import LRSchedule


def schedule(**kw) -> LRSchedule:
    cfg = TrainConfig(dataset="unused", lr=1.0, steps=100, warmup_steps=10, min_lr_ratio=0.1,
                      **kw)  # fmt: skip
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=cfg.lr)
    return LRSchedule(opt, cfg)


def test_warmup_then_cosine_to_the_floor():
    s = schedule()
    assert s.update(0) == pytest.approx(0.1)
    assert s.update(9) == pytest.approx(1.0)
    assert s.update(10) == pytest.approx(1.0)
    assert s.update(55) == pytest.approx(0.1 + 0.9 * 0.5, abs=1e-6)  # halfway through decay
    assert s.update(100) == pytest.approx(0.1)
    assert s.opt.param_groups[0]["lr"] == pytest.approx(0.1)


def test_time_budget_drives_the_decay(monkeypatch):
    import vla.train.runtime as rt

    now = [1000.0]
    monkeypatch.setattr(rt.time, "time", lambda: now[0])
    s = schedule(max_minutes=1.0)
    now[0] += 60.0  # the whole budget spent at step 20 of 100
    assert s.update(20) == pytest.approx(0.1) and s.progress == 1.0
    off = schedule(max_minutes=1.0, time_schedule=False)
    now[0] += 60.0
    assert off.update(20) > 0.9  # by steps only: barely decayed
    resumed = schedule(max_minutes=1.0)
    resumed.load_state_dict({"progress": 0.5, "lr": 0.5})
    now[0] += 30.0  # half the new budget: progress 0.5 + 0.5 * 0.5
    resumed.update(50)
    assert resumed.progress == pytest.approx(0.75)


def test_a_run_ended_by_steps_reports_the_unused_budget():
    from vla.train.runtime import budget_unused

    cfg = TrainConfig(dataset="unused", steps=6000, max_minutes=14.0)
    # the v3 GPU run's first try: 6000 steps took ~7 of 14 minutes
    assert budget_unused(cfg, stopped_by_time=False, elapsed_s=7 * 60) == pytest.approx(7.0)
    assert budget_unused(cfg, stopped_by_time=True, elapsed_s=14 * 60) is None
    assert budget_unused(cfg, stopped_by_time=False, elapsed_s=13.5 * 60) is None  # < 10% left
    assert budget_unused(TrainConfig(dataset="unused"), False, 60.0) is None  # no budget


def test_ema_copy_runs_its_own_weights_when_the_forward_is_compiled():
    """--compile replaces model.forward with an instance attribute bound to the live model; the
    EMA copy must not inherit it (it would score the live weights), and the live model keeps it."""
    from vla.train.runtime import make_ema

    model = torch.nn.Linear(3, 2)
    model.forward = lambda x: torch.zeros(1)  # stands in for torch.compile(model.forward)
    ema = make_ema(model, 0.5)
    assert "forward" in model.__dict__ and "forward" not in ema.module.__dict__
    x = torch.ones(1, 3)
    with torch.no_grad():
        want = torch.nn.functional.linear(x, model.weight, model.bias)
        assert torch.allclose(ema.module(x), want)
        model.weight.add_(1.0)
        ema.update_parameters(model)  # first update copies: the average is the live weights
        assert torch.equal(ema.module.weight, model.weight)
    assert make_ema(model, 0.0) is None
