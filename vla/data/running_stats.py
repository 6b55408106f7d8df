"""The dataset-wide statistics a ``DatasetWriter`` keeps for ``meta/stats.json``: the numeric
columns of every saved frame (exact statistics) and each camera's per-episode image statistics,
appended per saved episode and, on resume, rebuilt from the committed episodes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vla.data import consolidate as cons
from vla.data.reader import column_to_numpy
from vla.data.stats import aggregate_stats, array_stats


class RunningStats:
    """Per-episode values of the ``numeric`` columns and ``cameras`` of a dataset's
    ``features``, in episode order; :meth:`dataset_stats` combines them."""

    def __init__(self, features: dict[str, dict], numeric: list[str], cameras: list[str]):
        self.features = features
        self.values: dict[str, list[np.ndarray]] = {k: [] for k in numeric}
        self.image_stats: dict[str, list[dict]] = {k: [] for k in cameras}

    def add(self, columns: dict[str, np.ndarray], episode_stats: dict, length: int) -> None:
        """A saved episode: its numeric ``columns`` and its cameras' ``episode_stats``."""
        for k in self.values:
            self.values[k].append(columns[k].reshape(length, -1))
        for k in self.image_stats:
            self.image_stats[k].append(episode_stats[k])

    def add_committed(self, root: Path, rows: list[dict]) -> None:
        """The episodes of the (repaired) episode table ``rows``: numeric values read from
        their data files, image statistics from the rows."""
        for row, table in cons.iter_episode_tables(root, rows):
            for k in self.values:
                values = column_to_numpy(table[k], self.features[k]["dtype"])
                self.values[k].append(values.reshape(len(values), -1))
            for k in self.image_stats:
                self.image_stats[k].append(
                    {
                        n.split("/")[-1]: np.asarray(v)
                        for n, v in row.items()
                        if n.startswith(f"stats/{k}/")
                    }  # fmt: skip
                )

    def dataset_stats(self) -> dict[str, dict[str, np.ndarray]]:
        out = {}
        for k, values in self.values.items():
            if values:
                out[k] = array_stats(np.concatenate(values))
        for k, stats in self.image_stats.items():
            if stats:
                out[k] = aggregate_stats(stats)
        return out
