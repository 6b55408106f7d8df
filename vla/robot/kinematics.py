"""Panda forward kinematics, geometric Jacobian and rotation helpers, in numpy.

On a real robot there is no simulator to ask for the Jacobian, so the robot side computes it from
the same robot description the simulators load (pybullet_data's ``franka_panda/panda.urdf``):
the joint origins below are copied from that file, and
``tests/robot/test_robot_kinematics.py`` holds them against PyBullet's own forward kinematics.

    q (7,) --FK--> TCP pose (pos, quat wxyz) + Jacobian (6, 7)
        = PandaKinematics(q), an ArmState --> vla.robot.controller's DLS step
"""

from __future__ import annotations

import numpy as np

from vla.robot.panda import ARM_JOINT_LIMITS, HOME_Q, TCP_OFFSET

_HALF_PI = 1.57079632679  # as spelled in the URDF
# (xyz, rpy) of each revolute joint's origin in its parent link frame; every axis is +z.
PANDA_JOINT_ORIGINS: tuple[tuple[tuple[float, float, float], tuple[float, float, float]], ...] = (
    ((0.0, 0.0, 0.333), (0.0, 0.0, 0.0)),
    ((0.0, 0.0, 0.0), (-_HALF_PI, 0.0, 0.0)),
    ((0.0, -0.316, 0.0), (_HALF_PI, 0.0, 0.0)),
    ((0.0825, 0.0, 0.0), (_HALF_PI, 0.0, 0.0)),
    ((-0.0825, 0.384, 0.0), (-_HALF_PI, 0.0, 0.0)),
    ((0.0, 0.0, 0.0), (_HALF_PI, 0.0, 0.0)),
    ((0.088, 0.0, 0.0), (_HALF_PI, 0.0, 0.0)),
)
FLANGE_OFFSET = 0.107  # panda_joint8: link7 -> link8 along z
HAND_YAW = -0.785398163397  # panda_hand_joint: link8 -> hand, rotation about z
PANDA_JOINT_LIMITS = np.array(ARM_JOINT_LIMITS, dtype=float)  # (7, 2) URDF limits, radians
PANDA_HOME_Q = np.asarray(HOME_Q, dtype=float)


def rpy_matrix(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """URDF fixed-axis roll-pitch-yaw to a rotation matrix: Rz(yaw) @ Ry(pitch) @ Rx(roll)."""
    cr, sr, cp, sp, cy, sy = (np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch),
                              np.cos(yaw), np.sin(yaw))  # fmt: skip
    return np.array(
        [
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ]
    )


def _transform(rot: np.ndarray, pos) -> np.ndarray:
    t = np.eye(4)
    t[:3, :3] = rot
    t[:3, 3] = pos
    return t


_ORIGIN_T = tuple(_transform(rpy_matrix(*rpy), xyz) for xyz, rpy in PANDA_JOINT_ORIGINS)
_TCP_T = _transform(rpy_matrix(0.0, 0.0, HAND_YAW), (0.0, 0.0, FLANGE_OFFSET)) @ _transform(
    np.eye(3), (0.0, 0.0, TCP_OFFSET)
)


def _check_q(q) -> np.ndarray:
    q = np.asarray(q, dtype=float)
    if q.shape != (7,):
        raise ValueError(f"expected 7 Panda joint angles, got shape {q.shape}")
    if not np.all(np.isfinite(q)):
        raise ValueError(f"joint angles must be finite, got {q}")
    return q


