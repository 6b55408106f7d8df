"""Run jobs over a spawn process pool and yield their results in job order, with a bounded
window: the parent can write results in order while workers run ahead (``vla data generate``).

Workers die with their parent, whatever kills it: each asks Linux for SIGKILL when its parent
dies (``prctl(PR_SET_PDEATHSIG)``), so a SIGKILLed ``vla data generate`` leaves no worker
behind, and with the workers gone the multiprocessing resource tracker (kept alive by the pipe
they inherit) sees end-of-file and exits too. ``terminate_on_sigterm`` turns SIGTERM into the
same clean exit Ctrl-C takes.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent_pid: int) -> None:
    """Worker initializer: SIGKILL this process when its parent dies (Linux; a no-op
    elsewhere). If the parent is already gone (it died before this ran), exit now."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:
        os._exit(1)


@contextlib.contextmanager
def terminate_on_sigterm():
    """In the main thread: SIGTERM raises KeyboardInterrupt, so the pool shuts down and the
    dataset is left as Ctrl-C leaves it (committed batches kept, resume continues)."""
    if not _main_thread():  # signal handlers can only be set there
        yield
        return

    def raise_interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def ordered_results(jobs: list, rollout: Callable, workers: int) -> Iterator:
    """Yield results in job order; at most ``4 * workers`` jobs are in flight or buffered."""
    if workers == 0:
        for job in jobs:
            yield rollout(job)
        return
    ctx = mp.get_context("spawn")  # fresh interpreters: no forked GL contexts or threads
    window = 4 * workers
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                               initializer=die_with_parent, initargs=(os.getpid(),))  # fmt: skip
    with pool:
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
