"""The safety state machine: deadman heartbeat, latched e-stop, observation freshness."""

from __future__ import annotations

import pytest

from vla.ros_core.safety import SafetyConfig, SafetyMonitor, SafetyState

MS = 1_000_000
PERIOD = 0.1  # 10 Hz


def fresh(now):
    return {"observation.images.scene": now - 10 * MS}, now - 5 * MS


def monitor(**cfg) -> SafetyMonitor:
    return SafetyMonitor(SafetyConfig(**cfg), PERIOD)


def test_ok_with_heartbeat_and_fresh_observations():
    s = monitor()
    s.heartbeat(1000 * MS)
    v = s.check(1100 * MS, *fresh(1100 * MS))
    assert v.ok and v.state is SafetyState.OK


def test_no_heartbeat_yet_holds():
    v = monitor().check(1000 * MS, *fresh(1000 * MS))
    assert v.state is SafetyState.HOLD and "no heartbeat" in v.reason


def test_heartbeat_loss_after_half_a_second():
    s = monitor()
    s.heartbeat(0)
    assert s.check(500 * MS, *fresh(500 * MS)).ok  # exactly at the timeout: still fine
    v = s.check(501 * MS, *fresh(501 * MS))
    assert v.state is SafetyState.HOLD and "heartbeat lost" in v.reason
    assert v.just_stopped  # the transition tick: the loop flushes and holds once
    assert not s.check(600 * MS, *fresh(600 * MS)).just_stopped
    s.heartbeat(650 * MS)
    assert s.check(700 * MS, *fresh(700 * MS)).ok  # HOLD recovers by itself


def test_estop_latches_until_explicit_reset():
    s = monitor()
    s.heartbeat(0)
    assert s.check(10 * MS, *fresh(10 * MS)).ok
    s.e_stop("button")
    v = s.check(20 * MS, *fresh(20 * MS))
    assert v.state is SafetyState.ESTOP and v.reason == "button" and v.just_stopped
    s.heartbeat(30 * MS)  # a heartbeat does not clear it
    assert s.check(40 * MS, *fresh(40 * MS)).state is SafetyState.ESTOP
    ok, msg = s.reset(40 * MS)
    assert ok and not s.estopped
    assert s.check(50 * MS, *fresh(50 * MS)).ok


def test_reset_refused_without_fresh_heartbeat():
    s = monitor()
    s.e_stop()
    ok, msg = s.reset(10 * MS)
    assert not ok and "heartbeat" in msg and s.estopped
    s.heartbeat(20 * MS)
    assert s.reset(30 * MS)[0]


def test_stale_image_is_dropped_after_two_periods():
    s = monitor()
    s.heartbeat(1000 * MS)
    joints = 1000 * MS
    assert s.check(1000 * MS, {"cam": 800 * MS}, joints).ok  # 2 periods old: allowed
    v = s.check(1000 * MS, {"cam": 799 * MS}, joints)
    assert v.state is SafetyState.HOLD and "stale" in v.reason and "cam" in v.reason
    v = s.check(1000 * MS, {"cam": None}, joints)
    assert v.state is SafetyState.HOLD and "no image" in v.reason


def test_stale_or_missing_joint_state_holds():
    s = monitor(max_joint_state_age_s=0.05)
    s.heartbeat(1000 * MS)
    assert s.check(1000 * MS, {}, None).reason == "no joint state yet"
    assert s.check(1000 * MS, {}, 949 * MS).reason == "joint state stale"
    assert s.check(1000 * MS, {}, 950 * MS).ok


def test_inactive_holds():
    s = monitor()
    s.heartbeat(0)
    v = s.check(10 * MS, *fresh(10 * MS), active=False)
    assert v.state is SafetyState.HOLD and "not active" in v.reason


def test_only_yaml_turns_checks_off():
    s = monitor(heartbeat_enabled=False, staleness_enabled=False, estop_enabled=False)
    assert s.check(10_000 * MS, {"cam": 0}, 0).ok
    s.e_stop()
    assert s.check(10_000 * MS, {"cam": 0}, 0).ok


@pytest.mark.parametrize(
    "bad",
    [
        {"heartbeat_timeout_s": 0.0},
        {"max_joint_step": -1.0},
        {"joint_limit_margin": -0.1},
        {"workspace_min": [0.0, 0.0]},
        {"workspace_min": [1.0, 0.0, 0.0], "workspace_max": [0.5, 1.0, 1.0]},
    ],
)
def test_config_validation_names_the_field(bad):
    with pytest.raises(ValueError, match="safety"):
        SafetyConfig(**bad)


@pytest.mark.parametrize(
    "field", ["heartbeat_timeout_s", "max_image_age_periods", "max_joint_state_age_s",
              "max_clock_skew_s", "max_joint_step"],
)  # fmt: skip
@pytest.mark.parametrize("value", [float("inf"), float("nan"), 0.0, -1.0])
def test_limits_must_be_finite_and_positive(field, value):
    """D10: inf used to switch a check off silently."""
    with pytest.raises(ValueError, match=f"safety.{field} must be finite and positive"):
        SafetyConfig(**{field: value})


def test_non_finite_workspace_is_refused():
    with pytest.raises(ValueError, match="workspace_max must be finite"):
        SafetyConfig(workspace_max=[0.85, 0.5, float("inf")])
