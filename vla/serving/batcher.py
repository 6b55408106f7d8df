"""Micro-batching of concurrent requests into one ``policy.predict_batch`` forward.

    robot 1 ──obs──┐
    robot 2 ──obs──┼─> queue ─> device idle? take what is queued now ─> predict_batch(B obs)
    robot N ──obs──┘      ^                                              │ (worker thread)
                          └─ arrivals during a forward wait here and ────┘
         <── actions[i] ──   go together in the next forward

Continuous batching with one forward in flight: an idle device takes the first request at
once, together with whatever is already queued (up to ``max_batch``), and does not wait for
company; requests that arrive while a forward runs queue up and form the next batch the moment
it ends. Under load, batches grow by themselves (a slow forward gathers more requests) and at
low load nobody waits for a timer. ``window_s`` > 0 restores a batching window for an idle
device: the first request then waits at most that long for more, and not at all once every
connected robot is in the batch (``expected()``); it only pays off where a forward's cost
barely grows with the batch *and* the device is the bottleneck. The forward runs in a single
worker thread so the event loop keeps receiving, decoding and validating requests meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np


@dataclass
class BatchStats:
    """Counters for monitoring and the benchmark: forwards run, requests served, and the wall
    time spent inside ``predict_batch`` (so latency minus forward = the server's own cost)."""

    forwards: int = 0
    requests: int = 0
    forward_s: float = 0.0

    @property
    def mean_batch(self) -> float:
        return self.requests / self.forwards if self.forwards else 0.0

    @property
    def mean_forward_ms(self) -> float:
        return 1e3 * self.forward_s / self.forwards if self.forwards else 0.0


class MicroBatcher:
    """Collects observations from many connections and answers each with its action chunk."""

    def __init__(
        self,
        predict_batch: Callable[[Sequence[dict]], np.ndarray],
        max_batch: int,
        window_s: float = 0.0,
        expected: Callable[[], int] | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        if window_s < 0:
            raise ValueError(f"the batch window must be >= 0 s, got {window_s}")
        self._predict_batch = predict_batch
        self.max_batch = max_batch
        self.window_s = window_s
        # how many requests could still join (e.g. open connections); None = always wait
        self._expected = expected
        self.stats = BatchStats()
        self._queue: asyncio.Queue[tuple[dict, asyncio.Future]] = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="policy-forward")
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Start the batching loop on the running event loop."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._executor.shutdown(wait=True)

    async def submit(self, obs: dict) -> np.ndarray:
        """Queue one validated observation; return its (H, A) action chunk."""
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((obs, fut))  # unbounded queue: never blocks
        return await fut

    def _take_queued(self, batch: list) -> None:
        while len(batch) < self.max_batch and not self._queue.empty():
            batch.append(self._queue.get_nowait())

    async def _collect(self) -> list[tuple[dict, asyncio.Future]]:
        idle = self._queue.empty()  # nothing arrived during the last forward
        batch = [await self._queue.get()]
        self._take_queued(batch)
        if not idle or self.window_s <= 0:
            return batch  # these requests waited for the device already: go now
        deadline = time.monotonic() + self.window_s
        while len(batch) < self.max_batch:
            if self._expected is not None and len(batch) >= self._expected():
                break  # every robot that could send is already in this batch
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), timeout=remaining))
            except asyncio.TimeoutError:
                break
            self._take_queued(batch)
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect()
            live = [(obs, fut) for obs, fut in batch if not fut.cancelled()]
            if not live:
                continue
            try:
                actions, seconds = await loop.run_in_executor(
                    self._executor, self._forward, [obs for obs, _ in live]
                )
            except Exception as exc:
                if len(live) == 1:
                    _settle(live[0][1], exc=exc)
                    continue
                # one request may have sunk the batch (e.g. an instruction over the model's
                # token limit): run them one by one so only the culprit gets the error
                for obs, fut in live:
                    try:
                        one, seconds = await loop.run_in_executor(
                            self._executor, self._forward, [obs]
                        )
                    except Exception as single_exc:
                        _settle(fut, exc=single_exc)
                    else:
                        self._count(1, seconds)
                        _settle(fut, result=one[0])
                continue
            self._count(len(live), seconds)
            for i, (_, fut) in enumerate(live):
                _settle(fut, result=actions[i])

    def _count(self, batch: int, seconds: float) -> None:
        self.stats.forwards += 1
        self.stats.requests += batch
        self.stats.forward_s += seconds

    def _forward(self, observations: list[dict]) -> tuple[np.ndarray, float]:
        """Runs in the worker thread: (B, H, A) actions and the seconds ``predict_batch`` took."""
        start = time.perf_counter()
        actions = np.asarray(self._predict_batch(observations), dtype=np.float32)
        seconds = time.perf_counter() - start
        if actions.ndim != 3 or actions.shape[0] != len(observations):
            raise RuntimeError(
                f"predict_batch returned shape {actions.shape} for {len(observations)} "
                "observations; expected (B, H, A)"
            )
        if not np.all(np.isfinite(actions)):
            raise RuntimeError("the policy produced non-finite actions")
        return actions, seconds


def _settle(fut: asyncio.Future, result: object = None, exc: BaseException | None = None) -> None:
    if fut.done():  # the connection went away meanwhile
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(result)
