"""The robot's controller driving a simulated Panda: action -> joint targets -> physics substeps.

    action --vla.robot.controller.ArmController.command (validate/clip, DLS IK on the engine's
        own Jacobian)--> joint targets + gripper --Physics.set_joint_targets--> N substeps
        (one control period)

Experts, teleop and learned policies all step through here; the ROS nodes call the same
``ArmController`` on the numpy kinematics (``vla.ros_core.arm_control``), so every agent emits
the same joint targets. The simulator's contribution is its table: TCP targets are kept over it.
"""

from __future__ import annotations

import numpy as np

from sim.physics.base import Physics
from sim.scene import TABLE_CENTER, TABLE_HALF_EXTENTS, TABLE_HEIGHT
from vla.robot.controller import JOINT_ACTION_DIM, ArmController, ControllerConfig, joint_limits

__all__ = ["JOINT_ACTION_DIM", "Controller", "ControllerConfig", "table_workspace"]


def table_workspace() -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """(low, high) corners of the TCP box in the base frame: above the table top, over the table."""
    (cx, cy), (hx, hy) = TABLE_CENTER, TABLE_HALF_EXTENTS
    return (cx - hx, cy - hy, TABLE_HEIGHT + 0.002), (cx + hx, cy + hy, TABLE_HEIGHT + 0.7)


class Controller:
    """Turns one action into joint targets and advances the physics by one control period.

    Without a ``config``, TCP targets are kept over the scene's table (:func:`table_workspace`).
    """

    def __init__(self, physics: Physics, config: ControllerConfig | None = None):
        if config is None:
            low, high = table_workspace()
            config = ControllerConfig(workspace_low=low, workspace_high=high)
        self.config = config
        self.physics = physics
        self.arm = ArmController(config)
        self.n_substeps = max(1, int(round(1.0 / (config.control_hz * physics.timestep))))

    @property
    def action_dim(self) -> int:
        """Length of one action in this controller's action space."""
        return self.arm.action_dim

    def validate(self, action) -> np.ndarray:
        """The action as float64, clipped to its limits (ArmController.validate)."""
        return self.arm.validate(action)

    joint_limits = staticmethod(joint_limits)

    def joint_targets(self, action: np.ndarray) -> np.ndarray:
        """(7,) joint targets for a validated EEF-delta action at the physics' current state."""
        return self.arm.joint_targets(self.physics, action)

    def step(self, action) -> np.ndarray:
        """Validate, apply one action, run one control period. Returns the clipped action.
        The physics is untouched when validation raises."""
        q_target, closed, a = self.arm.command(self.physics, action)
        self.physics.set_joint_targets(q_target, gripper_closed=closed)
        self.physics.step(self.n_substeps)
        return a.astype(np.float32)
