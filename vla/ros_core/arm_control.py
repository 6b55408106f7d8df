"""Policy actions -> joint targets on a real Panda, with the simulator's own controller code.

    action (7,) eef delta at q --sim.controller.Controller.joint_targets (DLS IK + null space)
        on PandaKinematics (numpy FK/Jacobian at q, standing in for Physics)--> joint targets
    action (8,) joint_pos (q1..q7, g) --> the joints directly (clipped to the URDF limits)

``sim.controller.Controller`` asks its ``Physics`` for three things to turn a delta into joint
targets: joint positions, the TCP pose and the TCP Jacobian. A robot has no physics engine, so
:class:`PandaKinematics` answers them from :mod:`vla.ros_core.kinematics` at the measured joint
positions. The rotation convention, damping, null-space pull to the home posture, workspace clip
and joint-limit clip are therefore exactly the simulator's (and the training data's).
Gripper: -1 opens, +1 closes (vla.constants).
"""

from __future__ import annotations

import numpy as np

from sim.controller import Controller, ControllerConfig
from sim.physics.base import ARM_JOINTS
from vla.constants import ACTION_SPACE_EEF_DELTA, ACTION_SPACES, CONTROL_HZ
from vla.ros_core.kinematics import PANDA_HOME_Q, forward_kinematics, jacobian


class PandaKinematics:
    """The Physics queries Controller.joint_targets makes, answered by numpy FK at ``q``."""

    timestep = 1.0 / CONTROL_HZ  # the controller steps no physics on a robot

    def __init__(self, q=PANDA_HOME_Q):
        self.q = np.asarray(q, dtype=np.float64)

    def joint_positions(self) -> np.ndarray:
        return self.q.copy()

    def ee_pose(self) -> tuple[np.ndarray, np.ndarray]:
        return forward_kinematics(self.q)

    def ee_jacobian(self) -> np.ndarray:
        return jacobian(self.q)


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
    controller = Controller(
        PandaKinematics(q), ControllerConfig(action_space=action_space, damping=damping)
    )
    a = controller.validate(action)
    if action_space == ACTION_SPACE_EEF_DELTA:
        return controller.joint_targets(a), bool(a[-1] > 0)
    return a[:ARM_JOINTS].copy(), bool(a[-1] > 0)
