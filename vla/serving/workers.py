"""`vla serve --workers N`: N server processes on one port, each with its own copy of the policy.

    robots ──tcp──> port P (SO_REUSEPORT: the kernel spreads new connections over the workers)
                     ├─ worker 0: event loop + MicroBatcher + policy (cuda:0)
                     ├─ worker 1: ...                               (cuda:1 if there is one)
                     └─ parent: reserves P, starts the workers, reports one "serving on"

One Python process answers requests on one core: decoding, validating and replying cost about
0.2 ms of event-loop time per request, and the forward's thread shares the interpreter lock with
that loop. 128 robots at 30 Hz are 3,840 requests/s, about one core's worth, so a single
process saturates there however fast the GPU is (benchmarks/serve_bench.py). Workers split the
robots and the Python work; each batches its own robots' requests.

What stays per worker: batching, the idle/eviction limits (a worker evicts only its own idle
connections) and the instruction cache. What is shared: the connection cap (``max_connections``
counts every worker's robots; two handshakes racing in two workers can pass it by one) and the
``stats`` counters, summed over the workers (each publishes its own every 0.1 s and on demand).
A worker exits when its parent does; the parent stops every worker on SIGINT or SIGTERM.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import socket
import sys
import threading
import time
from typing import Any

from vla.serving.worker_slot import SharedStats, WorkerSlot

log = logging.getLogger("vla.serving")

READY_TIMEOUT_S = 600.0  # loading, and capturing CUDA graphs, can take minutes


def reserve_port(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` with SO_REUSEPORT and not listening: it holds the port
    (``port`` 0 picks a free one) so that every worker binds the same; connections only reach
    listening sockets, so none are routed to it."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise ValueError("--workers > 1 needs SO_REUSEPORT (Linux, macOS, BSD); serve one worker")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _exit_with_parent(parent: int) -> None:
    """A daemon thread: end this worker once its parent is gone (killed without a chance to
    stop its workers), so no orphan keeps the port and the GPU."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


def _worker_main(load: dict, config: Any, slot: WorkerSlot, port: int, parent: int,
                 ready: Any) -> None:  # fmt: skip
    """One worker process: load the policy, serve on the shared port until stopped."""
    import dataclasses

    _exit_with_parent(parent)
    signal.signal(signal.SIGTERM, _interrupt)
    logging.basicConfig(level=logging.INFO,
                        format=f"%(asctime)s %(name)s [worker {slot.index}] %(message)s")  # fmt: skip
    try:
        from vla.serving.policy_adapter import describe_inference, load_policy, served_device
        from vla.serving.server import PolicyServer

        load = dict(load)
        device = load.pop("device")
        if device == "cuda":  # spread the workers over the GPUs there are
            import torch

            device = f"cuda:{slot.index % max(1, torch.cuda.device_count())}"
        policy = load_policy(device=device, **load)
        device = served_device(policy)
        server = PolicyServer(policy, dataclasses.replace(config, port=port), worker=slot)
        log.info("inference on %s: %s", device, describe_inference(policy))
    except BaseException as exc:  # noqa: BLE001 - the parent reports it and stops the others
        ready.put((slot.index, f"{type(exc).__name__}: {exc}"))
        return
    try:
        server.serve_forever(ready=lambda _port: ready.put((slot.index, None)))
    except KeyboardInterrupt:
        pass


def run_workers(load: dict, config: Any, workers: int) -> int:
    """Start ``workers`` server processes on ``config.host:config.port`` and wait for them; an
    exit status for ``vla serve``. ``load``: the keyword arguments of
    ``policy_adapter.load_policy``, picklable (each worker loads its own policy)."""
    try:
        holder = reserve_port(config.host, config.port)
    except OSError as exc:
        print(f"vla serve: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"vla serve: {exc}", file=sys.stderr)
        return 2
    port = holder.getsockname()[1]
    ctx = mp.get_context("spawn")  # fresh interpreters: no forked CUDA context or threads
    shared, ready = SharedStats(workers, ctx), ctx.Queue()
    procs = [
        ctx.Process(target=_worker_main, name=f"vla-serve-{i}", daemon=False,
                    args=(load, config, WorkerSlot(i, workers, shared), port, os.getpid(), ready))
        for i in range(workers)
    ]  # fmt: skip
    stopping = threading.Event()

    def stop(*_: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    status = 0
    try:
        for p in procs:
            p.start()
        waiting = set(range(workers))
        deadline = time.monotonic() + READY_TIMEOUT_S
        while waiting and not stopping.is_set():
            try:
                index, error = ready.get(timeout=0.5)
            except Exception:  # queue.Empty: check for dead workers and the deadline
                dead = [i for i in waiting if not procs[i].is_alive()]
                if dead or time.monotonic() > deadline:
                    why = f"exited (code {procs[dead[0]].exitcode})" if dead else "timed out"
                    print(f"vla serve: worker {(dead or sorted(waiting))[0]} {why} before "
                          "listening", file=sys.stderr)  # fmt: skip
                    return 1
                continue
            if error is not None:
                print(f"vla serve: worker {index}: {error}", file=sys.stderr)
                return 2
            waiting.discard(index)
        if not stopping.is_set():
            scheme = "wss" if config.certfile else "ws"
            log.info("serving on %s:%d (%s://), %d workers", config.host, port, scheme, workers)
        while not stopping.is_set():
            if any(not p.is_alive() for p in procs):
                gone = next(i for i, p in enumerate(procs) if not p.is_alive())
                print(f"vla serve: worker {gone} exited (code {procs[gone].exitcode}); "
                      "stopping the others", file=sys.stderr)  # fmt: skip
                status = 1
                break
            stopping.wait(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        holder.close()
        for p in procs:
            if p.is_alive():
                os.kill(p.pid, signal.SIGINT)
        for p in procs:
            p.join(10.0)
            if p.is_alive():
                p.kill()
                p.join()
    return status
