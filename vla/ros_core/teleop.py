"""Gamepad teleoperation in the policy's own action space, without ROS.

    sensor_msgs/Joy (axes, buttons) --deadband, axis_map, axis_scale--> EEF delta (7,)
        --the policy's path: action_to_joint_target (DLS IK) + CommandFilter--> joint target

Teleop and the policy emit the same action space and pass the same IK and safety filter, so a
recorded demonstration is labelled with an action the policy can reproduce.
"""

from __future__ import annotations

import numpy as np

from vla.constants import EEF_ACTION_HIGH, EEF_ACTION_LOW
from vla.ros_core.arm_control import action_to_joint_target
from vla.ros_core.command_filter import CommandFilter
from vla.ros_core.node_configs import TeleopConfig


class TeleopMapper:
    """Joy axes/buttons -> EEF-delta actions -> filtered joint targets."""

    def __init__(self, config: TeleopConfig):
        self.config = config
        self.filter = CommandFilter(config.safety)
        self.gripper_closed = False

    def _button(self, buttons, index: int) -> bool:
        return 0 <= index < len(buttons) and buttons[index] == 1

    def action(self, axes, buttons) -> np.ndarray | None:
        """The (7,) EEF-delta action, or None while the enable (deadman) button is released."""
        cfg = self.config
        if self._button(buttons, cfg.close_button):
            self.gripper_closed = True
        elif self._button(buttons, cfg.open_button):
            self.gripper_closed = False
        if not self._button(buttons, cfg.enable_button):
            return None
        axes = np.asarray(axes, dtype=float)
        delta = np.zeros(7)
        for i, (axis, scale) in enumerate(zip(cfg.axis_map, cfg.axis_scale, strict=True)):
            if 0 <= axis < len(axes):
                v = axes[axis]
                # rescale outside the deadband so the stick's full travel is still usable
                v = (
                    0.0
                    if abs(v) < cfg.deadband
                    else np.sign(v) * (abs(v) - cfg.deadband) / (1 - cfg.deadband)
                )
                delta[i] = v * scale
        delta[6] = 1.0 if self.gripper_closed else -1.0
        return np.clip(delta, EEF_ACTION_LOW, EEF_ACTION_HIGH)

    def step(self, q, axes, buttons) -> tuple[np.ndarray | None, float]:
        """(filtered joint target or None when disabled, gripper opening command in metres)."""
        cfg = self.config
        action = self.action(axes, buttons)
        opening = cfg.gripper_closed_position if self.gripper_closed else cfg.gripper_open_position
        if action is None:
            return None, opening
        q = np.asarray(q, dtype=float)
        target, _ = action_to_joint_target(action, q, damping=cfg.ik_damping)
        return self.filter.apply(q, target).q, opening
