"""The robot layer's EEF-delta controller (vla/robot/controller.py) and its rotation helper."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vla.constants import EEF_ACTION_HIGH, EEF_ACTION_LOW
from vla.robot.controller import (
    WORKSPACE_HIGH,
    WORKSPACE_LOW,
    ArmController,
    ArmState,
    ControllerConfig,
)
from vla.robot.kinematics import PANDA_HOME_Q, PandaKinematics, euler_xyz_to_rotvec

GOLDEN = Path(__file__).parent / "golden" / "controller_dls_ik.npz"


@pytest.mark.parametrize("scale", [1e-9, 1e-4, 1e-3, 0.25, np.pi])
def test_euler_to_rotvec_matches_scipy(scale: float) -> None:
    """The numpy conversion replaced scipy's Rotation.from_euler("xyz").as_rotvec()."""
    rng = np.random.default_rng(0)
    for angles in rng.uniform(-scale, scale, size=(500, 3)):
        expected = Rotation.from_euler("xyz", angles).as_rotvec()
        np.testing.assert_allclose(euler_xyz_to_rotvec(angles), expected, rtol=0, atol=1e-12)


def test_joint_targets_equal_the_scipy_era_controller() -> None:
    """Golden output: 120 (q, action) pairs through the controller as it was in sim/controller.py
    with scipy's Rotation (the parent of commit 5151416): a quarter of the actions 2x past their
    limits, a quarter with the TCP at the table top so the workspace floor clips."""
    data = np.load(GOLDEN)
    controller = ArmController()
    for q, action, validated, expected in zip(
        data["q"], data["action"], data["validated"], data["joint_targets"], strict=True
    ):
        np.testing.assert_array_equal(controller.validate(action), validated)
        got, closed, clipped = controller.command(PandaKinematics(q), action)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
        assert closed == (validated[-1] > 0) and np.array_equal(clipped, validated)


def test_workspace_box_clips_the_tcp_target() -> None:
    """The box is a parameter: a target outside it is pulled back to its face."""
    arm = PandaKinematics(PANDA_HOME_Q)
    z = arm.ee_pose()[0][2]
    low = (WORKSPACE_LOW[0], WORKSPACE_LOW[1], z - 0.01)  # floor 1 cm under the TCP
    boxed = ArmController(ControllerConfig(workspace_low=low, workspace_high=WORKSPACE_HIGH))
    down = np.array([0.0, 0.0, -0.05, 0.0, 0.0, 0.0, -1.0])
    q_boxed, _, _ = boxed.command(arm, down)
    q_free, _, _ = ArmController().command(arm, down)
    dz_boxed = PandaKinematics(q_boxed).ee_pose()[0][2] - z
    dz_free = PandaKinematics(q_free).ee_pose()[0][2] - z
    assert dz_free < -0.04 and -0.015 < dz_boxed < -0.005


def test_joint_pos_actions_and_arm_state_protocol() -> None:
    controller = ArmController(ControllerConfig(action_space="joint_pos"))
    assert controller.action_dim == 8 and ArmController().action_dim == 7
    arm = PandaKinematics(PANDA_HOME_Q)
    assert isinstance(arm, ArmState)
    target, closed, _ = controller.command(arm, np.r_[PANDA_HOME_Q + 10.0, 0.5])
    assert closed and target[3] == 0.0  # joint 4's upper URDF limit
    assert np.all(target <= np.array([2.9671, 1.8326, 2.9671, 0.0, 2.9671, 3.8223, 2.9671]))


def test_bad_actions_and_configs_are_refused_with_the_fix() -> None:
    controller = ArmController()
    with pytest.raises(ValueError, match=r"shape \(7,\)"):
        controller.validate(np.zeros(6))
    with pytest.raises(ValueError, match="non-finite values .* indices \\[2\\]"):
        controller.validate([0, 0, np.nan, 0, 0, 0, 1])
    with pytest.raises(ValueError, match="numeric array"):
        controller.validate("up")
    with pytest.raises(ValueError, match="low < high"):
        ControllerConfig(workspace_low=(0.9, 0.0, 0.0), workspace_high=(0.8, 1.0, 1.0))
    with pytest.raises(ValueError, match="action_space"):
        ControllerConfig(action_space="torque")
    big = np.r_[EEF_ACTION_HIGH[:6] * 3, 1.0]
    np.testing.assert_array_equal(controller.validate(big)[:6], EEF_ACTION_HIGH[:6])
    np.testing.assert_array_equal(controller.validate(-big)[:6], EEF_ACTION_LOW[:6])
