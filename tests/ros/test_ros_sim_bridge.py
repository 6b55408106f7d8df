"""The simulated robot's command following (sim/ros_bridge.py), on the real PyBullet Panda."""

from __future__ import annotations

import numpy as np
import pytest

from sim.ros_bridge import SimRobotBridge, make_sim_world
from vla.robot.panda import ARM_JOINT_NAMES, GRIPPER_MAX_OPENING, HOME_Q
from vla.ros_core import messages as m

NS = 1_000_000_000


@pytest.fixture(scope="module")
def physics():
    world = make_sim_world("pybullet", "pick_place", "pick", 0, (32, 32))
    yield world.physics
    world.close()


@pytest.fixture
def bridge(physics):
    physics.set_joint_positions(np.array(HOME_Q), GRIPPER_MAX_OPENING)
    return SimRobotBridge(physics, start_ns=0)


def test_joint_state_is_what_joint_state_broadcaster_publishes(bridge, types, roundtrip):
    names, pos, vel = bridge.joint_state()
    assert names[:7] == list(ARM_JOINT_NAMES) and len(names) == 9
    np.testing.assert_allclose(pos[:7], HOME_Q, atol=1e-3)
    assert pos[7] == pytest.approx(GRIPPER_MAX_OPENING / 2, abs=2e-3)
    msg = roundtrip(m.joint_state_msg(types, 1, names, pos, vel))
    np.testing.assert_allclose(m.joint_positions_by_name(msg, ARM_JOINT_NAMES), pos[:7])


def test_forward_command_is_tracked(bridge):
    target = np.array(HOME_Q) + np.array([0.2, 0.1, 0, -0.1, 0, 0.1, 0])
    bridge.set_joint_targets(target)
    for i in range(1, 16):
        bridge.step(i * NS // 10)
    np.testing.assert_allclose(bridge.physics.joint_positions(), target, atol=0.02)
    with pytest.raises(ValueError, match="7 finite"):
        bridge.set_joint_targets(np.full(7, np.nan))


def test_trajectory_is_interpolated_in_time(bridge):
    start = bridge.target
    goal = start + 0.1
    shuffled = list(reversed(ARM_JOINT_NAMES))
    bridge.set_trajectory(shuffled, goal[::-1][None], [0.4], now_ns=0)
    bridge.step(NS // 5)  # half-way in time
    np.testing.assert_allclose(bridge.target, start + 0.05, atol=1e-6)
    for i in range(3, 12):
        bridge.step(i * NS // 10)
    np.testing.assert_allclose(bridge.target, goal, atol=1e-9)
    np.testing.assert_allclose(bridge.physics.joint_positions(), goal, atol=0.02)
    with pytest.raises(ValueError, match="increasing"):
        bridge.set_trajectory(ARM_JOINT_NAMES, np.zeros((2, 7)), [0.2, 0.1], 0)


def test_gripper_command_and_camera(bridge):
    bridge.set_gripper(0.0)
    for i in range(1, 11):
        bridge.step(i * NS // 10)
    assert bridge.physics.gripper_opening() < 0.01
    img = bridge.render("scene")
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8


def test_sim_world_runs_the_evaluation_environment():
    import sim

    world = make_sim_world("pybullet", "pick_place", "pick", 0, (32, 32))
    try:
        _, info = sim.make("pick", "pybullet", seed=0, image_size=(32, 32)).reset(seed=0)
        assert world.instruction == info["task"]  # seed 0's episode, as `vla eval` sees it
        assert world.physics.render("wrist").shape == (32, 32, 3)
        assert world.success() is False
        bridge = SimRobotBridge(world.physics)
        names, pos, _ = bridge.joint_state()
        assert names[0] == "panda_joint1" and pos.shape == (9,)
        assert world.reset(seed=1) and world.instruction
    finally:
        world.close()
