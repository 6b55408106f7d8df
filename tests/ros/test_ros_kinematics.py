"""Panda FK / Jacobian held against PyBullet loading the same URDF, plus the DLS step."""

from __future__ import annotations

import os

import numpy as np
import pytest

from vla.robot import kinematics as k
from vla.ros_core.arm_control import action_to_joint_target


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


def test_dls_step_moves_the_tcp_by_the_asked_delta():
    q = k.PANDA_HOME_Q
    delta = np.array([0.01, -0.01, 0.02, 0.0, 0.0, 0.05, 1.0])
    target, closed = action_to_joint_target(delta, q, damping=0.01)
    assert closed
    moved = k.pose_delta(q, target)
    np.testing.assert_allclose(moved, delta[:6], atol=2e-3)


def test_action_is_clipped_and_checked():
    q = k.PANDA_HOME_Q
    big, _ = action_to_joint_target([1, 0, 0, 0, 0, 0, -1], q, damping=0.01)
    assert k.pose_delta(q, big)[0] == pytest.approx(0.05, abs=5e-3)  # EEF_ACTION_HIGH dx
    with pytest.raises(ValueError, match="non-finite"):
        action_to_joint_target([np.nan] * 7, q)
    with pytest.raises(ValueError, match=r"shape \(7,\)"):
        action_to_joint_target(np.zeros(6), q)
    with pytest.raises(ValueError, match="unknown action space"):
        action_to_joint_target(np.zeros(7), q, action_space="torque")
    with pytest.raises(ValueError, match="measured joint"):
        action_to_joint_target(np.zeros(7), np.zeros(6))
    target, closed = action_to_joint_target(np.r_[q, -1.0], q, action_space="joint_pos")
    np.testing.assert_allclose(target, q)
    assert not closed


@pytest.mark.parametrize("seed", range(3))
def test_same_joint_targets_as_the_simulator_controller(seed):
    """The robot side runs vla.robot.controller on numpy kinematics; on the same state it must agree
    with the controller running on the PyBullet engine's own pose and Jacobian."""
    import sim
    from sim.controller import Controller

    rng = np.random.default_rng(seed)
    env = sim.make("pick", "pybullet", seed=0, image_size=(32, 32), render=False)
    env.reset(seed=seed)
    physics = env.physics
    try:
        q = k.PANDA_HOME_Q + rng.uniform(-0.3, 0.3, 7)
        physics.set_joint_positions(q)
        action = np.r_[rng.uniform(-0.04, 0.04, 3), rng.uniform(-0.2, 0.2, 3), 1.0]
        expected = Controller(physics).joint_targets(Controller(physics).validate(action))
        got, closed = action_to_joint_target(action, q)
        np.testing.assert_allclose(got, expected, atol=1e-6)
        assert closed
    finally:
        env.close()


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
