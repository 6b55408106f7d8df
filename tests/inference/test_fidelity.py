"""Fidelity metrics (bins, gripper flips, margins) and the fp32 action head of half precision."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import make_observations

from vla.inference import FastConfig, FastPolicy
from vla.inference.fast_policy import Float32Head
from vla.inference.fidelity import decision_margin, fidelity
from vla.policy import Policy

D, H, V = 3, 2, 16  # 3-D actions (last = binary gripper), 2 steps, 16 bins


def peaked(bins: list[int]) -> torch.Tensor:
    """Logits (1, H*D, V) with a clear peak at each listed bin."""
    logits = torch.zeros(1, len(bins), V)
    logits[0, torch.arange(len(bins)), torch.tensor(bins)] = 5.0
    return logits


def test_identical_logits_agree_fully():
    ref = peaked([3, 7, 0, 4, 8, 15])
    r = fidelity(ref, ref.clone(), D, gripper_index=-1)
    assert r["token_agreement"] == 1.0 and r["max_bins_continuous"] == 0
    assert r["gripper_flips"] == 0 and r["tokens_over_2_bins_continuous"] == 0


def test_bins_per_dimension_and_gripper_flips_are_counted():
    ref = peaked([3, 7, 0, 4, 8, 15])
    test = peaked([3, 10, 15, 4, 9, 15])  # dim 1: 3 bins off; gripper step 0 flips; dim 0: 1 off
    r = fidelity(ref, test, D, gripper_index=-1)
    assert r["token_agreement"] == pytest.approx(3 / 6)
    assert r["max_bins_per_dim"] == [0.0, 3.0, 15.0]
    assert r["max_bins_continuous"] == 3.0  # the gripper is not a continuous dimension
    assert r["tokens_over_2_bins_continuous"] == 1
    assert r["gripper_flips"] == 1 and r["gripper_flip_rate"] == pytest.approx(0.5)


def test_margin_separates_near_ties():
    ref = peaked([3, 7, 0, 4, 8, 15])
    ref[0, 1, 12] = 4.999  # token 1: a near tie 5 bins away
    assert decision_margin(ref)[0, 1] == pytest.approx(0.001, abs=1e-5)
    assert decision_margin(ref)[0, 0] == pytest.approx(5.0)
    test = ref.clone()
    test[0, 1, 12] = 5.001  # a tiny perturbation flips only the near-tied token
    r = fidelity(ref, test, D, gripper_index=-1, margins=(0.01,))
    assert r["by_fp32_margin"][">=0.01"] == {"share": pytest.approx(5 / 6), "agreement": 1.0}
    assert r["token_agreement"] == pytest.approx(5 / 6) and r["max_bins_per_dim"][1] == 5.0
    # one observation, one token flipped: the chunk differs; the flipped token is the only one
    # whose gap (0.001) is under twice its logit error (0.002), so it alone was at risk
    assert r["chunks_differing"] == 1.0
    assert r["tokens_at_risk"] == pytest.approx(1 / 6)
    r = fidelity(torch.cat([ref, ref]), torch.cat([test, ref]), D, gripper_index=-1)
    assert r["chunks_differing"] == pytest.approx(0.5)


def test_mismatched_shapes_raise():
    with pytest.raises(ValueError, match="differ"):
        fidelity(peaked([1] * 6), peaked([1] * 3), D)
    with pytest.raises(ValueError, match="whole number"):
        fidelity(peaked([1] * 5), peaked([1] * 5), D)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_keeps_head_and_logits_in_float32(tiny_checkpoint: Path, dtype: str):
    """The head runs in fp32 (logits not quantised to half precision), the rest in ``dtype``;
    the ids FastPolicy returns are the argmax of those fp32 logits."""
    policy = Policy.from_pretrained(tiny_checkpoint)
    fast = FastPolicy(policy, FastConfig(dtype=dtype, buckets=(2,)))
    assert isinstance(fast.model.action_head, Float32Head)
    assert fast.model.action_head.head.weight.dtype == torch.float32
    assert fast.model.backbone.layers[0].mlp.down_proj.weight.dtype == getattr(torch, dtype)
    obs = make_observations(policy, 2, seed=5)
    logits = fast.predict_logits(obs)
    assert logits.dtype == torch.float32 and logits.shape[:2] == (
        2,
        policy.model.config.max_action_tokens,
    )
    assert torch.equal(fast.predict_tokens(obs).cpu(), logits.argmax(-1))
    # fp32 keeps the plain model untouched
    assert not isinstance(FastPolicy(policy).model.action_head, Float32Head)


def test_compile_needs_cuda(tiny_checkpoint: Path):
    policy = Policy.from_pretrained(tiny_checkpoint)
    with pytest.raises(ValueError, match="CUDA"):
        FastPolicy(policy, FastConfig(compile=True))
