"""Training resume loads its state with ``weights_only=True`` (issue 35): a planted pickle
cannot run code, old states (numpy RNG arrays) still resume, the RNG round-trips exactly."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from vla.train.runtime import STATE_FILENAME, load_training_state, save_training_state

MARK = "planted pickle ran"


class _Planted:
    """Unpickling this calls ``print`` (any callable would do: os.system, ...)."""

    def __reduce__(self):
        return (print, (MARK,))


def _parts():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()

    class Sched:
        def __init__(self):
            self.state = {"progress": 0.25, "lr": 1e-3}

        def state_dict(self):
            return dict(self.state)

        def load_state_dict(self, s):
            self.state = dict(s)

    return model, opt, Sched()


def test_state_round_trips_with_weights_only(tmp_path) -> None:
    model, opt, sched = _parts()
    np.random.seed(7)
    random.seed(7)
    save_training_state(tmp_path, model, opt, sched, step=5)
    expected = (np.random.rand(3), random.random())
    torch.load(tmp_path / STATE_FILENAME, weights_only=True)  # nothing beyond plain data
    np.random.seed(0)
    random.seed(0)
    fresh, opt2, sched2 = _parts()
    assert load_training_state(tmp_path, fresh, opt2, sched2) == 5
    assert np.array_equal(np.random.rand(3), expected[0]) and random.random() == expected[1]
    assert torch.equal(fresh.weight, model.weight) and sched2.state["progress"] == 0.25


def test_old_state_with_numpy_rng_still_resumes(tmp_path) -> None:
    model, opt, sched = _parts()
    save_training_state(tmp_path, model, opt, sched, step=3)
    state = torch.load(tmp_path / STATE_FILENAME, weights_only=True)
    np.random.seed(3)
    state["rng"]["numpy"] = np.random.get_state()  # what earlier versions wrote
    expected = np.random.rand(2)
    torch.save(state, tmp_path / STATE_FILENAME)
    np.random.seed(0)
    assert load_training_state(tmp_path, *_parts()) == 3
    assert np.array_equal(np.random.rand(2), expected)


def test_a_planted_pickle_is_refused_without_running(tmp_path, capsys) -> None:
    model, opt, sched = _parts()
    save_training_state(tmp_path, model, opt, sched, step=1)
    state = torch.load(tmp_path / STATE_FILENAME, weights_only=True)
    state["step"] = _Planted()
    torch.save(state, tmp_path / STATE_FILENAME)
    with pytest.raises(ValueError, match=f"cannot resume from .*{STATE_FILENAME}"):
        load_training_state(tmp_path, *_parts())
    assert MARK not in capsys.readouterr().out
