"""Per-dimension action normalisation to [-1, 1] from LeRobot dataset statistics.

Statistics arrive in the LeRobot ``meta/stats.json`` layout: either the whole file (a dict of
features, of which ``"action"`` is used) or the ``action`` entry itself, a dict of per-dimension
lists ``{"min", "max", "mean", "std", "q01", "q99", ...}``.

Modes (the statistics each needs):

- ``quantile`` (default, as in OpenVLA / pi0-FAST): ``q01 -> -1``, ``q99 -> +1``.
- ``minmax``: ``min -> -1``, ``max -> +1``.
- ``meanstd``: ``(x - mean) / (k * std)``, i.e. ``mean +- k std -> +-1``.

Values outside the range map outside [-1, 1]; tokenizers clip them (documented, not an error).
Dimensions whose range is degenerate (hi == lo, e.g. a constant in the data) use a tiny
half-range, so every value of that dimension decodes back to the constant.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vla.constants import ACTION

NORM_MODES: tuple[str, ...] = ("quantile", "minmax", "meanstd")
_REQUIRED: dict[str, tuple[str, str]] = {
    "quantile": ("q01", "q99"),
    "minmax": ("min", "max"),
    "meanstd": ("mean", "std"),
}
_MIN_HALF_RANGE = 1e-8
STATS_FILENAME = "action_stats.json"


class MissingStatisticError(KeyError):
    """A normalisation statistic needed by the chosen mode is absent from the dataset stats."""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


def _missing(name: str, mode: str) -> MissingStatisticError:
    return MissingStatisticError(
        f"dataset statistics lack {name!r} for the {ACTION!r} feature, needed by normalisation "
        f"mode {mode!r}: recompute the dataset statistics (the writer stores min, max, mean, std, "
        f"q01 and q99 in meta/stats.json, e.g. `vla data info DIR --recompute-stats`) or choose "
        f"a mode whose statistics are present ({', '.join(NORM_MODES)})"
    )


def action_stats_from(stats: dict[str, Any] | str | Path) -> dict[str, np.ndarray]:
    """Return the action statistics as float64 arrays from a stats dict or a stats.json path.

    Accepts the full LeRobot stats (``{"action": {...}, "observation.state": {...}}``), the
    ``action`` entry alone, or a path to such a JSON file.
    """
    if isinstance(stats, (str, Path)):
        path = Path(stats)
        if not path.is_file():
            raise FileNotFoundError(f"statistics file {path} does not exist")
        stats = json.loads(path.read_text())
    if not isinstance(stats, dict):
        raise TypeError(f"statistics must be a dict, got {type(stats).__name__}")
    if ACTION in stats and isinstance(stats[ACTION], dict):
        stats = stats[ACTION]
    out: dict[str, np.ndarray] = {}
    for key, value in stats.items():
        if key == "count":
            continue
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
        out[key] = arr
    return out


@dataclass(frozen=True)
class ActionNormalizer:
    """Maps actions to [-1, 1] per dimension and back, from dataset statistics.

    Attributes:
        mode: one of ``NORM_MODES``.
        stats: per-dimension statistics (float64 arrays), as from ``action_stats_from``.
        std_k: for ``meanstd``, the number of standard deviations mapped to +-1.
    """

    mode: str
    stats: dict[str, np.ndarray] = field(repr=False)
    std_k: float = 3.0

    def __post_init__(self) -> None:
        if self.mode not in NORM_MODES:
            raise ValueError(
                f"unknown normalisation mode {self.mode!r}: choose one of {NORM_MODES}"
            )
        if not self.std_k > 0:
            raise ValueError(f"std_k must be > 0 (got {self.std_k})")
        dims = set()
        for name in _REQUIRED[self.mode]:
            if name not in self.stats:
                raise _missing(name, self.mode)
            arr = self.stats[name]
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"action statistic {name!r} has non-finite values: {arr}")
            dims.add(arr.shape)
        if len(dims) != 1:
            raise ValueError(f"action statistics disagree on the action dimension: {dims}")

    @property
    def dim(self) -> int:
        """Action dimension D."""
        return int(self.stats[_REQUIRED[self.mode][0]].shape[0])

    def _centre_half_range(self) -> tuple[np.ndarray, np.ndarray]:
        if self.mode == "meanstd":
            centre = self.stats["mean"]
            half = self.std_k * self.stats["std"]
        else:
            lo_key, hi_key = _REQUIRED[self.mode]
            lo, hi = self.stats[lo_key], self.stats[hi_key]
            centre = (lo + hi) / 2.0
            half = (hi - lo) / 2.0
        return centre, np.maximum(half, _MIN_HALF_RANGE)

    @property
    def half_range(self) -> np.ndarray:
        """Action units per normalised unit, per dimension (shape ``(D,)``)."""
        return self._centre_half_range()[1]

    def normalize(self, actions: np.ndarray) -> np.ndarray:
        """Actions ``(..., D)`` -> normalised float64 (not clipped)."""
        centre, half = self._centre_half_range()
        return (np.asarray(actions, dtype=np.float64) - centre) / half

    def unnormalize(self, normed: np.ndarray) -> np.ndarray:
        """Normalised ``(..., D)`` -> actions in dataset units (float64)."""
        centre, half = self._centre_half_range()
        return np.asarray(normed, dtype=np.float64) * half + centre

    def to_json(self) -> dict[str, Any]:
        """Statistics in the LeRobot per-feature layout (lists), for saving."""
        return {k: v.tolist() for k, v in self.stats.items()}


def save_stats(normalizer: ActionNormalizer, directory: Path) -> None:
    """Write the statistics as ``{"action": {...}}`` (LeRobot layout) to ``STATS_FILENAME``."""
    (directory / STATS_FILENAME).write_text(json.dumps({ACTION: normalizer.to_json()}, indent=1))


def load_stats(directory: Path) -> dict[str, np.ndarray]:
    """Read the statistics written by ``save_stats``; a missing file names the fix."""
    path = directory / STATS_FILENAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: the tokenizer folder must hold its normalisation statistics; "
            "re-save the tokenizer with save_pretrained()"
        )
    return action_stats_from(path)


def check_finite(actions: np.ndarray) -> None:
    """Raise on NaN/inf actions, naming the first bad index."""
    bad = ~np.isfinite(actions)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"actions contain a non-finite value at index {idx}: {actions[idx]}")


def compute_action_stats(actions: np.ndarray) -> dict[str, list[float]]:
    """LeRobot-layout statistics of actions ``(N, D)`` (for tests, benchmarks, synthetic data).

    Datasets carry their own ``meta/stats.json``; prefer those for real tokenizers.
    """
    actions = np.asarray(actions, dtype=np.float64).reshape(-1, np.shape(actions)[-1])
    check_finite(actions)
    return {
        "min": actions.min(0).tolist(),
        "max": actions.max(0).tolist(),
        "mean": actions.mean(0).tolist(),
        "std": actions.std(0).tolist(),
        "q01": np.quantile(actions, 0.01, axis=0).tolist(),
        "q99": np.quantile(actions, 0.99, axis=0).tolist(),
        "count": [int(actions.shape[0])],
    }
