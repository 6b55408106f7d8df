"""Policy actions -> joint targets on a real Panda, with the simulator's own controller.

    action (7,) eef delta at q --vla.robot.controller.ArmController (DLS IK + null space)
        on PandaKinematics(q) (numpy FK/Jacobian at the measured joints)--> joint targets
    action (8,) joint_pos (q1..q7, g) --> the joints directly (clipped to the URDF limits)

The simulator drives its engines through the same :class:`~vla.robot.controller.ArmController`
(``sim.controller``), asking the engine for the three things the numpy model answers here: joint
positions, the TCP pose and the TCP Jacobian. The rotation convention, damping, null-space pull
to the home posture, workspace clip and joint-limit clip are therefore exactly the simulator's
(and the training data's). Gripper: -1 opens, +1 closes (vla.constants).
"""

from __future__ import annotations

import numpy as np

from vla.constants import ACTION_SPACE_EEF_DELTA, ACTION_SPACES
from vla.robot.controller import ArmController, ControllerConfig
from vla.robot.kinematics import PandaKinematics
from vla.robot.panda import ARM_JOINTS

__all__ = ["PandaKinematics", "action_to_joint_target"]


def action_to_joint_target(
    action, q, action_space: str = ACTION_SPACE_EEF_DELTA, damping: float = 0.05
) -> tuple[np.ndarray, bool]:
    """One policy action at joint position ``q`` (7,) -> (joint target (7,), gripper_closed).

    Raises ValueError (from the controller) on a wrong shape or a non-finite value."""
    if action_space not in ACTION_SPACES:
        raise ValueError(f"unknown action space {action_space!r}; choose one of {ACTION_SPACES}")
    q = np.asarray(q, dtype=np.float64)
    if q.shape != (ARM_JOINTS,) or not np.all(np.isfinite(q)):
        raise ValueError(f"need {ARM_JOINTS} finite measured joint positions, got {q}")
    controller = ArmController(ControllerConfig(action_space=action_space, damping=damping))
    q_target, closed, _ = controller.command(PandaKinematics(q), action)
    return q_target, closed
