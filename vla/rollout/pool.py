"""The worker pool of every rollout command: jobs over spawned processes, results yielded in
job order (a bounded window: the parent writes in order while workers run ahead; ``vla data
generate``, ``vla sim run``) or in completion order (every job submitted at once: a progress bar
that never stalls; ``vla eval``).

    jobs --> run_jobs(jobs, work, workers, initializer, order)
               workers == 0: work(job) in this process, job order
               workers >= 1: ProcessPoolExecutor (spawn: fresh interpreters, no forked GL
                             contexts or torch threads); each worker runs die_with_parent, then
                             ``initializer(*initargs)`` (load a checkpoint once, say)

Workers die with their parent, whatever kills it: each asks Linux for SIGKILL when its parent
dies (``prctl(PR_SET_PDEATHSIG)``), so a SIGKILLed run leaves no worker behind, and with the
workers gone the multiprocessing resource tracker (kept alive by the pipe they inherit) sees
end-of-file and exits too. ``terminate_on_sigterm`` turns SIGTERM into the same clean exit
Ctrl-C takes.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import Any

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


ORDERS = ("job", "completion")


def run_jobs(
    jobs: list,
    work: Callable,
    workers: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple = (),
    order: str = "job",
) -> Iterator:
    """Yield ``work(job)`` for every job. ``work`` and ``initializer`` must be picklable
    (module-level functions or partials of them) when workers >= 1; with workers == 0 the caller
    initialises this process itself. ``order="job"`` keeps at most ``4 * workers`` jobs in
    flight or buffered; ``"completion"`` submits every job at once."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    if workers < 0:
        raise ValueError(f"workers must be >= 0 (0 = in this process), got {workers}")
    if workers == 0:
        for job in jobs:
            yield work(job)
        return
    ctx = mp.get_context("spawn")  # fresh interpreters: no forked GL contexts or threads
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                               initargs=(os.getpid(), initializer, initargs))  # fmt: skip
    with pool:
        if order == "job":
            yield from _in_job_order(pool, jobs, work, 4 * workers)
            return
        futures = [pool.submit(work, job) for job in jobs]
        try:
            for fut in as_completed(futures):
                yield fut.result()
        finally:  # the consumer stopped early (error, Ctrl-C): drop queued jobs
            for fut in futures:
                fut.cancel()


def _init_worker(parent_pid: int, initializer: Callable[..., Any] | None, initargs: tuple) -> None:
    die_with_parent(parent_pid)
    if initializer is not None:
        initializer(*initargs)


def _in_job_order(pool: ProcessPoolExecutor, jobs: list, work: Callable, window: int) -> Iterator:
    futures: dict[int, Future] = {}
    nxt = 0
    try:
        for pos in range(len(jobs)):
            while nxt < len(jobs) and nxt < pos + window:
                futures[nxt] = pool.submit(work, jobs[nxt])
                nxt += 1
            yield futures.pop(pos).result()
    finally:  # the consumer stopped early (time budget, error): drop queued jobs
        for future in futures.values():
            future.cancel()
