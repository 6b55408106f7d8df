"""configs/ros/*.yaml against the nodes' typed configs (the ROS parameters they declare)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vla.ros_core.node_configs import (
    PolicyNodeConfig,
    RecorderConfig,
    SimRobotConfig,
    TeleopConfig,
)
from vla.ros_core.params import config_from_params, flatten, load_params_file, param_defaults

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs" / "ros"
FILES = {
    "policy_sim.yaml": ("vla_policy_node", PolicyNodeConfig),
    "policy_franka.yaml": ("vla_policy_node", PolicyNodeConfig),
    "sim_robot.yaml": ("vla_sim_robot", SimRobotConfig),
    "recorder.yaml": ("vla_recorder", RecorderConfig),
    "teleop.yaml": ("vla_teleop", TeleopConfig),
}


def test_every_params_file_is_checked():
    assert sorted(p.name for p in CONFIGS.glob("*.yaml")) == sorted(FILES)


@pytest.mark.parametrize("name", sorted(FILES))
def test_params_file_matches_the_node_config(name):
    node, cls = FILES[name]
    params = load_params_file(CONFIGS / name, node)
    # every parameter the node declares is in the file (nothing left to a hidden default) ...
    assert sorted(params) == sorted(param_defaults(cls()))
    # ... with the declared type (ROS 2 rejects 10 for a double) and valid values
    config = config_from_params(cls, params)
    assert isinstance(config, cls)


def test_safety_is_on_in_every_shipped_file():
    for name, (node, _cls) in FILES.items():
        params = load_params_file(CONFIGS / name, node)
        for key in (
            "heartbeat_enabled",
            "estop_enabled",
            "staleness_enabled",
            "joint_limits_enabled",
            "workspace_enabled",
        ):
            if f"safety.{key}" in params:
                assert params[f"safety.{key}"] is True, f"{name}: safety.{key} is off"


def test_policy_overrides_like_the_launch_file_passes_them():
    params = load_params_file(CONFIGS / "policy_sim.yaml", "vla_policy_node")
    params.update({"safety.dry_run": True, "control_rate": 5.0, "camera_topics": ["/a", "/b"]})
    cfg = config_from_params(PolicyNodeConfig, params)
    assert cfg.safety.dry_run and cfg.control_rate == 5.0 and cfg.period_s == 0.2


def test_type_errors_name_the_fix():
    with pytest.raises(TypeError, match=r"write 10.0, not 10"):
        config_from_params(PolicyNodeConfig, {"control_rate": 10})
    with pytest.raises(TypeError, match="safety"):
        config_from_params(PolicyNodeConfig, {"safety.heartbeat_enabled": "yes"})
    with pytest.raises(KeyError, match="safety.heartbeat"):
        config_from_params(PolicyNodeConfig, {"safety.heartbeat": True})
    with pytest.raises(KeyError, match="unknown parameters"):
        config_from_params(PolicyNodeConfig, {"contrl_rate": 10.0})
    with pytest.raises(ValueError, match="command_interface"):
        config_from_params(PolicyNodeConfig, {"command_interface": "torque"})


def test_flatten_and_missing_section(tmp_path):
    assert flatten({"a": {"b": 1, "c": {"d": 2}}, "e": 3}) == {"a.b": 1, "a.c.d": 2, "e": 3}
    f = tmp_path / "p.yaml"
    f.write_text("other_node:\n  ros__parameters: {x: 1}\n")
    with pytest.raises(KeyError, match="no section for node 'vla_recorder'"):
        load_params_file(f, "vla_recorder")
    f.write_text("/**:\n  ros__parameters: {x: 1}\n")
    assert load_params_file(f, "anything") == {"x": 1}


@pytest.mark.parametrize("cls", [PolicyNodeConfig, SimRobotConfig, RecorderConfig, TeleopConfig])
def test_defaults_are_plain_ros_parameter_types(cls):
    # declare_parameter accepts bool, int, float, str and homogeneous non-empty lists of them;
    # numpy scalars or empty lists fail at node start-up on the robot
    for name, value in param_defaults(cls()).items():
        if isinstance(value, list):
            assert value, f"{name}: empty list default has no ROS type"
            assert len({type(v) for v in value}) == 1, name
            value = value[0]
        assert type(value) in (bool, int, float, str), f"{name}: {type(value)}"
