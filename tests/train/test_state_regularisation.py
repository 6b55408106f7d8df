"""Training options against state memorisation: state_dropout, state_noise_std, use_state=false,
and the shuffled-state accuracy diagnostic in the training log."""

from __future__ import annotations

import json

import pytest
import torch
from vla_synthetic import frame, overrides

from vla.constants import OBS_STATE
from vla.policy import Policy
from vla.train import load_config, train
from vla.train.step import regularise_state

PRESET = "configs/train/tiny_cpu.yaml"


def run(dataset, out, *extra):
    return train(load_config(PRESET, overrides(dataset, out, *extra)))


def test_no_state_model_trains_logs_diagnostic_and_policy_ignores_state(dataset, tmp_path):
    summary = run(dataset, tmp_path, "--steps=4", "--batch_size=4", "--log_every=2",
                  "--model.use_state=false")  # fmt: skip
    cfg = json.loads((tmp_path / "final" / "config.json").read_text())
    assert cfg["use_state"] is False
    for rec in summary["history"]:  # no state token: shuffling states cannot change anything
        assert rec["accuracy_shuffled_state"] == pytest.approx(rec["accuracy"])
    policy = Policy.from_pretrained(summary["final_checkpoint"])
    obs = frame(0, 3, 16)
    moved = {**obs, OBS_STATE: obs[OBS_STATE] + 5.0}
    assert (policy.act(obs) == policy.act(moved)).all()


def test_state_dropout_and_noise_train_and_log_the_diagnostic(dataset, tmp_path):
    summary = run(dataset, tmp_path, "--steps=4", "--batch_size=4", "--log_every=2",
                  "--state_dropout=0.5", "--state_noise_std=0.1")  # fmt: skip
    log = [json.loads(x) for x in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert len(log) == 2 and all(0 <= r["accuracy_shuffled_state"] <= 1 for r in log)
    assert json.loads((tmp_path / "final" / "config.json").read_text())["use_state"] is True
    assert summary["steps"] == 4


def test_regularise_state_draws_noise_and_dropout_from_the_generator(dataset):
    cfg = load_config(PRESET, [f"--dataset={dataset}", "--state_dropout=0.5",
                               "--state_noise_std=0.2"])  # fmt: skip
    state = torch.zeros(4000, 15)
    batch = {OBS_STATE: state.clone()}
    drop = regularise_state(batch, cfg, True, torch.Generator().manual_seed(0))
    assert abs(batch[OBS_STATE].std().item() - 0.2) < 0.01
    assert drop.dtype == torch.bool and abs(drop.float().mean().item() - 0.5) < 0.03
    again = {OBS_STATE: state.clone()}
    assert torch.equal(regularise_state(again, cfg, True, torch.Generator().manual_seed(0)),
                       drop)  # fmt: skip
    assert torch.equal(again[OBS_STATE], batch[OBS_STATE])  # reproducible (resume is exact)
    off = load_config(PRESET, [f"--dataset={dataset}"])
    untouched = {OBS_STATE: state.clone()}
    assert regularise_state(untouched, off, True, torch.Generator()) is None
    assert torch.equal(untouched[OBS_STATE], state)


def test_state_options_validation_names_the_fix(dataset):
    base = [f"--dataset={dataset}"]
    with pytest.raises(ValueError, match="state_dropout"):
        load_config(PRESET, [*base, "--state_dropout=1.5"])
    with pytest.raises(ValueError, match="state_noise_std"):
        load_config(PRESET, [*base, "--state_noise_std=-1"])
    with pytest.raises(ValueError, match="use_state=false"):
        load_config(PRESET, [*base, "--model.use_state=false", "--state_dropout=0.5"])


def test_pick_place_preset_trains_without_the_state_token():
    cfg = load_config("configs/train/pick_place.yaml", ["--dataset=unused"])
    assert cfg.model_fields()["use_state"] is False  # see the preset's comment for why
    assert cfg.state_dropout == 0 and cfg.state_noise_std == 0


def test_pick_place_preset_conditions_vision_on_the_instruction():
    cfg = load_config("configs/train/pick_place.yaml", ["--dataset=unused"])
    assert cfg.model_fields()["vision_film"] is True  # see the preset's comment for why
