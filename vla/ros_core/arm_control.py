"""Policy actions -> joint targets on a real Panda (no simulator to ask for the Jacobian).

    EEF delta (dx, dy, dz, droll, dpitch, dyaw, g) at q
      --clip to EEF_ACTION_LOW/HIGH--> twist (6,) --DLS on jacobian(q)--> q + dq
    joint_pos action (q1..q7, g) --> q directly

The damped-least-squares step is the same math as the simulator's controller (a DLS step on the
TCP's geometric Jacobian); here the Jacobian comes from :mod:`vla.ros_core.kinematics` because a
robot has no ``Physics.ee_jacobian()``. Gripper: -1 opens, +1 closes (vla.constants).
"""

from __future__ import annotations

import numpy as np

from vla.constants import (
    ACTION_SPACE_EEF_DELTA,
    ACTION_SPACE_JOINT_POS,
    ACTION_SPACES,
    EEF_ACTION_HIGH,
    EEF_ACTION_LOW,
)
from vla.ros_core.kinematics import dls_step, jacobian


def action_to_joint_target(
    action, q, action_space: str = ACTION_SPACE_EEF_DELTA, damping: float = 0.05
) -> tuple[np.ndarray, bool]:
    """One policy action at joint position ``q`` (7,) -> (joint target (7,), gripper_closed)."""
    action = np.asarray(action, dtype=np.float64)
    if not np.all(np.isfinite(action)):
        raise ValueError(f"policy action is not finite: {action}")
    q = np.asarray(q, dtype=np.float64)
    if action_space == ACTION_SPACE_EEF_DELTA:
        if action.shape != (7,):
            raise ValueError(f"an eef_delta action has 7 values, got shape {action.shape}")
        delta = np.clip(action, EEF_ACTION_LOW, EEF_ACTION_HIGH)
        target = q + dls_step(jacobian(q), delta[:6], damping)
        return target, bool(delta[6] > 0)
    if action_space == ACTION_SPACE_JOINT_POS:
        if action.shape != (8,):
            raise ValueError(
                f"a joint_pos action has 8 values (q1..q7, gripper), got {action.shape}"
            )
        return action[:7].copy(), bool(action[7] > 0)
    raise ValueError(f"unknown action space {action_space!r}; choose one of {ACTION_SPACES}")
