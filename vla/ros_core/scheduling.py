"""Control-rate bookkeeping and action-chunk scheduling.

The policy returns a chunk of H actions per call; the robot consumes one per control period.
:class:`ChunkScheduler` executes the first ``execute_steps`` actions of a chunk open-loop and then
asks for a new chunk (receding horizon, as ``Policy.select_action`` does), and drops everything
queued on :meth:`flush` (a stop must never replay old actions). :class:`RateController` turns a
jittery timer into a fixed-rate tick count and reports overruns.
"""

from __future__ import annotations

from collections import deque

import numpy as np

NS = 1_000_000_000


class ChunkScheduler:
    """Queue of the current chunk's actions; one per tick."""

    def __init__(self, action_dim: int, execute_steps: int):
        if execute_steps < 1:
            raise ValueError(f"execute_steps must be >= 1, got {execute_steps}")
        self.action_dim = action_dim
        self.execute_steps = execute_steps
        self._queue: deque[np.ndarray] = deque()
        self.chunks_received = 0

    def __len__(self) -> int:
        return len(self._queue)

    def needs_chunk(self) -> bool:
        """True when the queue is empty: time to run the policy on the newest observation."""
        return not self._queue

    def push(self, chunk) -> None:
        """Replace the queue with the first ``execute_steps`` actions of ``chunk`` (H, A)."""
        chunk = np.asarray(chunk, dtype=np.float32)
        if chunk.ndim == 1:
            chunk = chunk[None]
        if chunk.ndim != 2 or chunk.shape[1] != self.action_dim or len(chunk) == 0:
            raise ValueError(
                f"policy returned a chunk of shape {chunk.shape}; expected "
                f"(H, {self.action_dim}) with H >= 1"
            )
        if not np.all(np.isfinite(chunk)):
            raise ValueError("policy returned non-finite actions; refusing to queue them")
        self._queue = deque(chunk[: self.execute_steps])
        self.chunks_received += 1

    def pop(self) -> np.ndarray:
        """The next action to execute."""
        if not self._queue:
            raise IndexError("no queued action; call push() with a new chunk first")
        return self._queue.popleft()

    def peek_all(self) -> np.ndarray:
        """The queued actions (N, A) without consuming them (for trajectory look-ahead)."""
        if not self._queue:
            return np.zeros((0, self.action_dim), dtype=np.float32)
        return np.stack(self._queue)

    def flush(self) -> int:
        """Drop every queued action; returns how many were dropped."""
        n = len(self._queue)
        self._queue.clear()
        return n


class RateController:
    """Fixed-rate ticks over a nanosecond clock: ``due(now)`` is True once per period.

    A timer callback up to ``early_fraction`` of a period early still counts (timer jitter must
    not halve the rate); a late one yields one tick and the periods it skipped are counted in
    ``missed`` (the loop never catches up by executing several actions at once).
    """

    def __init__(self, rate_hz: float, early_fraction: float = 0.25):
        if not rate_hz > 0:
            raise ValueError(f"control rate must be positive, got {rate_hz}")
        if not 0 <= early_fraction < 1:
            raise ValueError(f"early_fraction must be in [0, 1), got {early_fraction}")
        self.rate_hz = float(rate_hz)
        self.period_ns = round(NS / rate_hz)
        self.early_ns = int(early_fraction * self.period_ns)
        self._next_ns: int | None = None
        self.ticks = 0
        self.missed = 0

    @property
    def period_s(self) -> float:
        return self.period_ns / NS

    def due(self, now_ns: int) -> bool:
        if self._next_ns is None:
            self._next_ns = now_ns + self.period_ns
            self.ticks += 1
            return True
        if now_ns < self._next_ns - self.early_ns:
            return False
        behind = max(0, now_ns - self._next_ns) // self.period_ns
        self.missed += int(behind)
        self._next_ns += (behind + 1) * self.period_ns
        self.ticks += 1
        return True

    def reset(self) -> None:
        self._next_ns = None


class LatencyStats:
    """Camera stamp -> command publish latencies of the last ``window`` chunks, in nanoseconds.

    ``late`` counts commands that left more than ``late_after_ns`` after the frame they were
    computed from (one control period by default: the robot acted on a frame older than a tick).
    """

    def __init__(self, late_after_ns: int, window: int = 1000):
        self.late_after_ns = int(late_after_ns)
        self._values: deque[int] = deque(maxlen=window)
        self.count = 0
        self.late = 0

    def add(self, latency_ns: int) -> None:
        self._values.append(int(latency_ns))
        self.count += 1
        self.late += latency_ns > self.late_after_ns

    def summary(self) -> dict:
        """{"n", "late", "p50_ms", "p99_ms", "max_ms"} over the window (ms values None if empty)."""
        out = {"n": self.count, "late": self.late, "p50_ms": None, "p99_ms": None, "max_ms": None}
        if self._values:
            ms = np.asarray(self._values, dtype=np.float64) / 1e6
            out.update(
                p50_ms=round(float(np.percentile(ms, 50)), 3),
                p99_ms=round(float(np.percentile(ms, 99)), 3),
                max_ms=round(float(ms.max()), 3),
            )
        return out
