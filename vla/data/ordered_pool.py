"""Run jobs over a spawn process pool and yield their results in job order, with a bounded
window: the parent can write results in order while workers run ahead (``vla data generate``).
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor


def ordered_results(jobs: list, rollout: Callable, workers: int) -> Iterator:
    """Yield results in job order; at most ``4 * workers`` jobs are in flight or buffered."""
    if workers == 0:
        for job in jobs:
            yield rollout(job)
        return
    ctx = mp.get_context("spawn")  # fresh interpreters: no forked GL contexts or threads
    window = 4 * workers
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures: dict[int, Future] = {}
        nxt = 0
        try:
            for pos in range(len(jobs)):
                while nxt < len(jobs) and nxt < pos + window:
                    futures[nxt] = pool.submit(rollout, jobs[nxt])
                    nxt += 1
                yield futures.pop(pos).result()
        finally:  # the consumer stopped early (time budget, error): drop queued attempts
            for future in futures.values():
                future.cancel()
