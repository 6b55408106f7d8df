"""Action chunks from episodes: what FAST is fitted on and what the benchmark measures.

The episodes come from a dataset (``vla.data.reader.dataset_episode_actions``), from the scripted
experts (``sim.experts.expert_episode_actions``) or from ``vla.tokenizers.synthetic``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def sliding_chunks(episodes: Sequence[np.ndarray], horizon: int, stride: int = 1) -> np.ndarray:
    """All full windows ``(N, horizon, D)`` of each episode ``(T, D)``, every ``stride`` steps.

    Windows never cross episode boundaries; episodes shorter than ``horizon`` give none.
    """
    if horizon < 1 or stride < 1:
        raise ValueError(f"horizon and stride must be >= 1 (got {horizon}, {stride})")
    windows = []
    for ep in episodes:
        ep = np.asarray(ep)
        if ep.ndim != 2:
            raise ValueError(f"episodes must be (T, D) arrays, got shape {ep.shape}")
        if len(ep) >= horizon:
            view = np.lib.stride_tricks.sliding_window_view(ep, horizon, axis=0)  # (N, D, H)
            windows.append(view[::stride].transpose(0, 2, 1))
    if not windows:
        raise ValueError(f"no episode has {horizon} steps: lower the chunk horizon")
    return np.concatenate(windows).astype(np.float64)
