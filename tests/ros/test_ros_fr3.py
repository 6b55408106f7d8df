"""configs/ros/policy_fr3.yaml: a Franka Research 3 under franka_ros2 (fr3_joint*, the
fr3_arm_controller's joint_trajectory topic, franka_gripper's GripperCommand action)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from robot_double import META  # the scripted policies' metadata, shared

from vla.robot.kinematics import PANDA_HOME_Q, PANDA_JOINT_LIMITS
from vla.ros_core import messages as m
from vla.ros_core.command_filter import CommandFilter
from vla.ros_core.node_configs import PolicyNodeConfig
from vla.ros_core.params import config_from_params, load_params_file, param_defaults
from vla.ros_core.policy_loop import PolicyLoop

FR3_YAML = Path(__file__).resolve().parents[2] / "configs" / "ros" / "policy_fr3.yaml"
FR3_ARM = [f"fr3_joint{i}" for i in range(1, 8)]
FR3_FINGERS = ["fr3_finger_joint1", "fr3_finger_joint2"]
# Franka's datasheet limits of the FR3 (rad)
FR3_LOWER = np.array([-2.7437, -1.7837, -2.9007, -3.0421, -2.8065, 0.5445, -3.0159])
FR3_UPPER = np.array([2.7437, 1.7837, 2.9007, -0.1518, 2.8065, 4.5169, 3.0159])


@pytest.fixture(scope="module")
def cfg() -> PolicyNodeConfig:
    params = load_params_file(FR3_YAML, "vla_policy_node")
    assert sorted(params) == sorted(param_defaults(PolicyNodeConfig()))  # nothing left implicit
    return config_from_params(PolicyNodeConfig, params)


def test_fr3_names_topics_and_gripper(cfg):
    assert cfg.joint_names == FR3_ARM and cfg.finger_joint_names == FR3_FINGERS
    assert cfg.command_interface == "joint_trajectory"
    assert cfg.trajectory_topic == "/fr3_arm_controller/joint_trajectory"
    assert cfg.gripper_interface == "action"
    assert cfg.gripper_action == "/fr3_gripper/gripper_action"
    # franka_gripper moves to 2 x command.position: per-finger positions within 0.04 m
    assert cfg.gripper_open_position == 0.04 and cfg.gripper_closed_position == 0.0
    assert cfg.twist_frame == "fr3_link0" and not cfg.safety.dry_run
    assert cfg.safety.heartbeat_enabled and cfg.safety.joint_limits_enabled


def test_fr3_safety_limits_are_the_fr3s(cfg):
    # the FR3's limits where narrower than the Panda's (the policy's controller's), else the Panda's
    lower, upper = np.array(cfg.safety.joint_lower_limits), np.array(cfg.safety.joint_upper_limits)
    np.testing.assert_array_equal(lower, np.maximum(FR3_LOWER, PANDA_JOINT_LIMITS[:, 0]))
    np.testing.assert_array_equal(upper, np.minimum(FR3_UPPER, PANDA_JOINT_LIMITS[:, 1]))
    assert lower[5] == FR3_LOWER[5] and upper[3] == FR3_UPPER[3]  # the FR3's own, narrower
    margin = cfg.safety.joint_limit_margin
    # the pose the policy was trained from is reachable on an FR3 (inside the margins)
    assert np.all(PANDA_HOME_Q > lower + margin) and np.all(PANDA_HOME_Q < upper - margin)
    # joint 4 above the FR3's -0.1518 rad (a Panda would allow 0.0): the filter holds it back
    q = PANDA_HOME_Q.copy()
    q[3] = upper[3] - margin - 0.01
    target = q.copy()
    target[3] = -0.05
    out = CommandFilter(cfg.safety).apply(q, target)
    assert out.q[3] <= upper[3] - margin + 1e-9


def test_fr3_joint_states_in_and_trajectory_out(cfg, types):
    """franka_ros2's /joint_states (arm + gripper, any order) read by name, and a chunk's
    command as the fr3_arm_controller expects it."""
    names = FR3_FINGERS + FR3_ARM[::-1]  # joint_state_broadcaster order is not guaranteed
    positions = [0.03, 0.03, *PANDA_HOME_Q[::-1]]
    js = m.joint_state_msg(types, 5, names, positions)
    np.testing.assert_allclose(m.joint_positions_by_name(js, cfg.joint_names), PANDA_HOME_Q)
    assert m.joint_positions_by_name(js, cfg.finger_joint_names).sum() == pytest.approx(0.06)

    loop = PolicyLoop(cfg, lambda obs: np.tile([0.01, 0, 0, 0, 0, 0, -1], (8, 1)), META)
    loop.set_instruction("put the red cube in the bowl")
    img = np.zeros((480, 640, 3), np.uint8)  # a RealSense frame, cropped + resized to 32x32
    for cam in cfg.camera_names:
        loop.set_image(cam, img, 0)
    loop.set_joint_state(PANDA_HOME_Q, 0.06, 0)
    loop.heartbeat(0)
    out = loop.tick(10_000_000)
    assert out.kind == "command", out
    msg = m.joint_trajectory_msg(types, 0, cfg.joint_names, out.trajectory, cfg.period_s)
    assert list(msg.joint_names) == FR3_ARM and len(msg.points) == len(out.trajectory)
    assert np.all(out.trajectory >= FR3_LOWER) and np.all(out.trajectory <= FR3_UPPER)
