"""Action -> joint targets for the Panda: one controller for experts, teleop, policies and ROS.

    action (7,) eef delta ----validate/clip----> target TCP pose = measured pose (+) delta
        --damped least squares on ArmState.ee_jacobian()--> joint targets (+ null-space pull home)
    action (8,) joint_pos ---validate/clip----> joint targets
    gripper (last entry): > 0 closes, <= 0 opens

The arm is anything that answers three questions (:class:`ArmState`): joint positions, the tool
centre point's pose and its Jacobian. In simulation that is the engine (``sim.physics``), which
then tracks the targets for one control period (``sim.controller``); on a real robot it is the
numpy model at the measured joints (:class:`vla.robot.kinematics.PandaKinematics`), and the
targets go to the robot's position controller. Both therefore run the same rotation convention,
damping, null-space pull, workspace clip and joint-limit clip as the training data.

Why damped least squares on the arm's own Jacobian rather than an IK library: every simulator
already exposes the exact TCP Jacobian of the model it simulates, so one linear solve per control
step gives identical behaviour in MuJoCo and PyBullet without a second robot description (a
library such as ikpy or pink would parse the URDF again and could disagree with the engine's
kinematics), and without extra dependencies. Per-step deltas are small (<= 5 cm, <= 0.25 rad),
where one DLS step is accurate to a few millimetres; the loop is closed every control period, so
the residual is corrected on the next step. DLS stays well behaved near singularities, and a
null-space term keeps the redundant elbow near the home posture.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from vla.constants import (
    ACTION_DIM,
    ACTION_SPACE_EEF_DELTA,
    ACTION_SPACES,
    CONTROL_HZ,
    EEF_ACTION_HIGH,
    EEF_ACTION_LOW,
    JOINT_ACTION_NAMES,
)
from vla.robot.kinematics import euler_xyz_to_rotvec
from vla.robot.panda import ARM_JOINT_LIMITS, ARM_JOINTS, HOME_Q

JOINT_ACTION_DIM = len(JOINT_ACTION_NAMES)
# TCP targets stay inside this box (base frame, metres): the simulated table top seen from the
# robot (x 0.15..0.85, y -0.45..0.45), from 2 mm above its surface to 0.7 m up.
WORKSPACE_LOW = (0.15, -0.45, 0.002)
WORKSPACE_HIGH = (0.85, 0.45, 0.7)


@runtime_checkable
class ArmState(Protocol):
    """What the controller asks of an arm. Poses in the robot base frame, quaternions wxyz."""

    def joint_positions(self) -> np.ndarray:
        """(7,) arm joint angles in radians."""
        ...

    def ee_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """(pos (3,), quat wxyz (4,)) of the tool centre point."""
        ...

    def ee_jacobian(self) -> np.ndarray:
        """(6, 7) geometric Jacobian of the tool centre point: rows (v_xyz, omega_xyz)."""
        ...


@dataclass(frozen=True)
class ControllerConfig:
    """Control rate, action space, IK settings and the workspace box.

    control_hz: actions per second (a simulator runs round(1 / (hz * timestep)) substeps each).
    action_space: "eef_delta" (7-D, vla.constants.EEF_ACTION_NAMES) or "joint_pos" (8-D,
        JOINT_ACTION_NAMES: absolute joint angles + gripper). EEF deltas: translation in metres
        and extrinsic roll/pitch/yaw in radians, both about the base axes, applied to the
        *measured* TCP pose; clipped to EEF_ACTION_LOW/HIGH. Gripper: > 0 closes, <= 0 opens.
    damping: DLS damping (metres / radians); larger = smoother near singularities, less exact.
    nullspace_gain: fraction of the distance to HOME_Q closed per step in the null space.
    workspace_low, workspace_high: (x, y, z) corners of the box TCP targets are clipped to.
    """

    control_hz: float = CONTROL_HZ
    action_space: str = ACTION_SPACE_EEF_DELTA
    damping: float = 0.05
    nullspace_gain: float = 0.2
    workspace_low: tuple[float, float, float] = WORKSPACE_LOW
    workspace_high: tuple[float, float, float] = WORKSPACE_HIGH

    def __post_init__(self) -> None:
        if self.action_space not in ACTION_SPACES:
            raise ValueError(f"action_space {self.action_space!r} not in {ACTION_SPACES}")
        if not self.control_hz > 0:
            raise ValueError(f"control_hz must be > 0, got {self.control_hz}")
        if self.damping < 0 or not 0 <= self.nullspace_gain <= 1:
            raise ValueError("damping must be >= 0 and nullspace_gain in [0, 1]")
        low, high = np.asarray(self.workspace_low), np.asarray(self.workspace_high)
        if low.shape != (3,) or high.shape != (3,) or not np.all(low < high):
            raise ValueError(
                f"workspace_low/high must be (x, y, z) with low < high, got "
                f"{self.workspace_low} and {self.workspace_high}"
            )


def joint_limits() -> tuple[np.ndarray, np.ndarray]:
    """(7,) lower and (7,) upper arm joint limits (the URDF's, shared by every engine)."""
    rng = np.asarray(ARM_JOINT_LIMITS)
    return rng[:, 0], rng[:, 1]


class ArmController:
    """Turns one action into (joint targets (7,), gripper_closed) at an arm's current state."""

    def __init__(self, config: ControllerConfig | None = None):
        self.config = config or ControllerConfig()
        self._home = np.asarray(HOME_Q, dtype=np.float64)
        self._workspace = (
            np.asarray(self.config.workspace_low, dtype=np.float64),
            np.asarray(self.config.workspace_high, dtype=np.float64),
        )

    @property
    def action_dim(self) -> int:
        """7 for EEF deltas, 8 for joint positions (both with the gripper last)."""
        eef = self.config.action_space == ACTION_SPACE_EEF_DELTA
        return ACTION_DIM if eef else JOINT_ACTION_DIM

    def validate(self, action) -> np.ndarray:
        """The action as float64, clipped to its limits. Raises ValueError on a wrong shape or a
        non-finite value (nothing is clipped silently into a valid command)."""
        try:
            a = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"action must be a numeric array, got {type(action).__name__}"
            ) from err
        if a.shape != (self.action_dim,):
            raise ValueError(
                f"action must have shape ({self.action_dim},) for action_space="
                f"{self.config.action_space!r}, got shape {a.shape}"
            )
        if not np.all(np.isfinite(a)):
            bad = [i for i in range(a.size) if not np.isfinite(a[i])]
            raise ValueError(f"action has non-finite values (NaN/inf) at indices {bad}: {a}")
        if self.config.action_space == ACTION_SPACE_EEF_DELTA:
            return np.clip(a, EEF_ACTION_LOW, EEF_ACTION_HIGH)
        lo, hi = joint_limits()
        return np.clip(a, np.append(lo, -1.0), np.append(hi, 1.0))

    def joint_targets(self, arm: ArmState, action: np.ndarray) -> np.ndarray:
        """(7,) joint targets for a validated EEF-delta action (DLS IK at the arm's state)."""
        q = arm.joint_positions()
        pos, _ = arm.ee_pose()
        target = np.clip(pos + action[:3], *self._workspace)
        # Rotation delta: extrinsic roll-pitch-yaw about the base axes, applied on the left.
        rot_err = euler_xyz_to_rotvec(action[3:6])
        err = np.concatenate([target - pos, rot_err])  # (6,)
        jac = arm.ee_jacobian()  # (6, 7)
        lam2 = self.config.damping**2
        jjt = jac @ jac.T + lam2 * np.eye(6)  # (6, 6)
        j_pinv = jac.T @ np.linalg.solve(jjt, np.eye(6))  # (7, 6)
        dq = j_pinv @ err
        null = np.eye(ARM_JOINTS) - j_pinv @ jac  # (7, 7)
        dq += null @ (self.config.nullspace_gain * (self._home - q))
        lo, hi = joint_limits()
        return np.clip(q + dq, lo, hi)

    def command(self, arm: ArmState, action) -> tuple[np.ndarray, bool, np.ndarray]:
        """Validate ``action`` and turn it into ``(joint targets (7,), gripper_closed, clipped
        action)`` at the arm's current state. Raises ValueError before computing anything."""
        a = self.validate(action)
        closed = bool(a[-1] > 0.0)
        if self.config.action_space == ACTION_SPACE_EEF_DELTA:
            return self.joint_targets(arm, a), closed, a
        return a[:ARM_JOINTS].copy(), closed, a
