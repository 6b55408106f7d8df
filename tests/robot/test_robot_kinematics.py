"""Panda FK / Jacobian (vla/robot/kinematics.py) held against PyBullet loading the same URDF."""

from __future__ import annotations

import os

import numpy as np
import pytest

from vla.robot import kinematics as k


@pytest.fixture(scope="module")
def bullet():
    pybullet = pytest.importorskip("pybullet")
    import pybullet_data

    cid = pybullet.connect(pybullet.DIRECT)
    urdf = os.path.join(pybullet_data.getDataPath(), "franka_panda", "panda.urdf")
    robot = pybullet.loadURDF(urdf, useFixedBase=True, physicsClientId=cid)
    n = pybullet.getNumJoints(robot, physicsClientId=cid)
    links = [pybullet.getJointInfo(robot, i, physicsClientId=cid)[12].decode() for i in range(n)]
    yield pybullet, cid, robot, links.index("panda_hand")
    pybullet.disconnect(cid)


def _bullet_tcp(bullet, q):
    pb, cid, robot, hand = bullet
    for i in range(7):
        pb.resetJointState(robot, i, q[i], physicsClientId=cid)
    state = pb.getLinkState(robot, hand, computeForwardKinematics=True, physicsClientId=cid)
    rot = np.array(pb.getMatrixFromQuaternion(state[5])).reshape(3, 3)
    return np.array(state[4]) + rot[:, 2] * k.TCP_OFFSET, rot


@pytest.mark.parametrize("seed", range(5))
def test_fk_matches_pybullet(bullet, seed):
    rng = np.random.default_rng(seed)
    q = rng.uniform(k.PANDA_JOINT_LIMITS[:, 0], k.PANDA_JOINT_LIMITS[:, 1])
    pos, rot = _bullet_tcp(bullet, q)
    fk_pos, fk_quat = k.forward_kinematics(q)
    np.testing.assert_allclose(fk_pos, pos, atol=1e-6)
    np.testing.assert_allclose(k.quat_to_matrix(fk_quat), rot, atol=1e-6)
    assert fk_quat[0] >= 0


def test_home_pose_points_down_above_the_table():
    pos, quat = k.forward_kinematics(k.PANDA_HOME_Q)
    # the "ready" pose: hand ~0.3 m in front of the base, ~0.48 m up, tool z pointing down
    np.testing.assert_allclose(pos, [0.307, 0.0, 0.487], atol=2e-3)
    z_axis = k.quat_to_matrix(quat)[:, 2]
    np.testing.assert_allclose(z_axis, [0, 0, -1], atol=1e-3)


def test_zero_pose_is_straight_up():
    pos, _ = k.forward_kinematics(np.zeros(7))
    # link offsets 0.333 + 0.316 + 0.384 up, 0.088 forward, flange 0.107 + TCP down from link7
    np.testing.assert_allclose(
        pos, [0.088, 0.0, 0.333 + 0.316 + 0.384 - 0.107 - k.TCP_OFFSET], atol=1e-6
    )


def test_jacobian_matches_finite_differences():
    rng = np.random.default_rng(3)
    q = rng.uniform(-1, 1, 7)
    jac = k.jacobian(q)
    eps = 1e-6
    _, t0 = k.joint_frames(q)
    for i in range(7):
        dq = np.zeros(7)
        dq[i] = eps
        _, t1 = k.joint_frames(q + dq)
        np.testing.assert_allclose((t1[:3, 3] - t0[:3, 3]) / eps, jac[:3, i], atol=1e-5)
        omega = k.rotation_vector(t1[:3, :3] @ t0[:3, :3].T) / eps
        np.testing.assert_allclose(omega, jac[3:, i], atol=1e-5)


def test_rotation_vector_and_quaternions():
    rng = np.random.default_rng(1)
    for _ in range(20):
        axis = rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        angle = rng.uniform(0, np.pi - 1e-3)
        rot = k.quat_to_matrix(np.r_[np.cos(angle / 2), np.sin(angle / 2) * axis])
        np.testing.assert_allclose(k.rotation_vector(rot), axis * angle, atol=1e-6)
        np.testing.assert_allclose(k.quat_to_matrix(k.matrix_to_quat(rot)), rot, atol=1e-9)
    with pytest.raises(ValueError, match="7 Panda joint"):
        k.forward_kinematics(np.zeros(6))
