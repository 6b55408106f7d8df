"""The real robot's action -> joint target step (vla/ros_core/arm_control.py): the DLS step on
the numpy Panda model, its checks, and agreement with the simulator's controller."""

from __future__ import annotations

import numpy as np
import pytest

from vla.robot import kinematics as k
from vla.ros_core.arm_control import action_to_joint_target


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
    """The robot side runs vla.robot's controller on numpy kinematics; on the same state it must
    agree with sim's controller running on the PyBullet engine's own pose and Jacobian."""
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
