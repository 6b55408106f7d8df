"""How faithfully a reduced-precision (or quantised) policy reproduces the fp32 policy.

    recorded episodes (LeRobot v3 folder: ``vla data generate`` / ``vla record``)
      --real_observations--> obs dicts (camera frames, state, instruction)
    fp32 logits (B, T, V)  --readout--> bins (B, T)  --+   (argmax | mean: vla.policy.readout)
    test logits (B, T, V)  --readout--> bins (B, T)  --+--> fidelity(): agreement,
                                                                     |bin difference| per action
                                                                     dimension, gripper flips

Bins are what the robot feels: one bin of a continuous dimension is 1/256 of its range, so a
disagreement of 253 bins is a command from the other end of the range. ``fidelity`` reports
exact token agreement, the largest and 99th-percentile bin difference per dimension, how often
the binary gripper's decision flips (position on the other side of the middle bin), and the
agreement split by the fp32 decision's *margin*: the gap in fp32 logits between the chosen bin
and the best bin more than ``near_bins`` away. Where that margin is below the numerical error of
the tested precision, no reduced-precision path can be expected to pick the same bin (the fp32
choice is itself decided by rounding noise); the split makes that visible.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vla.constants import OBS_STATE, TASK
from vla.policy.readout import Readout


def real_observations(
    dataset: str | Path, camera_keys: list[str], max_obs: int = 512, stride: int = 2
) -> list[dict]:
    """Observations from a recorded dataset: every ``stride``-th frame of every episode, in
    episode order, at most ``max_obs`` (decoded camera frames, state, the episode's task)."""
    from vla.data.reader import LeRobotDatasetReader

    if stride < 1 or max_obs < 1:
        raise ValueError(f"stride and max_obs must be >= 1, got {stride}, {max_obs}")
    ds = LeRobotDatasetReader(dataset)
    missing = [k for k in camera_keys if k not in ds.camera_keys]
    if missing:
        raise ValueError(f"{dataset} lacks cameras {missing} (has {ds.camera_keys})")
    out: list[dict] = []
    for e in range(ds.num_episodes):
        state = ds.episode_arrays(e)[OBS_STATE]
        frames = {k: ds.episode_frames(e, k) for k in camera_keys}
        for t in range(0, len(state), stride):
            obs = {k: frames[k][t] for k in camera_keys}
            obs[OBS_STATE] = np.asarray(state[t], dtype=np.float32)
            obs[TASK] = ds.episode_task(e)
            out.append(obs)
            if len(out) >= max_obs:
                return out
    return out


def decision_margin(logits: torch.Tensor, near_bins: int = 2) -> torch.Tensor:
    """(B, T) logit gap between the argmax and the best bin more than ``near_bins`` away."""
    logits = logits.float()
    top = logits.argmax(-1, keepdim=True)
    bins = torch.arange(logits.shape[-1], device=logits.device)
    far = (bins - top).abs() > near_bins
    return logits.amax(-1) - logits.masked_fill(~far, float("-inf")).amax(-1)


def fidelity(
    ref_logits: torch.Tensor,
    test_logits: torch.Tensor,
    action_dim: int,
    gripper_index: int | None = -1,
    margins: tuple[float, ...] = (0.01, 0.05, 0.1),
    near_bins: int = 0,
    readout: str = "argmax",
    test_readout: str | None = None,
) -> dict:
    """Compare two logit sets (B, T, V) of the same observations (``ref`` = fp32), each read
    out to bins by ``readout`` (``test_readout`` for the test side when it differs: the
    behaviour change of a readout itself).

    ``chunks_differing``: the share of observations with at least one token read out
    differently (what a fallback that recomputes a whole chunk would pay for); ``tokens_at_risk``:
    the share of tokens whose fp32 top-two gap is below twice the test's largest logit error on
    that token (only those can flip).

    Token order is step-major (T = H * D). ``gripper_index`` names the binary gripper's
    dimension (None: no binary gripper); it is excluded from the continuous-dimension maxima.
    """
    if ref_logits.shape != test_logits.shape:
        raise ValueError(f"logit shapes differ: {ref_logits.shape} vs {test_logits.shape}")
    b = ref_logits.shape[0]
    ref = Readout(readout)(ref_logits).cpu()  # (B, T) bins
    test = Readout(test_readout or readout)(test_logits).cpu()
    out = id_agreement(ref, test, action_dim, gripper_index, ref_logits.shape[-1])
    out["readout"] = readout if test_readout in (None, readout) else f"{readout} vs {test_readout}"
    out["logit_max_abs_diff"] = float((ref_logits.float() - test_logits.float()).abs().max())
    out["logit_mean_abs_diff"] = float((ref_logits.float() - test_logits.float()).abs().mean())
    # A token's argmax can move only where the fp32 gap between its top two bins is below twice
    # the test's largest logit error on that token (each of the two logits moves by at most
    # that error): the tokens at risk, whatever the read-out's luck.
    top2 = ref_logits.float().topk(2, dim=-1)
    gap = (top2.values[..., 0] - top2.values[..., 1]).cpu()
    err = (ref_logits.float() - test_logits.float()).abs().amax(-1).cpu()
    out["tokens_at_risk"] = float((gap < 2 * err).float().mean())
    # how flat the reference is: its top bin's probability, its top-two gap, two best bins apart
    idx = top2.indices.cpu()
    out["ref_median_top_prob"] = float(ref_logits.float().softmax(-1).amax(-1).median())
    out["ref_median_top2_gap"] = float(gap.median())
    out["ref_top2_over_2_bins_apart"] = float(
        ((idx[..., 0] - idx[..., 1]).abs() > 2).float().mean()
    )
    out["test_median_logit_error"] = float(err.median())
    out["chunks_differing"] = float((ref != test).view(b, -1).any(1).float().mean())
    margin = decision_margin(ref_logits, near_bins).cpu().view(b, -1)
    same = (ref == test).view(b, -1)
    out["by_fp32_margin"] = {
        f">={m}": {
            "share": float((margin >= m).float().mean()),
            "agreement": float(same[margin >= m].float().mean()) if (margin >= m).any() else None,
        }  # fmt: skip
        for m in margins
    }
    return out


def id_agreement(ref: torch.Tensor, test: torch.Tensor, action_dim: int,
                 gripper_index: int | None = -1, vocab: int = 256) -> dict:  # fmt: skip
    """Two id sets (B, T) of the same observations: agreement, bins per dimension, gripper
    flips (position on the other side of the middle bin); see :func:`fidelity`."""
    b, t = ref.shape
    if t % action_dim:
        raise ValueError(f"{t} tokens are not a whole number of {action_dim}-D steps")
    diff = (ref - test).abs().view(b, t // action_dim, action_dim)  # (B, H, D) in bins
    per_dim = diff.float().permute(2, 0, 1).reshape(action_dim, -1)  # (D, B*H)
    g = None if gripper_index is None else gripper_index % action_dim
    cont = [d for d in range(action_dim) if d != g]
    out = {
        "observations": b,
        "tokens": b * t,
        "token_agreement": float((ref == test).float().mean()),
        "within_1_bin": float((diff <= 1).float().mean()),
        "max_bins_per_dim": [round(float(x), 2) for x in per_dim.amax(1)],
        "p99_bins_per_dim": [round(float(x), 2) for x in per_dim.quantile(0.99, dim=1)],
        "max_bins_continuous": float(per_dim[cont].max()),
        "tokens_over_2_bins_continuous": int((per_dim[cont] > 2).sum()),
    }
    if g is not None:
        half = vocab // 2
        r, s = ref.view(b, -1, action_dim)[..., g], test.view(b, -1, action_dim)[..., g]
        flips = (r >= half) != (s >= half)
        out["gripper_flips"] = int(flips.sum())
        out["gripper_flip_rate"] = float(flips.float().mean())
    return out


def fidelity_rows(policy, ref: torch.Tensor, variants: dict[str, torch.Tensor],
                  readouts: list[str]) -> dict[str, dict]:  # fmt: skip
    """:func:`fidelity` of every variant's logits against ``ref`` (fp32) under every readout,
    plus each readout's change of the fp32 policy's own ids against argmax (what switching
    the readout does to the policy's behaviour). ``policy``: a loaded Policy (its metadata)."""
    d = len(policy.meta.action_names)
    tok = policy.tokenizer.config
    grip = tok.gripper_index if getattr(tok, "gripper_binary", False) else None
    rows: dict[str, dict] = {}
    for r in readouts:
        if r != "argmax":
            rows[f"[{r}] fp32 {r} vs fp32 argmax"] = fidelity(
                ref, ref, d, grip, readout="argmax", test_readout=r
            )
        for name, got in variants.items():
            rows[f"[{r}] {name}"] = fidelity(ref, got, d, grip, readout=r)
    return rows
