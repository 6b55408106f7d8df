"""Task suites: explicit registry of suite name -> {family name -> Task}."""

from __future__ import annotations

from sim.tasks.base import SPLITS, Episode, Task
from sim.tasks.pick_place import PICK_PLACE

SUITES: dict[str, dict[str, Task]] = {
    "pick_place": PICK_PLACE,
}


def get_task(suite: str, family: str) -> Task:
    """The registered task; unknown names raise ValueError listing the valid ones."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; valid suites: {sorted(SUITES)}")
    if family not in SUITES[suite]:
        raise ValueError(
            f"unknown task {family!r} in suite {suite!r}; valid tasks: {list(SUITES[suite])}"
        )
    return SUITES[suite][family]


__all__ = ["SPLITS", "SUITES", "Episode", "Task", "get_task"]
