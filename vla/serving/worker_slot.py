"""What the processes of ``vla serve --workers N`` share (vla/serving/workers.py): a table of
counters in shared memory, one row per worker, and each worker's place in it."""

from __future__ import annotations

import multiprocessing as mp
from dataclasses import dataclass
from typing import Any

FIELDS = ("forwards", "requests", "forward_s", "connections", "closed_idle", "evicted", "pid")
PUBLISH_S = 0.1  # how often a worker copies its counters into the shared table


class SharedStats:
    """One row of ``FIELDS`` per worker in shared memory (float64, under one lock)."""

    def __init__(self, workers: int, ctx: Any = None) -> None:
        ctx = ctx or mp.get_context("spawn")
        self.workers = workers
        self.array = ctx.Array("d", workers * len(FIELDS))

    def write(self, index: int, row: dict[str, float]) -> None:
        base = index * len(FIELDS)
        with self.array.get_lock():
            for j, name in enumerate(FIELDS):
                self.array[base + j] = float(row.get(name, 0.0))

    def rows(self) -> list[dict[str, float]]:
        with self.array.get_lock():
            values = list(self.array)
        n = len(FIELDS)
        return [dict(zip(FIELDS, values[i * n : (i + 1) * n], strict=True))
                for i in range(self.workers)]  # fmt: skip

    def connections(self) -> int:
        return int(sum(r["connections"] for r in self.rows()))

    def total(self) -> dict[str, Any]:
        """The server-wide counters (``PolicyServer.stats`` keys) plus ``workers``: each
        worker's own row (pid, requests, connections, ...)."""
        rows = self.rows()
        out: dict[str, Any] = {k: sum(r[k] for r in rows) for k in FIELDS if k != "pid"}
        for k in ("forwards", "requests", "connections", "closed_idle", "evicted"):
            out[k] = int(out[k])
        out["mean_batch"] = out["requests"] / out["forwards"] if out["forwards"] else 0.0
        out["mean_forward_ms"] = (
            1e3 * out["forward_s"] / out["forwards"] if out["forwards"] else 0.0
        )
        out["workers"] = [{k: (v if k == "forward_s" else int(v)) for k, v in r.items()}
                          for r in rows]  # fmt: skip
        return out


@dataclass
class WorkerSlot:
    """What a worker's ``PolicyServer`` needs to know about its siblings."""

    index: int
    count: int
    shared: SharedStats
