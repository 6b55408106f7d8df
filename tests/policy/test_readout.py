"""The readout (logits -> bin ids) is a checkpoint option, used identically by every path."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "serving"))

from tiny_checkpoint import INSTRUCTIONS, make_tiny_checkpoint  # noqa: E402

from vla.constants import OBS_STATE  # noqa: E402
from vla.inference.bench import synthetic_observations  # noqa: E402
from vla.policy import Policy, PolicyMeta  # noqa: E402
from vla.policy.readout import READOUT_MODES, Readout  # noqa: E402


def gaussian_logits(centre: float, sigma: float = 8.0, v: int = 256) -> torch.Tensor:
    bins = torch.arange(v, dtype=torch.float32)
    return -0.5 * ((bins - centre) / sigma) ** 2  # (V,) log of a soft-label-like distribution


def test_mean_is_the_expected_bin_and_argmax_unchanged():
    logits = torch.stack([gaussian_logits(100.3), gaussian_logits(40.0)])  # (2, V)
    assert Readout("argmax")(logits).tolist() == [100, 40]
    assert Readout("mean")(logits).tolist() == [100, 40]
    skewed = torch.full((256,), -30.0)
    skewed[[10, 11, 20]] = torch.tensor([0.0, 0.0, float(np.log(2.0))])  # mass 1:1:2 -> mean 15.25
    assert Readout("mean")(skewed).item() == 15
    assert Readout("argmax")(skewed).item() == 20


def test_mean_moves_by_at_most_one_bin_where_argmax_jumps_a_plateau():
    """A flat top (two far bins tied within 1e-3 logits): a perturbation of that size flips the
    argmax across the plateau; the expectation moves by a fraction of a bin."""
    base = gaussian_logits(128.0, sigma=30.0)
    base[100] = base[150] = base.max() + 0.01
    noisy = base.clone()
    noisy[150] += 2e-3
    a, b = Readout("argmax")(base).item(), Readout("argmax")(noisy).item()
    assert abs(a - b) == 50
    m, n = Readout("mean")(base).item(), Readout("mean")(noisy).item()
    assert abs(m - n) <= 1


def test_smoothed_finds_the_centre_of_mass_not_the_spike():
    """A one-bin spike a hair above a wide plateau wins the argmax; smoothing picks the
    plateau's centre. A distribution peaked at the last bin stays there (no edge pull)."""
    logits = gaussian_logits(60.0, sigma=10.0)
    logits[90] = logits.max() + 0.05
    assert Readout("argmax")(logits).item() == 90
    assert abs(Readout("smoothed")(logits).item() - 60) <= 1
    assert Readout("smoothed")(gaussian_logits(255.0, sigma=3.0)).item() == 255


def test_half_precision_logits_and_batch_shape():
    logits = torch.randn(3, 5, 256)
    for mode in READOUT_MODES:
        ids = Readout(mode)(logits.half())
        assert ids.shape == (3, 5) and ids.dtype == torch.int64
        assert int(ids.min()) >= 0 and int(ids.max()) <= 255


def test_unknown_mode_names_the_choices():
    with pytest.raises(ValueError, match="argmax"):
        Readout("median")
    with pytest.raises(ValueError, match="policy_meta.json"):
        PolicyMeta(["observation.images.scene"], [32, 32], ["x"], "eef_delta", ["dx"],
                   readout="mode")  # fmt: skip


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("readout")
    out = {"argmax": make_tiny_checkpoint(root / "argmax")}
    for mode in READOUT_MODES[1:]:
        out[mode] = root / mode
        shutil.copytree(out["argmax"], out[mode])
        meta = json.loads((out[mode] / "policy_meta.json").read_text())
        meta["readout"] = mode
        (out[mode] / "policy_meta.json").write_text(json.dumps(meta))
    return out


def observations(policy: Policy, n: int, seed: int = 0) -> list[dict]:
    return synthetic_observations(policy, n, INSTRUCTIONS, seed)


@pytest.mark.parametrize("mode", READOUT_MODES)
def test_policy_and_fast_policy_use_the_checkpoints_readout(checkpoints, mode: str):
    from vla.inference import FastConfig, FastPolicy

    policy = Policy.from_pretrained(checkpoints[mode])
    assert policy.metadata["readout"] == mode
    obs = observations(policy, 4)
    b = policy._batch(obs)
    with torch.inference_mode():
        logits = policy.model(b["images"], b[OBS_STATE], b["text"], b["text_mask"])["logits"]
    want = Readout(mode)(logits)
    chunks = policy.predict_batch(obs)
    from vla.policy.action_tokens import decode_tokens

    ref = decode_tokens(policy.tokenizer, want.numpy(), policy.meta.chunk_size,
                        policy.model.config.eos_id)  # fmt: skip
    np.testing.assert_array_equal(chunks, ref)
    fast = FastPolicy(policy, FastConfig(buckets=(4,)))
    assert torch.equal(fast.predict_tokens(obs).cpu(), want)


@pytest.mark.parametrize("mode", READOUT_MODES[1:])
def test_the_readout_changes_the_ids(checkpoints, mode: str):
    """A test that would pass with the readout ignored is no test: on random logits of a tiny
    model each readout disagrees with argmax somewhere."""
    a = Policy.from_pretrained(checkpoints["argmax"])
    m = Policy.from_pretrained(checkpoints[mode])
    obs = observations(a, 4)
    assert not np.array_equal(a.predict_batch(obs), m.predict_batch(obs))


def test_fast_policy_action_table_decodes_like_the_tokenizer(checkpoints):
    """FastPolicy's (V, D) lookup table gives decode_tokens' chunks for every bin."""
    from vla.inference import FastConfig, FastPolicy
    from vla.policy.action_tokens import decode_tokens

    policy = Policy.from_pretrained(checkpoints["smoothed"])
    fast = FastPolicy(policy, FastConfig(buckets=(2,)))
    obs = observations(policy, 3)  # 2 buckets: a full one and a padded one
    ids = fast.predict_tokens(obs).cpu().numpy()
    want = decode_tokens(policy.tokenizer, ids, policy.meta.chunk_size, policy.model.config.eos_id)
    got = fast.predict_batch(obs)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    d = policy.tokenizer.action_dim
    every = np.arange(policy.tokenizer.vocab_size * d).reshape(-1, d) % policy.tokenizer.vocab_size
    grid = every[None]  # (1, V, D): every bin of every dimension
    np.testing.assert_array_equal(
        fast._table[grid, np.arange(d)],
        policy.tokenizer.decode(grid + policy.tokenizer.offset).astype(np.float32),
    )
