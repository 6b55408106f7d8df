"""Per-connection open-loop chunk execution for the server's ``step`` op.

The robot asks for one action per control tick; the connection's broker hands out the first
``n_action_steps`` actions of the last chunk, then asks for a new chunk (re-plans). The server
keeps one broker per connection so robots never share execution state.
"""

from __future__ import annotations

from collections import deque

import numpy as np


class StepBroker:
    """Hands out actions of the current chunk one at a time; re-plans when they run out."""

    def __init__(self, n_action_steps: int) -> None:
        if n_action_steps < 1:
            raise ValueError(f"n_action_steps must be >= 1, got {n_action_steps}")
        self.n_action_steps = n_action_steps
        self._pending: deque[np.ndarray] = deque()

    def reset(self) -> None:
        """Forget the current chunk (new episode)."""
        self._pending.clear()

    def needs_plan(self) -> bool:
        return not self._pending

    def push(self, chunk: np.ndarray) -> None:
        """Queue the first ``n_action_steps`` actions of a (H, A) chunk."""
        if chunk.ndim != 2 or len(chunk) == 0:
            raise ValueError(f"expected a (H, A) action chunk, got shape {chunk.shape}")
        self._pending.extend(np.asarray(chunk[: self.n_action_steps], dtype=np.float32))

    def pop(self) -> np.ndarray:
        if not self._pending:
            raise RuntimeError("no action queued: call push() with a new chunk first")
        return self._pending.popleft()
