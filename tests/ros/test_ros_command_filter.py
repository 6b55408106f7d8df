"""Joint limits minus margin, per-step change and the workspace box, incl. hypothesis."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vla.robot.kinematics import PANDA_HOME_Q, PANDA_JOINT_LIMITS, forward_kinematics
from vla.ros_core.command_filter import CommandFilter
from vla.ros_core.safety import SafetyConfig

CFG = SafetyConfig()
FILTER = CommandFilter(CFG)
LO = PANDA_JOINT_LIMITS[:, 0] + CFG.joint_limit_margin
HI = PANDA_JOINT_LIMITS[:, 1] - CFG.joint_limit_margin

joint_vec = st.lists(st.floats(-4.0, 4.0), min_size=7, max_size=7).map(np.array)


def test_small_move_passes_unchanged():
    target = PANDA_HOME_Q + 0.01
    res = FILTER.apply(PANDA_HOME_Q, target)
    np.testing.assert_allclose(res.q, target)
    assert not (res.step_clamped or res.limit_clamped or res.workspace_clamped)


def test_step_is_clamped():
    res = FILTER.apply(PANDA_HOME_Q, PANDA_HOME_Q + 1.0)
    assert res.step_clamped
    assert np.abs(res.q - PANDA_HOME_Q).max() <= CFG.max_joint_step + 1e-12


def test_limit_with_margin():
    filt = CommandFilter(SafetyConfig(workspace_enabled=False))  # a stretched arm leaves the box
    q = PANDA_HOME_Q.copy()
    q[3] = HI[3] - 0.01  # joint 4 near its upper limit (0 rad) minus the margin
    res = filt.apply(q, q + 0.04)
    assert res.limit_clamped and not res.workspace_clamped
    assert res.q[3] == pytest.approx(HI[3])
    np.testing.assert_allclose(np.delete(res.q, 3), np.delete(q + 0.04, 3))


def test_workspace_box_stops_at_the_boundary():
    cfg = SafetyConfig(
        workspace_min=[0.15, -0.5, 0.45], workspace_max=[0.85, 0.5, 0.7], max_joint_step=0.5
    )
    filt = CommandFilter(cfg)
    q0 = PANDA_HOME_Q  # TCP at z ~ 0.487
    down = q0.copy()
    down[3] -= 0.4  # bend the elbow: the TCP drops
    assert forward_kinematics(down)[0][2] < 0.45
    res = filt.apply(q0, down)
    assert res.workspace_clamped
    z = forward_kinematics(res.q)[0][2]
    assert 0.45 <= z < 0.46  # backed off to the box face, not all the way to q0


def test_non_finite_raises():
    with pytest.raises(ValueError, match="non-finite"):
        FILTER.apply(PANDA_HOME_Q, np.full(7, np.nan))
    with pytest.raises(ValueError, match="joint vectors"):
        FILTER.apply(PANDA_HOME_Q, np.zeros(6))


@settings(max_examples=200, deadline=None)
@given(ref=joint_vec, target=joint_vec)
def test_never_beyond_limits_nor_step_from_inside_the_band(ref, target):
    ref = np.clip(ref, LO, HI)  # the arm is inside its limits
    q = FILTER.apply(ref, target).q
    assert np.all(q >= LO - 1e-12) and np.all(q <= HI + 1e-12)
    assert np.abs(q - ref).max() <= CFG.max_joint_step + 1e-12


@settings(max_examples=100, deadline=None)
@given(ref=joint_vec, target=joint_vec)
def test_from_outside_the_band_never_moves_further_out(ref, target):
    q = FILTER.apply(ref, target).q
    out_before = np.maximum(LO - ref, 0) + np.maximum(ref - HI, 0)
    out_after = np.maximum(LO - q, 0) + np.maximum(q - HI, 0)
    assert np.all(out_after <= out_before + 1e-12)
    assert np.abs(q - ref).max() <= CFG.max_joint_step + 1e-12


def test_cell_limits_from_params_narrow_the_urdf():
    lower = PANDA_JOINT_LIMITS[:, 0].tolist()
    lower[3] = PANDA_HOME_Q[3] - 0.06  # a cell that keeps joint 4 close to home
    cfg = SafetyConfig(joint_lower_limits=lower, workspace_enabled=False)
    q = CommandFilter(cfg).apply(PANDA_HOME_Q, PANDA_HOME_Q - 0.04).q
    assert q[3] == pytest.approx(PANDA_HOME_Q[3] - 0.01)  # stopped at the cell limit - margin
    np.testing.assert_allclose(np.delete(q, 3), np.delete(PANDA_HOME_Q - 0.04, 3))
    wider = (PANDA_JOINT_LIMITS[:, 1] + 0.1).tolist()
    with pytest.raises(ValueError, match="only narrow"):
        SafetyConfig(joint_upper_limits=wider)
    with pytest.raises(ValueError, match="7 values"):
        SafetyConfig(joint_upper_limits=[1.0])
