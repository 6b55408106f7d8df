"""When a FollowInstruction action goal ends, decided without ROS.

    each feedback period: goal_outcome(...) -> None (keep going) | GoalOutcome(completed, reason)

Precedence: cancel > e-stop > replaced by another instruction > time limit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GoalOutcome:
    """How a goal ended: ``status`` is "succeeded", "canceled" or "aborted"."""

    status: str
    reason: str

    @property
    def completed(self) -> bool:
        return self.status == "succeeded"


def goal_outcome(
    instruction: str,
    current_task: str | None,
    cancel_requested: bool,
    estopped: bool,
    elapsed_s: float,
    time_limit_s: float,
) -> GoalOutcome | None:
    """The goal's end, or None while it should keep running."""
    if time_limit_s < 0:
        raise ValueError(f"time_limit_s must be >= 0 (0: until canceled), got {time_limit_s}")
    if cancel_requested:
        return GoalOutcome("canceled", "canceled by the client")
    if estopped:
        return GoalOutcome("aborted", "e-stop latched")
    if current_task != instruction.strip():
        return GoalOutcome("aborted", f"replaced by instruction {current_task!r}")
    if time_limit_s > 0 and elapsed_s >= time_limit_s:
        return GoalOutcome("succeeded", f"ran for the time limit ({time_limit_s} s)")
    return None
