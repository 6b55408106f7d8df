"""Both tokenizers on real scripted-expert action chunks (MuJoCo, no rendering).

FAST's error bound (see vla/tokenizers/fast.py): per chunk and dimension, RMS error <=
half_range / (2 scale) for actions inside the normalisation range; measured here on held-out
expert chunks, with the BPE fitted on other episodes (as in training).
"""

from __future__ import annotations

import numpy as np
import pytest

from vla.tokenizers import (
    BinningActionTokenizer,
    BinningConfig,
    FastActionTokenizer,
    FastConfig,
)
from vla.tokenizers.normalization import compute_action_stats

pytest.importorskip("mujoco", reason="MuJoCo is needed to roll out the scripted experts")
from sim.experts import expert_episode_actions  # noqa: E402
from vla.tokenizers.chunks import sliding_chunks  # noqa: E402

H = 10


@pytest.fixture(scope="module")
def expert_split() -> tuple[dict, np.ndarray, np.ndarray]:
    episodes = expert_episode_actions(16, "mujoco", seed=0)
    assert len(episodes) >= 12, "scripted experts should succeed on most seeds"
    train, test = episodes[:-4], episodes[-4:]  # 4 families cycle: the test set has each
    stats = compute_action_stats(np.concatenate(train))
    return stats, sliding_chunks(train, H), sliding_chunks(test, H)


def _in_range(tok, chunks: np.ndarray) -> np.ndarray:
    half = tok.normalizer.half_range
    centre = tok.normalizer.unnormalize(np.zeros(chunks.shape[-1]))
    return np.clip(chunks, centre - half, centre + half)


def test_fast_on_expert_chunks(expert_split) -> None:
    stats, train, test = expert_split
    scale = 10.0
    tok = FastActionTokenizer(stats, FastConfig(scale=scale, vocab_size=512)).fit(train)
    ids = tok.encode(test)
    decoded, ok = tok.decode(ids, strict=False)
    assert ok.all()
    rms = np.sqrt(((decoded - _in_range(tok, test)) ** 2).mean(axis=1))  # (B, D)
    assert np.all(rms <= tok.normalizer.half_range / (2 * scale) * (1 + 1e-9))
    # Expert chunks compress (measured ~29 tokens for H*D = 70 with 160 training episodes).
    assert np.mean([len(i) for i in ids]) < 0.6 * H * tok.action_dim


def test_binning_on_expert_chunks(expert_split) -> None:
    stats, _, test = expert_split
    tok = BinningActionTokenizer(stats, BinningConfig(gripper_binary=True))
    decoded = tok.decode(tok.encode(test))
    err = np.abs(decoded - _in_range(tok, test)).reshape(-1, test.shape[-1])
    assert np.all(err[:, :-1].max(0) <= tok.bin_width[:-1] / 2 * (1 + 1e-9))
    assert np.array_equal(decoded[..., -1], np.where(test[..., -1] > 0, 1.0, -1.0))
