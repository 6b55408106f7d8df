"""Fixed-rate ticks (the chunk executor is tested in tests/robot/test_robot_chunks.py)."""

from __future__ import annotations

import pytest

from vla.ros_core.scheduling import RateController

MS = 1_000_000


def test_rate_controller_ticks_once_per_period_and_counts_missed():
    r = RateController(10.0)
    assert r.period_ns == 100 * MS
    assert r.due(0)
    assert not r.due(50 * MS)
    assert r.due(100 * MS)
    assert not r.due(150 * MS)
    assert r.due(420 * MS)  # late: one tick, two periods missed
    assert r.missed == 2 and r.ticks == 3
    assert not r.due(450 * MS)
    assert r.due(500 * MS)  # back on the original grid
    assert r.due(599 * MS)  # 1 ms early (timer jitter) still counts ...
    assert not r.due(601 * MS)  # ... and the next tick stays on the grid (700 ms)
    assert r.due(690 * MS) and r.missed == 2
    with pytest.raises(ValueError, match="positive"):
        RateController(0.0)
