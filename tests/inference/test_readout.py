"""Policy read-out: argmax (window 0) vs the mean bin near the argmax (readout_window)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_observations

from vla.policy import Policy
from vla.policy.action_tokens import decode_positions, local_mean_positions


def test_local_mean_ignores_a_second_peak_outside_the_window() -> None:
    logits = torch.full((1, 2, 10), -30.0)
    logits[0, 0, [2, 3, 4]] = torch.tensor([1.0, 2.0, 1.0])  # symmetric around bin 3
    logits[0, 0, 8] = 1.9  # a second peak, 5 bins away
    logits[0, 1, [6, 7]] = 0.0  # two equal bins: the mean falls halfway
    assert local_mean_positions(logits, 10, 0).tolist() == [[3.0, 6.0]]
    near = local_mean_positions(logits, 10, 2)
    assert near[0, 0].item() == pytest.approx(3.0, abs=1e-6)
    assert near[0, 1].item() == pytest.approx(6.5, abs=1e-6)
    far = local_mean_positions(logits, 10, 9)  # the whole vocabulary: pulled toward bin 8
    assert far[0, 0].item() > 4.0
    # columns past the vocabulary (BOS/EOS) take no part
    extra = torch.cat([logits, torch.full((1, 2, 2), 50.0)], -1)
    assert torch.equal(local_mean_positions(extra, 10, 2), near)
    with pytest.raises(ValueError, match=">= 0"):
        local_mean_positions(logits, 10, -1)


def test_window_zero_is_the_argmax_policy_and_a_window_stays_near_it(tiny_checkpoint: Path):
    argmax = Policy.from_pretrained(tiny_checkpoint)
    obs = make_observations(argmax, 3, seed=1)
    base = argmax.predict_batch(obs)
    # the positional path (local_mean_positions -> decode_positions) at window 0 reproduces
    # the id path exactly (Policy itself takes the id path at window 0)
    b = argmax._batch(obs)
    with torch.no_grad():
        logits = argmax.model(b["images"], b["observation.state"], b["text"], b["text_mask"])
    pos = local_mean_positions(logits["logits"], argmax.tokenizer.vocab_size, 0)
    chunk = argmax.meta.chunk_size
    np.testing.assert_array_equal(decode_positions(argmax.tokenizer, pos.numpy(), chunk), base)
    k = 4
    local = Policy.from_pretrained(tiny_checkpoint, readout_window=k)
    assert local.metadata["readout_window"] == k
    out = local.predict_batch(obs)
    assert out.shape == base.shape and out.dtype == np.float32
    width = argmax.tokenizer.bin_width  # (D,)
    assert np.all(np.abs(out - base) <= k * width + 1e-6)
    assert not np.array_equal(out, base), "a random model's bins should not all be one-hot"
    # by hand: softmax over the +-k bins of the argmax, mean bin, decoded
    b = local._batch(obs)
    with torch.no_grad():
        logits = local.model(b["images"], b["observation.state"], b["text"], b["text_mask"])[
            "logits"
        ][..., : local.tokenizer.vocab_size].double()
    top = logits.argmax(-1, keepdim=True)
    bins = torch.arange(logits.shape[-1], dtype=torch.float64)
    w = torch.softmax(logits.masked_fill((bins - top).abs() > k, float("-inf")), -1)
    pos = (w * bins).sum(-1).numpy().reshape(len(obs), local.meta.chunk_size, -1)
    np.testing.assert_allclose(out, local.tokenizer.decode_positions(pos), atol=1e-5)


def test_bad_windows_are_clear_errors(tiny_checkpoint: Path):
    with pytest.raises(ValueError, match="readout_window must be >= 0"):
        Policy.from_pretrained(tiny_checkpoint, readout_window=-2)
