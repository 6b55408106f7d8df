"""Action chunk broker: turns chunk predictions into one action per control step.

    obs_t --(queue empty?)--> predict chunk (H, D) --keep first K--> queue --pop--> action_t

Open-loop mode executes K = ``execution_horizon`` actions of each chunk, then re-plans.
Temporal ensembling (ACT, Zhao et al. 2023) predicts every step and averages, for step t, all
chunks that cover t, weighting the chunk predicted i steps ago by ``exp(-decay * i)`` (older
predictions weigh more with positive decay, as in ACT).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np


class ChunkBroker:
    """Serve single actions from a chunk predictor ``predict(obs) -> (H, D)``."""

    def __init__(
        self,
        predict: Callable[[dict], np.ndarray],
        execution_horizon: int,
        temporal_ensemble: bool = False,
        ensemble_decay: float = 0.01,
    ):
        if execution_horizon < 1:
            raise ValueError(f"execution_horizon must be >= 1, got {execution_horizon}")
        self.predict = predict
        self.execution_horizon = execution_horizon
        self.temporal_ensemble = temporal_ensemble
        self.ensemble_decay = ensemble_decay
        self.reset()

    def reset(self) -> None:
        """Forget queued actions and past chunks (call at every episode start)."""
        self._queue: deque[np.ndarray] = deque()
        self._chunks: list[tuple[int, np.ndarray]] = []  # (step predicted, chunk)
        self._step = 0

    def select_action(self, obs: dict) -> np.ndarray:
        """The action (D,) float32 for this control step."""
        if self.temporal_ensemble:
            action = self._ensembled(obs)
        else:
            if not self._queue:
                chunk = np.asarray(self.predict(obs), dtype=np.float32)
                self._queue.extend(chunk[: self.execution_horizon])
            action = self._queue.popleft()
        self._step += 1
        return action

    def _ensembled(self, obs: dict) -> np.ndarray:
        t = self._step
        chunk = np.asarray(self.predict(obs), dtype=np.float32)
        self._chunks.append((t, chunk))
        self._chunks = [(s, c) for s, c in self._chunks if t - s < len(c)]
        preds = np.stack([c[t - s] for s, c in self._chunks])  # oldest first, (n, D)
        w = np.exp(-self.ensemble_decay * np.arange(len(preds)))
        return (w[:, None] * preds).sum(0).astype(np.float32) / w.sum()
