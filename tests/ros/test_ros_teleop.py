"""Gamepad teleop in the policy's action space, through the same IK and safety filter."""

from __future__ import annotations

import numpy as np
import pytest

from vla.robot.kinematics import PANDA_HOME_Q, forward_kinematics
from vla.ros_core.node_configs import TeleopConfig
from vla.ros_core.teleop import TeleopMapper

AXES_FWD = [0.0, 1.0, 0.0, 0.0, 0.0, 0.0]  # left stick fully up = +x
ENABLE = [0, 0, 0, 0, 1]


def test_needs_the_enable_button():
    t = TeleopMapper(TeleopConfig())
    target, opening = t.step(PANDA_HOME_Q, AXES_FWD, [0, 0, 0, 0, 0])
    assert target is None and opening == 0.08


def test_full_stick_moves_the_tcp_forward_by_the_scale():
    t = TeleopMapper(TeleopConfig())
    assert t.action(AXES_FWD, ENABLE)[0] == pytest.approx(0.02)
    target, _ = t.step(PANDA_HOME_Q, AXES_FWD, ENABLE)
    dpos = forward_kinematics(target)[0] - forward_kinematics(PANDA_HOME_Q)[0]
    # one linearised DLS step: ~2 cm forward, a few mm of first-order error
    np.testing.assert_allclose(dpos, [0.02, 0, 0], atol=4e-3)
    assert dpos[0] > 0.015


def test_deadband_and_gripper_latch():
    t = TeleopMapper(TeleopConfig())
    action = t.action([0.0, 0.05, 0.0, 0.0, 0.0, 0.0], ENABLE)
    assert np.all(action[:6] == 0) and action[6] == -1.0
    t.action([0] * 6, [1, 0, 0, 0, 0])  # A: close, even without enable
    assert t.gripper_closed
    assert t.step(PANDA_HOME_Q, [0] * 6, [0, 0, 0, 0, 0])[1] == 0.0
    t.action([0] * 6, [0, 1, 0, 0, 0])  # B: open
    assert not t.gripper_closed


def test_safety_filter_applies_to_teleop():
    from vla.ros_core.safety import SafetyConfig

    t = TeleopMapper(TeleopConfig(axis_scale=[1.0] * 6, safety=SafetyConfig(max_joint_step=0.01)))
    target, _ = t.step(PANDA_HOME_Q, [1.0] * 6, ENABLE)
    assert np.abs(target - PANDA_HOME_Q).max() <= 0.01 + 1e-12


def test_config_validation():
    with pytest.raises(ValueError, match="6 entries"):
        TeleopConfig(axis_map=[0, 1])
    with pytest.raises(ValueError, match="deadband"):
        TeleopConfig(deadband=1.0)
