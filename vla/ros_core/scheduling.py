"""Control-rate bookkeeping: fixed-rate ticks and command latencies.

:class:`RateController` turns a jittery timer into a fixed-rate tick count and reports overruns;
:class:`LatencyStats` keeps camera-stamp-to-command latencies for diagnostics. Turning action
chunks into one action per tick is ``vla.robot.chunks.ChunkExecutor`` (shared with simulation).
"""

from __future__ import annotations

from collections import deque

import numpy as np

NS = 1_000_000_000


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
