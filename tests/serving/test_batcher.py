"""MicroBatcher scheduling: an idle device dispatches at once, arrivals during a forward form
the next batch without a timer, the optional window waits only when the device is idle."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from vla.serving.batcher import MicroBatcher


class GatedPolicy:
    """predict_batch blocks until ``gate`` is set; records batch sizes and call start times."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()
        self.batches: list[int] = []
        self.calls: list[float] = []

    def predict_batch(self, observations: list[dict]) -> np.ndarray:
        self.calls.append(time.monotonic())
        self.batches.append(len(observations))
        self.started.set()
        assert self.gate.wait(10)
        return np.stack([np.full((2, 3), o["i"], np.float32) for o in observations])


async def _wait_for(event: threading.Event) -> None:
    while not event.is_set():
        await asyncio.sleep(0.001)


def test_idle_device_dispatches_a_lone_request_at_once() -> None:
    policy = GatedPolicy()

    async def main() -> float:
        batcher = MicroBatcher(policy.predict_batch, max_batch=8, window_s=0.0)
        batcher.start()
        t0 = time.monotonic()
        out = await batcher.submit({"i": 7})
        await batcher.close()
        np.testing.assert_array_equal(out, np.full((2, 3), 7, np.float32))
        return policy.calls[0] - t0

    waited = asyncio.run(main())
    assert policy.batches == [1]
    assert waited < 0.05, f"a lone request waited {waited * 1e3:.1f} ms before its forward"


def test_requests_arriving_during_a_forward_form_the_next_batch_without_a_timer() -> None:
    policy = GatedPolicy()
    policy.gate.clear()

    async def main() -> tuple[list[np.ndarray], float, float]:
        # a long window: it must not apply to requests that already waited for the device
        robots = [1]  # one robot connected: the first request goes at once
        batcher = MicroBatcher(policy.predict_batch, 4, window_s=5.0, expected=lambda: robots[0])
        batcher.start()
        first = asyncio.ensure_future(batcher.submit({"i": 0}))
        await _wait_for(policy.started)  # forward 1 (batch of 1) is in flight
        robots[0] = 10  # more robots connect and send while it runs
        rest = [asyncio.ensure_future(batcher.submit({"i": i})) for i in range(1, 7)]
        await asyncio.sleep(0.05)
        released = time.monotonic()
        policy.gate.set()
        results = await asyncio.gather(first, *rest)
        await batcher.close()
        return results, released, batcher.stats.mean_batch

    results, released, mean_batch = asyncio.run(main())
    # 6 queued requests with max_batch 4: two forwards right after the first, no window wait
    assert policy.batches == [1, 4, 2]
    assert policy.calls[1] - released < 1.0 and policy.calls[2] - released < 1.0
    for i, out in enumerate(results):
        np.testing.assert_array_equal(out, np.full((2, 3), i, np.float32))
    assert mean_batch == pytest.approx(7 / 3)


def test_window_waits_for_company_only_until_every_robot_is_in() -> None:
    policy = GatedPolicy()
    robots = 3

    async def main() -> float:
        batcher = MicroBatcher(policy.predict_batch, 8, window_s=5.0, expected=lambda: robots)
        batcher.start()
        t0 = time.monotonic()
        first = asyncio.ensure_future(batcher.submit({"i": 0}))
        await asyncio.sleep(0.05)
        assert not policy.batches  # the idle device waits for more (window 5 s)
        others = [batcher.submit({"i": 1}), batcher.submit({"i": 2})]
        await asyncio.gather(first, *others)
        await batcher.close()
        return time.monotonic() - t0

    elapsed = asyncio.run(main())
    assert policy.batches == [3]
    assert elapsed < 2.0  # dispatched once all 3 robots were in, not after the 5 s window


def test_stats_count_forward_time() -> None:
    policy = GatedPolicy()
    policy.gate.clear()

    async def main():
        batcher = MicroBatcher(policy.predict_batch, max_batch=8)
        batcher.start()
        task = asyncio.ensure_future(batcher.submit({"i": 1}))
        await asyncio.sleep(0.03)  # the forward blocks at least this long
        policy.gate.set()
        await task
        await batcher.close()
        return batcher.stats

    stats = asyncio.run(main())
    assert stats.forwards == 1 and stats.requests == 1
    assert stats.forward_s >= 0.02 and stats.mean_forward_ms == pytest.approx(1e3 * stats.forward_s)
