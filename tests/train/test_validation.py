"""Held-out metrics (`vla train --val_dataset`, vla.train.validation)."""

from __future__ import annotations

import json
import math
from contextlib import nullcontext
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from vla_synthetic import overrides

from vla.policy import Policy
from vla.policy.transforms import apply_transforms
from vla.train import load_config, train
from vla.train.validation import Validation

PRESET = "configs/train/tiny_cpu.yaml"
KEYS = ("val_loss", "val_accuracy", "val_bin_error")


@pytest.fixture(scope="module")
def trained(dataset, small_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("val_run")
    cfg = load_config(PRESET, overrides(dataset, out, "--steps=60", "--log_every=10",
                                        "--val_every=20", f"--val_dataset={small_dataset}",
                                        "--val_samples=10", "--batch_size=8", "--lr=3e-3",
                                        "--n_bins=32", "--augment=false"))  # fmt: skip
    return train(cfg)


def validation(policy: Policy, root, samples: int, batch_size: int) -> Validation:
    cfg = SimpleNamespace(chunk_size=policy.meta.chunk_size, decode_workers=1,
                          state_norm_mode=policy.meta.state_norm_mode)  # fmt: skip
    text = policy.chain[-1]
    return Validation(str(root), samples, cfg=cfg, tokenizer=policy.tokenizer,
                      vcfg=policy.model.config, stats=policy.stats,
                      cams=list(policy.meta.camera_keys), text_src=text.encoder, text_tf=text,
                      device=torch.device("cpu"), batch_size=batch_size)  # fmt: skip


def test_training_logs_held_out_metrics_every_val_every_steps(trained):
    logged = {rec["step"]: rec for rec in trained["history"]}
    assert set(logged) == {10, 20, 30, 40, 50, 60}
    with_val = {step for step, rec in logged.items() if all(k in rec for k in KEYS)}
    assert with_val == {20, 40, 60}
    assert not any(k in logged[10] or k in logged[30] for k in KEYS)
    final = trained["val"]
    assert set(final) == set(KEYS) and all(math.isfinite(v) for v in final.values())
    assert 0.0 <= final["val_accuracy"] <= 1.0 and final["val_bin_error"] >= 0.0


def test_metrics_match_a_per_sample_computation(trained, small_dataset):
    """Batches of 3 over 10 samples (the last batch short): the aggregate must weight every
    token alike, as one pass over all samples does."""
    policy = Policy.from_pretrained(trained["final_checkpoint"])
    val = validation(policy, small_dataset, 10, batch_size=3)
    got = val(policy.model, nullcontext())
    nll, hits, errs, tokens = [], 0, [], 0
    for i in val.idx.tolist():  # one sample at a time, by hand
        raw = val.data.batch(torch.tensor([i]), torch.device("cpu"))
        batch = apply_transforms(val.chain, raw)
        with torch.no_grad():
            logits = policy.model(batch["images"], batch["observation.state"], batch["text"],
                                  batch["text_mask"])["logits"][0].double()  # fmt: skip
        target, keep = raw["targets"][0], raw["target_mask"][0].bool()
        logp = torch.log_softmax(logits, -1)
        for t in np.flatnonzero(keep.numpy()):
            nll.append(-float(logp[t, target[t]]))
            pred = int(logits[t].argmax())
            hits += pred == int(target[t])
            if int(target[t]) < val.n_bins:
                errs.append(abs(pred - int(target[t])))
        tokens += int(keep.sum())
    assert got["val_loss"] == pytest.approx(np.mean(nll), rel=1e-4)
    assert got["val_accuracy"] == pytest.approx(hits / tokens)
    assert got["val_bin_error"] == pytest.approx(np.mean(errs))


def test_a_training_set_scores_better_than_unseen_noise_labels(trained, dataset):
    """The metrics see what the model learned: the same samples with their targets shuffled
    across samples score a higher loss and a larger bin error."""
    policy = Policy.from_pretrained(trained["final_checkpoint"])
    val = validation(policy, dataset, 16, batch_size=8)
    real = val(policy.model, nullcontext())
    perm = torch.randperm(len(val.data), generator=torch.Generator().manual_seed(1))
    val.data.parts["targets"] = [val.data.parts["targets"][0][perm]]
    val.data.parts["target_mask"] = [val.data.parts["target_mask"][0][perm]]
    shuffled = val(policy.model, nullcontext())
    assert shuffled["val_loss"] > real["val_loss"]
    assert shuffled["val_bin_error"] > real["val_bin_error"]


def test_bad_val_settings_are_named():
    with pytest.raises(ValueError, match="val_every"):
        load_config(PRESET, ["--dataset=x", "--val_every=0"])


def test_soft_labels_still_fit_a_learnable_set(small_dataset, tmp_path):
    """--label_sigma (HL-Gauss) trains towards the same argmax: the tiny set is reproduced to
    within a fraction of a bin, scored by the held-out metrics on the training set itself."""
    cfg = load_config(PRESET, overrides(small_dataset, tmp_path, "--steps=300", "--batch_size=16",
                                        "--n_bins=32", "--lr=3e-3", "--augment=false",
                                        "--log_every=100", "--save_every=1000", "--chunk_size=4",
                                        "--execution_horizon=2", "--label_sigma=1.0",
                                        f"--val_dataset={small_dataset}", "--val_samples=24",
                                        "--val_every=100"))  # fmt: skip
    summary = train(cfg)
    first, final = summary["history"][0], summary["val"]
    # 300 steps at lr 3e-3 carry the CPU's rounding: bin error 0.107 on an AMD EPYC, < 0.1 on
    # the machine that set the bound; an unlearned set stays above 5x (checked next)
    assert final["val_accuracy"] > 0.95 and final["val_bin_error"] < 0.15, final
    assert first["val_bin_error"] > 5 * final["val_bin_error"]
    # training writes the argmax read-out, soft labels too (vla/train/build.py says why)
    meta = json.loads((tmp_path / "final" / "policy_meta.json").read_text())
    assert meta["readout"] == "argmax"


def test_label_sigma_needs_ordinal_bins():
    with pytest.raises(ValueError, match="tokenizer=binning"):
        load_config(PRESET, ["--dataset=x", "--label_sigma=1", "--tokenizer=fast",
                             "--model.decode_mode=autoregressive"])  # fmt: skip
    with pytest.raises(ValueError, match="label_sigma"):
        load_config(PRESET, ["--dataset=x", "--label_sigma=-1"])
