"""Uniform-bin action tokenizer (RT-2 / OpenVLA style).

    action (..., D) --normalise (dataset stats)--> [-1, 1] --clip--> bin in [0, N) --> offset + bin

Every dimension shares the same id range ``[offset, offset + n_bins)`` (as in OpenVLA), so a
chunk of H actions is H x D tokens. Decoding returns bin centres, un-normalised, so the round
trip error within the clip range is at most half a bin width: ``half_range_d / n_bins`` in the
units of dimension d.

Binary gripper (optional): the gripper dimension (``gripper_index``) is not normalised; values
> 0 mean close (+1) and <= 0 mean open (-1), the convention of ``vla.constants``. Open encodes to
bin 0 and close to bin ``n_bins - 1`` (the ends of the shared range, i.e. the normalised -1 / +1);
decoding thresholds at the middle of the range, so every id in range decodes to exactly -1 or +1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vla.tokenizers.base import NormalizedActionTokenizer
from vla.tokenizers.normalization import (
    NORM_MODES,
    check_finite,
    load_stats,
)

GRIPPER_OPEN = -1.0
GRIPPER_CLOSE = 1.0


@dataclass(frozen=True)
class BinningConfig:
    """Config of ``BinningActionTokenizer``.

    Attributes:
        n_bins: uniform bins per dimension over the normalised range [-1, 1].
        offset: first token id in the language model vocabulary.
        norm_mode: ``quantile`` (q01/q99), ``minmax`` or ``meanstd``.
        std_k: for ``meanstd``: mean +- std_k * std maps to +-1 (values beyond are clipped).
        gripper_binary: encode the gripper dimension as open/close only.
        gripper_index: which dimension is the gripper (negative counts from the end).
    """

    n_bins: int = 256
    offset: int = 0
    norm_mode: str = "quantile"
    std_k: float = 3.0
    gripper_binary: bool = False
    gripper_index: int = -1

    def __post_init__(self) -> None:
        if self.n_bins < 2:
            raise ValueError(f"n_bins must be >= 2 (got {self.n_bins})")
        if self.offset < 0:
            raise ValueError(f"offset must be >= 0 (got {self.offset})")
        if self.norm_mode not in NORM_MODES:
            raise ValueError(f"norm_mode {self.norm_mode!r} unknown: choose one of {NORM_MODES}")


class BinningActionTokenizer(NormalizedActionTokenizer):
    """RT-2/OpenVLA uniform binning. Shapes: ``(D,)``, ``(H, D)``, ``(B, H, D)`` -> same-shape ids.

    Args:
        stats: LeRobot statistics (whole stats.json dict, its ``action`` entry, or a path).
        config: a ``BinningConfig``; defaults to 256 bins, quantile normalisation, offset 0.
    """

    type_name = "binning"

    def __init__(self, stats: dict[str, Any] | str | Path, config: BinningConfig | None = None):
        self._init_normalizer(stats, config or BinningConfig())
        d = self.normalizer.dim
        gi = self.config.gripper_index
        if self.config.gripper_binary and not -d <= gi < d:
            raise ValueError(f"gripper_index {gi} is outside the action dimension {d}")
        self._gripper = gi % d if self.config.gripper_binary else None

    # ---- interface properties ---------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self.config.n_bins

    @property
    def bin_width(self) -> np.ndarray:
        """Width of one bin in action units, per dimension (shape ``(D,)``)."""
        return 2.0 * self.normalizer.half_range / self.config.n_bins

    # ---- encode / decode ----------------------------------------------------------------------
    def _check_shape(self, arr: np.ndarray, what: str) -> None:
        if arr.ndim not in (1, 2, 3) or arr.shape[-1] != self.action_dim:
            raise ValueError(
                f"{what} must have shape (D,), (H, D) or (B, H, D) with D={self.action_dim}; "
                f"got {arr.shape}"
            )

    def encode(self, actions: np.ndarray) -> np.ndarray:
        """Actions (dataset units) -> int64 ids of the same shape. NaN/inf raise."""
        actions = np.asarray(actions, dtype=np.float64)
        self._check_shape(actions, "actions")
        check_finite(actions)
        n = self.config.n_bins
        normed = np.clip(self.normalizer.normalize(actions), -1.0, 1.0)
        bins = np.minimum(np.floor((normed + 1.0) / 2.0 * n), n - 1).astype(np.int64)
        if self._gripper is not None:
            close = actions[..., self._gripper] > 0.0
            bins[..., self._gripper] = np.where(close, n - 1, 0)
        return bins + self.config.offset

    def decode(self, ids: np.ndarray) -> np.ndarray:
        """Ids -> actions (float64, bin centres in dataset units). Bad ids raise ValueError."""
        ids = np.asarray(ids)
        if not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"ids must be integers, got dtype {ids.dtype}")
        self._check_shape(ids, "ids")
        self.check_id_range(ids)
        return self.decode_positions(ids.astype(np.int64) - self.config.offset)

    def decode_positions(self, positions: np.ndarray) -> np.ndarray:
        """Bin positions (0..n_bins-1, offset removed; fractional allowed) -> actions (float64).

        An integer position decodes to its bin centre, as ``decode`` does; a fractional one
        (a probability-weighted mean over neighbouring bins) falls linearly between centres.
        The binary gripper closes at positions >= n_bins // 2, as for ids.
        """
        pos = np.asarray(positions, dtype=np.float64)
        self._check_shape(pos, "positions")
        n = self.config.n_bins
        if not np.isfinite(pos).all() or pos.min(initial=0.0) < 0 or pos.max(initial=0.0) > n - 1:
            raise ValueError(f"positions must be finite and in [0, {n - 1}]")
        centres = -1.0 + (pos + 0.5) * (2.0 / n)
        actions = self.normalizer.unnormalize(centres)
        if self._gripper is not None:
            close = pos[..., self._gripper] >= n // 2 - 0.5
            actions[..., self._gripper] = np.where(close, GRIPPER_CLOSE, GRIPPER_OPEN)
        return actions

    # ---- persistence --------------------------------------------------------------------------
    def save_pretrained(self, directory: str | Path) -> Path:
        return self._save_config_and_stats(directory)

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> BinningActionTokenizer:
        payload = cls._read_own_config(directory)
        return cls(load_stats(Path(directory)), BinningConfig(**payload["config"]))
