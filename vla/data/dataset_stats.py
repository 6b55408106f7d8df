"""Recompute ``meta/stats.json`` of a dataset (ours or LeRobot's) from its files.

Numeric features get exact statistics over every frame (LeRobot's own datasets store
count-weighted means of per-episode quantiles, which can be far from the true q01/q99);
images are combined from the per-episode statistics in the episode table, or computed by
decoding the episodes when the table has none. See :mod:`vla.data.stats` for the conventions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vla.data.layout import STATS_PATH, atomic_write_json, parquet_columns, read_parquet
from vla.data.reader import LeRobotDatasetReader
from vla.data.stats import STAT_NAMES, aggregate_stats, array_stats, image_stats, to_json


def _episode_image_stats(root: Path, key: str) -> list[dict[str, np.ndarray]] | None:
    files = sorted((root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
    names = [f"stats/{key}/{n}" for n in STAT_NAMES]
    rows: list[dict] = []
    for path in files:
        if not set(names) <= set(parquet_columns(path)):
            return None
        rows.extend(read_parquet(path, columns=["episode_index", *names]).to_pylist())
    rows.sort(key=lambda r: r["episode_index"])
    return [{n: np.asarray(r[f"stats/{key}/{n}"]) for n in STAT_NAMES} for r in rows]


def compute_dataset_stats(root: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """Statistics of every numeric feature (exact) and camera (per channel, in [0, 1])."""
    reader = LeRobotDatasetReader(root)
    per_key: dict[str, list[np.ndarray]] = {k: [] for k in reader.numeric_keys}
    for e in range(reader.num_episodes):
        for k, v in reader.episode_arrays(e).items():
            per_key[k].append(v.reshape(len(v), -1))
    out = {k: array_stats(np.concatenate(v)) for k, v in per_key.items() if v}
    for key in reader.camera_keys:
        episodes = _episode_image_stats(reader.root, key)
        if episodes is None:
            episodes = [
                image_stats(reader.episode_frames(e, key)) for e in range(reader.num_episodes)
            ]
        out[key] = aggregate_stats(episodes)
    return out


def recompute_stats(root: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """Recompute and atomically rewrite ``meta/stats.json``; returns the statistics."""
    stats = compute_dataset_stats(root)
    path = Path(root) / STATS_PATH
    try:
        atomic_write_json(path, to_json(stats))
    except PermissionError as exc:
        raise PermissionError(
            f"{path}: cannot rewrite statistics ({exc}); copy the dataset"
        ) from exc
    return stats
