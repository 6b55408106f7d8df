"""Task suites: explicit registry of suite name -> {family name -> Task}, and what a suite's
episodes look like as data (``SUITE_FORMATS``)."""

from __future__ import annotations

from dataclasses import dataclass

from sim.tasks.base import SPLITS, Episode, Task
from sim.tasks.metaworld_tasks import MT50, MT50_GROUPS, MetaWorldTask
from sim.tasks.pick_place import PICK_PLACE
from vla import constants as c

SUITES: dict[str, dict[str, Task | MetaWorldTask]] = {
    "pick_place": PICK_PLACE,
    # Meta-World MT50: tasks as data; the environments are Meta-World's (sim/metaworld_env.py)
    "mt50": MT50,
}

#: suite -> difficulty group -> tasks, for per-group averages in `vla eval` (suites without
#: groups are absent)
TASK_GROUPS: dict[str, dict[str, tuple[str, ...]]] = {"mt50": MT50_GROUPS}


@dataclass(frozen=True)
class SuiteFormat:
    """A suite's episodes as data: state and action layouts, control rate (the dataset's fps)
    and the robot (the dataset's robot_type)."""

    state_names: tuple[str, ...]
    action_names: tuple[str, ...]
    action_space: str
    control_hz: float
    robot_type: str


SUITE_FORMATS: dict[str, SuiteFormat] = {
    "pick_place": SuiteFormat(c.STATE_NAMES, c.EEF_ACTION_NAMES, c.ACTION_SPACE_EEF_DELTA,
                              c.CONTROL_HZ, "panda"),
    "mt50": SuiteFormat(c.METAWORLD_STATE_NAMES, c.METAWORLD_ACTION_NAMES,
                        c.ACTION_SPACE_METAWORLD, c.METAWORLD_CONTROL_HZ, "sawyer"),
}  # fmt: skip


def suite_format(suite: str) -> SuiteFormat:
    """The data format of a suite; unknown names raise ValueError listing the valid ones."""
    if suite not in SUITE_FORMATS:
        raise ValueError(f"unknown suite {suite!r}; valid suites: {sorted(SUITE_FORMATS)}")
    return SUITE_FORMATS[suite]


def get_task(suite: str, family: str) -> Task:
    """The registered task; unknown names raise ValueError listing the valid ones."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; valid suites: {sorted(SUITES)}")
    if family not in SUITES[suite]:
        raise ValueError(
            f"unknown task {family!r} in suite {suite!r}; valid tasks: {list(SUITES[suite])}"
        )
    return SUITES[suite][family]


__all__ = [
    "SPLITS", "SUITES", "SUITE_FORMATS", "TASK_GROUPS", "Episode", "MetaWorldTask", "SuiteFormat",
    "Task", "get_task", "suite_format",
]  # fmt: skip
