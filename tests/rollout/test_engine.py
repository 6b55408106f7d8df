"""The rollout engine's seeds, lists and pool: the seeds are golden values (they define published
results: the checkpoint's evaluation, shipped datasets, the expert's table), so a change to any
seed function fails here before it silently changes a result."""

from __future__ import annotations

import pytest

from sim.env import BACKENDS as SIM_BACKENDS
from sim.tasks import SPLITS as SIM_SPLITS
from vla.rollout.jobs import (
    BACKENDS,
    BOTH_SPLITS,
    SPLITS,
    attempt_seed,
    consecutive_seed,
    eval_seed,
)
from vla.rollout.pool import run_jobs


def test_seed_functions_keep_their_published_values():
    assert [eval_seed(0, "train", "pick", 0), eval_seed(0, "heldout", "stack", 3),
            eval_seed(7, "train", "push", 1)] == [1668084216, 1636029018, 3215036315]  # fmt: skip
    assert [attempt_seed(3, 0), attempt_seed(3, 5), attempt_seed(0, 1)] == [
        1576890651, 3746004709, 3964924996]  # fmt: skip
    assert [consecutive_seed(5, i) for i in range(3)] == [5, 6, 7]


def test_lists_are_the_simulators():
    assert BACKENDS == tuple(SIM_BACKENDS) and SPLITS is SIM_SPLITS
    assert BOTH_SPLITS == ("train", "heldout")


def _square(x: int) -> int:
    return x * x


@pytest.mark.parametrize("workers", [0, 2])
def test_pool_job_order_and_completion_order(workers: int):
    jobs = list(range(12))
    assert list(run_jobs(jobs, _square, workers)) == [x * x for x in jobs]
    done = list(run_jobs(jobs, _square, workers, order="completion"))
    assert sorted(done) == [x * x for x in jobs]


def test_pool_rejects_an_unknown_order():
    with pytest.raises(ValueError, match="order must be one of"):
        list(run_jobs([1], _square, 0, order="random"))
