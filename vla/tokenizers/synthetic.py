"""Smooth synthetic action chunks (minimum-jerk reaching) for tests and benchmarks.

Expert end-effector motion is close to minimum-jerk between waypoints, so its per-step deltas
(the ``eef_delta`` action) are smooth bell-shaped profiles; the gripper is a +-1 command that
switches rarely. This is the signal FAST's DCT compresses, so these chunks are a fair stand-in
for expert data until a recorded dataset is at hand.
"""

from __future__ import annotations

import numpy as np

from vla.constants import ACTION_DIM, EEF_ACTION_HIGH


def min_jerk(t: np.ndarray) -> np.ndarray:
    """Minimum-jerk position profile s(t) = 10t^3 - 15t^4 + 6t^5 for t in [0, 1]."""
    return 10 * t**3 - 15 * t**4 + 6 * t**5


def min_jerk_episode(length: int, rng: np.random.Generator, n_segments: int = 4) -> np.ndarray:
    """One episode of ``(length, ACTION_DIM)`` eef-delta actions built from min-jerk segments."""
    bounds = np.sort(rng.choice(np.arange(1, length), size=n_segments - 1, replace=False))
    edges = np.concatenate([[0], bounds, [length]])
    pose = np.zeros((length + 1, ACTION_DIM - 1))
    start = np.zeros(ACTION_DIM - 1)
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        n = b - a
        # Target displacement sized so that the peak per-step delta stays inside the limits:
        # the peak speed of min-jerk over n steps is 1.875 * displacement / n.
        goal = start + rng.uniform(-1, 1, ACTION_DIM - 1) * EEF_ACTION_HIGH[:-1] * n / 1.875 * 0.9
        s = min_jerk(np.arange(1, n + 1) / n)[:, None]
        pose[a + 1 : b + 1] = start + s * (goal - start)
        start = goal
    deltas = np.diff(pose, axis=0)
    deltas += rng.normal(0, 0.002, deltas.shape) * EEF_ACTION_HIGH[:-1]  # sensor-level noise
    grip = np.where(np.arange(length) < rng.integers(length // 4, 3 * length // 4), -1.0, 1.0)
    return np.concatenate([deltas, grip[:, None]], axis=1).astype(np.float32)


def min_jerk_chunks(
    n_chunks: int, horizon: int, seed: int = 0, episode_length: int = 120
) -> np.ndarray:
    """``(n_chunks, horizon, ACTION_DIM)`` chunks cut at random starts from min-jerk episodes."""
    rng = np.random.default_rng(seed)
    out = np.empty((n_chunks, horizon, ACTION_DIM), dtype=np.float32)
    episode = min_jerk_episode(episode_length, rng)
    for i in range(n_chunks):
        if i % 8 == 0:
            episode = min_jerk_episode(episode_length, rng)
        s = rng.integers(0, episode_length - horizon + 1)
        out[i] = episode[s : s + horizon]
    return out
