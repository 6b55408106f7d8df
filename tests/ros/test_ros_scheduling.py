"""Chunk scheduling (receding horizon, flush) and fixed-rate ticks."""

from __future__ import annotations

import numpy as np
import pytest

from vla.ros_core.scheduling import ChunkScheduler, RateController

MS = 1_000_000


def test_chunk_executes_first_k_then_asks_again():
    s = ChunkScheduler(7, execute_steps=3)
    assert s.needs_chunk()
    chunk = np.arange(8 * 7, dtype=np.float32).reshape(8, 7)
    s.push(chunk)
    assert len(s) == 3 and not s.needs_chunk()
    np.testing.assert_array_equal(s.peek_all(), chunk[:3])
    for i in range(3):
        np.testing.assert_array_equal(s.pop(), chunk[i])
    assert s.needs_chunk() and s.chunks_received == 1
    with pytest.raises(IndexError, match="push"):
        s.pop()


def test_flush_drops_everything():
    s = ChunkScheduler(7, execute_steps=8)
    s.push(np.zeros((8, 7)))
    assert s.flush() == 8 and s.needs_chunk() and s.peek_all().shape == (0, 7)


def test_bad_chunks_raise():
    s = ChunkScheduler(7, 4)
    with pytest.raises(ValueError, match=r"\(H, 7\)"):
        s.push(np.zeros((4, 6)))
    with pytest.raises(ValueError, match="non-finite"):
        s.push(np.full((4, 7), np.nan))
    with pytest.raises(ValueError, match="execute_steps"):
        ChunkScheduler(7, 0)
    s.push(np.ones(7))  # one action is a chunk of one
    assert len(s) == 1


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
