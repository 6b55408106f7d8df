"""Action -> joint targets -> physics substeps. Shared by experts, teleop and learned policies.

    action (7,) eef delta ----validate/clip----> target TCP pose = measured pose (+) delta
        --damped least squares on Physics.ee_jacobian()--> joint targets (+ null-space pull home)
        --Physics.set_joint_targets--> N substeps (one 10 Hz control period)
    action (8,) joint_pos ---validate/clip----> joint targets ------------------^

Why damped least squares on the engine's Jacobian rather than an IK library: every backend
already exposes the exact TCP Jacobian of the model it simulates (`Physics.ee_jacobian`), so one
linear solve per control step gives identical behaviour in MuJoCo and PyBullet without a second
robot description (a library such as ikpy or pink would parse the URDF again and could disagree
with the engine's kinematics), and without extra dependencies. Per-step deltas are small
(<= 5 cm, <= 0.25 rad), where one DLS step is accurate to a few millimetres; the loop is closed
every control period, so the residual is corrected on the next step. DLS stays well behaved near
singularities, and a null-space term keeps the redundant elbow near the home posture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from sim.physics.base import ARM_JOINT_LIMITS, ARM_JOINTS, HOME_Q, Physics
from sim.scene import TABLE_CENTER, TABLE_HALF_EXTENTS, TABLE_HEIGHT
from vla.constants import (
    ACTION_DIM,
    ACTION_SPACE_EEF_DELTA,
    ACTION_SPACES,
    CONTROL_HZ,
    EEF_ACTION_HIGH,
    EEF_ACTION_LOW,
    JOINT_ACTION_NAMES,
)

JOINT_ACTION_DIM = len(JOINT_ACTION_NAMES)
# TCP targets are kept inside this box (base frame): above the table top, over the table.
WORKSPACE_LOW = np.array([TABLE_CENTER[0] - TABLE_HALF_EXTENTS[0],
                          TABLE_CENTER[1] - TABLE_HALF_EXTENTS[1], TABLE_HEIGHT + 0.002])  # fmt: skip
WORKSPACE_HIGH = np.array([TABLE_CENTER[0] + TABLE_HALF_EXTENTS[0],
                           TABLE_CENTER[1] + TABLE_HALF_EXTENTS[1], TABLE_HEIGHT + 0.7])  # fmt: skip


@dataclass(frozen=True)
class ControllerConfig:
    """Control rate and IK settings.

    control_hz: actions per simulated second; each action runs round(1 / (hz * timestep))
        physics substeps.
    action_space: "eef_delta" (7-D, vla.constants.EEF_ACTION_NAMES) or "joint_pos" (8-D,
        JOINT_ACTION_NAMES: absolute joint angles + gripper). EEF deltas: translation in metres
        and extrinsic roll/pitch/yaw in radians, both about the base axes, applied to the
        *measured* TCP pose; clipped to EEF_ACTION_LOW/HIGH. Gripper: > 0 closes, <= 0 opens.
    damping: DLS damping (metres / radians); larger = smoother near singularities, less exact.
    nullspace_gain: fraction of the distance to HOME_Q closed per step in the null space.
    """

    control_hz: float = CONTROL_HZ
    action_space: str = ACTION_SPACE_EEF_DELTA
    damping: float = 0.05
    nullspace_gain: float = 0.2

    def __post_init__(self) -> None:
        if self.action_space not in ACTION_SPACES:
            raise ValueError(f"action_space {self.action_space!r} not in {ACTION_SPACES}")
        if not self.control_hz > 0:
            raise ValueError(f"control_hz must be > 0, got {self.control_hz}")
        if self.damping < 0 or not 0 <= self.nullspace_gain <= 1:
            raise ValueError("damping must be >= 0 and nullspace_gain in [0, 1]")


class Controller:
    """Turns one action into joint targets and advances the physics by one control period."""

    def __init__(self, physics: Physics, config: ControllerConfig | None = None):
        self.physics = physics
        self.config = config or ControllerConfig()
        self.n_substeps = max(1, int(round(1.0 / (self.config.control_hz * physics.timestep))))
        self._home = np.asarray(HOME_Q, dtype=np.float64)

    @property
    def action_dim(self) -> int:
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
        lo, hi = self.joint_limits()
        return np.clip(a, np.append(lo, -1.0), np.append(hi, 1.0))

    @staticmethod
    def joint_limits() -> tuple[np.ndarray, np.ndarray]:
        """(7,) lower and (7,) upper arm joint limits (the URDF's, shared by every engine)."""
        rng = np.asarray(ARM_JOINT_LIMITS)
        return rng[:, 0], rng[:, 1]

    def joint_targets(self, action: np.ndarray) -> np.ndarray:
        """(7,) joint targets for a validated EEF-delta action (DLS IK at the current state)."""
        q = self.physics.joint_positions()
        pos, _ = self.physics.ee_pose()
        target = np.clip(pos + action[:3], WORKSPACE_LOW, WORKSPACE_HIGH)
        # Rotation delta: extrinsic roll-pitch-yaw about the base axes, applied on the left.
        rot_err = Rotation.from_euler("xyz", action[3:6]).as_rotvec()
        err = np.concatenate([target - pos, rot_err])  # (6,)
        jac = self.physics.ee_jacobian()  # (6, 7)
        lam2 = self.config.damping**2
        jjt = jac @ jac.T + lam2 * np.eye(6)  # (6, 6)
        j_pinv = jac.T @ np.linalg.solve(jjt, np.eye(6))  # (7, 6)
        dq = j_pinv @ err
        null = np.eye(ARM_JOINTS) - j_pinv @ jac  # (7, 7)
        dq += null @ (self.config.nullspace_gain * (self._home - q))
        lo, hi = self.joint_limits()
        return np.clip(q + dq, lo, hi)

    def step(self, action) -> np.ndarray:
        """Validate, apply one action, run one control period. Returns the clipped action.
        The physics is untouched when validation raises."""
        a = self.validate(action)
        closed = bool(a[-1] > 0.0)
        if self.config.action_space == ACTION_SPACE_EEF_DELTA:
            q_target = self.joint_targets(a)
        else:
            q_target = a[:ARM_JOINTS]
        self.physics.set_joint_targets(q_target, gripper_closed=closed)
        self.physics.step(self.n_substeps)
        return a.astype(np.float32)
