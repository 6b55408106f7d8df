"""Feature statistics in LeRobot's form: min, max, mean, std, count and quantiles per feature.

* Numeric features (state, action, bookkeeping columns): statistics over every frame, exact,
  shape (D,). The writer keeps these columns in memory (4-8 bytes x dims per frame), so the
  dataset quantiles are exact too (np.quantile, linear interpolation).
* Images: per channel, values scaled to [0, 1], shape (3, 1, 1) as LeRobot stores them. Per
  episode they are computed on at most ``IMAGE_SAMPLE_FRAMES`` evenly spaced frames, pixels
  strided to at most ~64 per side; dataset min/max/mean/std are combined exactly from the
  episodes (parallel variance formula) and dataset quantiles are the count-weighted mean of the
  episode quantiles, which is LeRobot's own aggregation (an approximation).
"""

from __future__ import annotations

import numpy as np

QUANTILES: dict[str, float] = {"q01": 0.01, "q10": 0.10, "q50": 0.50, "q90": 0.90, "q99": 0.99}
STAT_NAMES: tuple[str, ...] = ("min", "max", "mean", "std", "count", *QUANTILES)
IMAGE_SAMPLE_FRAMES = 32
IMAGE_MAX_SIDE = 64


def array_stats(values: np.ndarray) -> dict[str, np.ndarray]:
    """Statistics over axis 0 of a (N, ...) array (N >= 1)."""
    values = np.asarray(values)
    as_float = values.astype(np.float64)
    out = {
        "min": values.min(axis=0),
        "max": values.max(axis=0),
        "mean": as_float.mean(axis=0),
        "std": as_float.std(axis=0),
        "count": np.array([len(values)], dtype=np.int64),
    }
    qs = np.quantile(as_float, list(QUANTILES.values()), axis=0)
    for i, name in enumerate(QUANTILES):
        out[name] = qs[i]
    return out


def image_stats(frames: np.ndarray) -> dict[str, np.ndarray]:
    """Per-channel statistics of uint8 frames (T, H, W, 3), scaled to [0, 1], shape (3, 1, 1)."""
    t, h, w, _ = frames.shape
    idx = np.unique(np.linspace(0, t - 1, min(t, IMAGE_SAMPLE_FRAMES)).round().astype(int))
    step = max(1, int(np.ceil(max(h, w) / IMAGE_MAX_SIDE)))
    sample = frames[idx, ::step, ::step, :].reshape(-1, 3).astype(np.float64) / 255.0
    st = array_stats(sample)
    out = {k: v.reshape(3, 1, 1) for k, v in st.items() if k != "count"}
    out["count"] = np.array([t], dtype=np.int64)  # frames in the episode, as LeRobot counts
    return out


def aggregate_stats(episode_stats: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Combine per-episode statistics: exact min/max/mean/std, count-weighted quantiles."""
    counts = np.array([float(s["count"][0]) for s in episode_stats])
    weights = counts / counts.sum()

    def wsum(name: str) -> np.ndarray:
        return sum(
            w * np.asarray(s[name], dtype=np.float64)
            for w, s in zip(weights, episode_stats, strict=True)
        )

    mean = wsum("mean")
    var = sum(
        w * (np.asarray(s["std"], np.float64) ** 2 + (np.asarray(s["mean"]) - mean) ** 2)
        for w, s in zip(weights, episode_stats, strict=True)
    )
    out = {
        "min": np.min(np.stack([s["min"] for s in episode_stats]), axis=0),
        "max": np.max(np.stack([s["max"] for s in episode_stats]), axis=0),
        "mean": mean,
        "std": np.sqrt(var),
        "count": np.array([int(counts.sum())], dtype=np.int64),
    }
    for name in QUANTILES:
        out[name] = wsum(name)
    return out


def to_json(stats: dict[str, dict[str, np.ndarray]]) -> dict:
    """Nested lists, as meta/stats.json holds them."""
    return {k: {n: np.asarray(v).tolist() for n, v in st.items()} for k, st in stats.items()}


def from_json(obj: dict) -> dict[str, dict[str, np.ndarray]]:
    return {k: {n: np.asarray(v) for n, v in st.items()} for k, st in obj.items()}
