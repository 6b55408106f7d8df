"""Micro-batching of concurrent requests into one ``policy.predict_batch`` forward.

    robot 1 ──obs──┐
    robot 2 ──obs──┼─> queue ─> [wait <= window or until max_batch] ─> predict_batch(B obs)
    robot N ──obs──┘                                                    │ (worker thread)
         <──────────────── actions[i] to the i-th waiting request <─────┘

The first request of a batch waits at most ``window_s`` for company, and not at all once every
connected robot has a request in the batch (``expected()``); requests that arrive
while a forward is running queue up and go together in the next one. The forward runs in a
single worker thread so the event loop keeps accepting and validating requests meanwhile.
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
    """Counters for monitoring and the benchmark: forwards run and requests served."""

    forwards: int = 0
    requests: int = 0

    @property
    def mean_batch(self) -> float:
        return self.requests / self.forwards if self.forwards else 0.0


class MicroBatcher:
    """Collects observations from many connections and answers each with its action chunk."""

    def __init__(
        self,
        predict_batch: Callable[[Sequence[dict]], np.ndarray],
        max_batch: int,
        window_s: float,
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
        await self._queue.put((obs, fut))
        return await fut

    async def _collect(self) -> list[tuple[dict, asyncio.Future]]:
        batch = [await self._queue.get()]
        deadline = time.monotonic() + self.window_s
        while len(batch) < self.max_batch:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            if self._expected is not None and len(batch) >= self._expected():
                break  # every robot that could send is already in this batch
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), timeout=remaining))
            except asyncio.TimeoutError:
                break
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect()
            live = [(obs, fut) for obs, fut in batch if not fut.cancelled()]
            if not live:
                continue
            try:
                actions = await loop.run_in_executor(
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
                        one = await loop.run_in_executor(self._executor, self._forward, [obs])
                    except Exception as single_exc:
                        _settle(fut, exc=single_exc)
                    else:
                        self._count(1)
                        _settle(fut, result=one[0])
                continue
            self._count(len(live))
            for i, (_, fut) in enumerate(live):
                _settle(fut, result=actions[i])

    def _count(self, batch: int) -> None:
        self.stats.forwards += 1
        self.stats.requests += batch

    def _forward(self, observations: list[dict]) -> np.ndarray:
        actions = np.asarray(self._predict_batch(observations), dtype=np.float32)
        if actions.ndim != 3 or actions.shape[0] != len(observations):
            raise RuntimeError(
                f"predict_batch returned shape {actions.shape} for {len(observations)} "
                "observations; expected (B, H, A)"
            )
        if not np.all(np.isfinite(actions)):
            raise RuntimeError("the policy produced non-finite actions")
        return actions


def _settle(fut: asyncio.Future, result: object = None, exc: BaseException | None = None) -> None:
    if fut.done():  # the connection went away meanwhile
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(result)