def joint_frames(q) -> tuple[np.ndarray, np.ndarray]:
    """World transforms of the 7 joint frames (7, 4, 4) and of the tool centre point (4, 4)."""
    q = _check_q(q)
    frames = np.empty((7, 4, 4))
    t = np.eye(4)
    for i, origin in enumerate(_ORIGIN_T):
        c, s = np.cos(q[i]), np.sin(q[i])
        rz = np.array([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
        frames[i] = t @ origin  # joint frame before its own rotation: the axis is its z
        t = frames[i] @ rz
    return frames, t @ _TCP_T


def forward_kinematics(q) -> tuple[np.ndarray, np.ndarray]:
    """(pos (3,), quat wxyz (4,), w >= 0) of the tool centre point between the fingertips."""
    _, tcp = joint_frames(q)
    return tcp[:3, 3].copy(), matrix_to_quat(tcp[:3, :3])


def jacobian(q) -> np.ndarray:
    """(6, 7) geometric Jacobian of the tool centre point in the base frame: rows (v, omega)."""
    frames, tcp = joint_frames(q)
    p = tcp[:3, 3]
    jac = np.empty((6, 7))
    for i in range(7):
        z = frames[i][:3, 2]
        jac[:3, i] = np.cross(z, p - frames[i][:3, 3])
        jac[3:, i] = z
    return jac


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """Rotation matrix -> unit quaternion (w, x, y, z) with w >= 0."""
    w = np.sqrt(max(0.0, 1.0 + m[0, 0] + m[1, 1] + m[2, 2])) / 2
    x = np.sqrt(max(0.0, 1.0 + m[0, 0] - m[1, 1] - m[2, 2])) / 2
    y = np.sqrt(max(0.0, 1.0 - m[0, 0] + m[1, 1] - m[2, 2])) / 2
    z = np.sqrt(max(0.0, 1.0 - m[0, 0] - m[1, 1] + m[2, 2])) / 2
    x = np.copysign(x, m[2, 1] - m[1, 2])
    y = np.copysign(y, m[0, 2] - m[2, 0])
    z = np.copysign(z, m[1, 0] - m[0, 1])
    quat = np.array([w, x, y, z])
    return quat / np.linalg.norm(quat)


def quat_to_matrix(quat) -> np.ndarray:
    """Unit quaternion (w, x, y, z) -> rotation matrix."""
    w, x, y, z = np.asarray(quat, dtype=float) / np.linalg.norm(quat)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def rotation_vector(m: np.ndarray) -> np.ndarray:
    """Rotation matrix -> axis * angle (3,), the small-rotation part of an EEF delta."""
    cos = np.clip((np.trace(m) - 1) / 2, -1.0, 1.0)
    angle = np.arccos(cos)
    vee = np.array([m[2, 1] - m[1, 2], m[0, 2] - m[2, 0], m[1, 0] - m[0, 1]])
    if angle < 1e-9:
        return vee / 2
    if np.pi - angle < 1e-6:  # near pi: take the axis from the symmetric part
        axis = np.sqrt(np.clip((np.diag(m) + 1) / 2, 0.0, None))
        axis = axis * np.sign(np.where(vee == 0, 1.0, vee))
        return axis / np.linalg.norm(axis) * angle
    return vee / (2 * np.sin(angle)) * angle


def pose_delta(q_from, q_to) -> np.ndarray:
    """(6,) EEF delta (dpos, rotation vector, both in the base frame) from pose(q_from) to
    pose(q_to): the label a recorded joint command gets in the EEF-delta action space."""
    _, a = joint_frames(q_from)
    _, b = joint_frames(q_to)
    return np.concatenate([b[:3, 3] - a[:3, 3], rotation_vector(b[:3, :3] @ a[:3, :3].T)])


def euler_xyz_to_rotvec(angles) -> np.ndarray:
    """Extrinsic roll-pitch-yaw about the base x, y, z axes (3,) -> rotation vector (3,).

    The rotation part of an EEF-delta action. Same result as scipy's
    ``Rotation.from_euler("xyz", angles).as_rotvec()`` (held to 1e-12 in tests): through the
    unit quaternion Rz(yaw) Ry(pitch) Rx(roll) with w >= 0, and a series for small angles where
    ``angle / sin(angle / 2)`` would lose digits.
    """
    roll, pitch, yaw = np.asarray(angles, dtype=np.float64) / 2
    cr, sr, cp, sp, cy, sy = (np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch),
                              np.cos(yaw), np.sin(yaw))  # fmt: skip
    w = cr * cp * cy + sr * sp * sy
    xyz = np.array(
        [sr * cp * cy - cr * sp * sy, cr * sp * cy + sr * cp * sy, cr * cp * sy - sr * sp * cy]
    )
    if w < 0:  # the same rotation, angle in [0, pi]
        w, xyz = -w, -xyz
    angle = 2 * np.arctan2(np.linalg.norm(xyz), w)
    if angle <= 1e-3:
        scale = 2 + angle**2 / 12 + 7 * angle**4 / 2880
    else:
        scale = angle / np.sin(angle / 2)
    return scale * xyz


class PandaKinematics:
    """A Panda at joint positions ``q``, answered by the numpy model: an
    :class:`vla.robot.controller.ArmState` for a robot that has no physics engine to ask."""

    def __init__(self, q=PANDA_HOME_Q):
        self.q = _check_q(q).copy()

    def joint_positions(self) -> np.ndarray:
        """(7,) joint angles in radians."""
        return self.q.copy()

    def ee_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """(pos (3,), quat wxyz (4,)) of the tool centre point."""
        return forward_kinematics(self.q)

    def ee_jacobian(self) -> np.ndarray:
        """(6, 7) geometric Jacobian of the tool centre point."""
        return jacobian(self.q)
