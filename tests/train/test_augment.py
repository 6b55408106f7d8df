"""Camera dropout (vla.train.augment): one camera per hit sample becomes a black frame, the
rest of the batch is untouched, draws come from the caller's generator, and a training run
with it produces a loadable checkpoint."""

from __future__ import annotations

import pytest
import torch
from vla_synthetic import overrides

from vla.train import load_config, train
from vla.train.augment import drop_cameras

PRESET = "configs/train/tiny_cpu.yaml"


def images(b: int = 64, n: int = 2) -> torch.Tensor:
    return torch.rand(b, n, 3, 8, 8, generator=torch.Generator().manual_seed(1)) + 0.01


def test_every_hit_sample_loses_exactly_one_camera_and_keeps_the_other():
    x = images()
    batch = {"images": x.clone()}
    dropped = drop_cameras(batch, 1.0, torch.Generator().manual_seed(0))
    out = batch["images"]
    assert dropped.shape == (64,) and set(dropped.tolist()) == {0, 1}  # both cameras get dropped
    for i, cam in enumerate(dropped.tolist()):
        assert torch.count_nonzero(out[i, cam]) == 0
        assert torch.equal(out[i, 1 - cam], x[i, 1 - cam])


def test_rate_follows_p_and_replays_with_the_same_seed():
    x = images(b=4000)
    a, b = {"images": x.clone()}, {"images": x.clone()}
    da = drop_cameras(a, 0.3, torch.Generator().manual_seed(7))
    db = drop_cameras(b, 0.3, torch.Generator().manual_seed(7))
    assert torch.equal(da, db) and torch.equal(a["images"], b["images"])  # resume is exact
    hit = da >= 0
    assert abs(hit.float().mean().item() - 0.3) < 0.03
    assert torch.equal(a["images"][~hit], x[~hit])  # samples not hit are unchanged


def test_zero_probability_draws_nothing_and_changes_nothing():
    g = torch.Generator().manual_seed(3)
    before = g.get_state()
    x = images()
    batch = {"images": x.clone()}
    assert drop_cameras(batch, 0.0, g) is None
    assert torch.equal(g.get_state(), before) and torch.equal(batch["images"], x)


def test_single_camera_is_never_dropped():
    batch = {"images": images(n=1)}
    assert drop_cameras(batch, 1.0, torch.Generator()) is None
    assert torch.count_nonzero(batch["images"]) == batch["images"].numel()


def test_bad_probability_is_refused_with_the_range(dataset):
    with pytest.raises(ValueError, match=r"camera_dropout must be .*\[0, 1\]"):
        drop_cameras({"images": images()}, 1.5, torch.Generator())
    with pytest.raises(ValueError, match="camera_dropout"):
        load_config(PRESET, [f"--dataset={dataset}", "--camera_dropout=-0.1"])


def test_training_with_camera_dropout_blacks_out_cameras_and_records_it(
    dataset, tmp_path, monkeypatch
):
    """The training step really applies it: every batch passes through drop_cameras with the
    configured p, and some samples of the batches the model saw had a black camera."""
    import vla.train.step as step

    seen = []

    def spy(batch, p, g):
        dropped = drop_cameras(batch, p, g)
        seen.append((p, dropped))
        return dropped

    monkeypatch.setattr(step, "drop_cameras", spy)
    cfg = load_config(
        PRESET, overrides(dataset, tmp_path, "--steps=3", "--batch_size=4", "--camera_dropout=0.5")
    )
    summary = train(cfg)
    assert summary["steps"] == 3 and len(seen) >= 3
    assert all(p == 0.5 for p, _ in seen)
    assert any((d >= 0).any() for _, d in seen if d is not None)
    saved = (tmp_path / "final" / "train_config.yaml").read_text()
    assert "camera_dropout: 0.5" in saved
