"""configs/ros/*.yaml against the nodes' typed configs (the ROS parameters they declare)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vla.ros_core.node_configs import (
    HeartbeatConfig,
    PolicyNodeConfig,
    RecorderConfig,
    RobotStateConfig,
    SimRobotConfig,
    TeleopConfig,
)
from vla.ros_core.params import (
    config_from_params,
    flatten,
    load_params_file,
    param_defaults,
    param_specs,
)

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs" / "ros"
FILES = {
    "policy_sim.yaml": ("vla_policy_node", PolicyNodeConfig),
    "policy_franka.yaml": ("vla_policy_node", PolicyNodeConfig),
    "policy_fr3.yaml": ("vla_policy_node", PolicyNodeConfig),
    "sim_robot.yaml": ("vla_sim_robot", SimRobotConfig),
    "recorder.yaml": ("vla_recorder", RecorderConfig),
    "teleop.yaml": ("vla_teleop", TeleopConfig),
}

CONFIGS_ALL = [
    PolicyNodeConfig,
    SimRobotConfig,
    RecorderConfig,
    TeleopConfig,
    RobotStateConfig,
    HeartbeatConfig,
]


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


@pytest.mark.parametrize("cls", CONFIGS_ALL)
def test_defaults_are_plain_ros_parameter_types(cls):
    # declare_parameter accepts bool, int, float, str and homogeneous non-empty lists of them;
    # numpy scalars or empty lists fail at node start-up on the robot
    for name, value in param_defaults(cls()).items():
        if isinstance(value, list):
            assert value, f"{name}: empty list default has no ROS type"
            assert len({type(v) for v in value}) == 1, name
            value = value[0]
        assert type(value) in (bool, int, float, str), f"{name}: {type(value)}"


@pytest.mark.parametrize("cls", CONFIGS_ALL)
def test_every_own_field_is_described_and_defaults_are_in_range(cls):
    specs = param_specs(cls)
    assert sorted(specs) == sorted(param_defaults(cls()))
    for name, spec in specs.items():
        if not name.startswith("safety."):  # SafetyConfig's fields: named by their default
            assert not spec.description.startswith(cls.__name__), f"{name} has no description"
        if spec.range is not None:
            low, high = spec.range
            assert type(spec.default) in (int, float), f"{name}: a range needs a number"
            assert type(low) is type(high) is type(spec.default), f"{name}: range types"
            assert low <= spec.default <= high, name


def test_out_of_range_values_name_the_range():
    with pytest.raises(ValueError, match=r"'control_rate' = 0.0 is outside its range \[0.1, "):
        config_from_params(PolicyNodeConfig, {"control_rate": 0.0})
    with pytest.raises(ValueError, match=r"'policy_port' = 70000"):
        config_from_params(PolicyNodeConfig, {"policy_port": 70000})
    assert config_from_params(RecorderConfig, {"fps": 1000.0}).fps == 1000.0  # inclusive


def test_ros2_param_describe_shows_the_descriptor(graph, tmp_path):
    """The running policy node answers `ros2 param describe` with description and range; a
    plain node's parameters (read once at start) are read-only, and ROS enforces both."""
    import subprocess

    from rclpy.parameter import Parameter
    from rosgraph import ros2_run, wait_for

    proc = graph.spawn(ros2_run("policy_node", {"device": "cpu"}), tmp_path / "policy.log")
    described = {}

    def describe():
        assert proc.alive(), proc.output()
        out = subprocess.run(
            ["ros2", "param", "describe", "--no-daemon", "/vla_policy_node", "control_rate"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        described["out"] = out.stdout
        return "Min value" in out.stdout

    wait_for(describe, 60, "`ros2 param describe /vla_policy_node control_rate`", poll=1.0)
    out = described["out"]
    assert "must equal the checkpoint's control_hz" in out and "Type: double" in out
    assert "Min value: 0.1" in out and "Max value: 1000.0" in out
    assert "read at configure" in out and "Read only" not in out  # lifecycle: re-read

    from vla_ros.ros_glue import declare_config

    node = graph.make_node("vla_recorder_params")
    cfg = declare_config(node, RecorderConfig)
    assert cfg == RecorderConfig()
    [desc] = node.describe_parameters(["fps"])
    assert desc.read_only and desc.floating_point_range[0].from_value == 0.1
    result = node.set_parameters([Parameter("fps", value=5.0)])[0]
    assert not result.successful and "read-only" in result.reason
    with pytest.raises(Exception, match="range"):
        node.declare_parameter("extra", 5, declare_descriptor_int_range())


def declare_descriptor_int_range():
    """An IntegerRange [0, 1] descriptor (the check ROS applies to our int ranges)."""
    from vla_ros.ros_glue import parameter_descriptor

    from vla.ros_core.params import ParamSpec

    return parameter_descriptor(ParamSpec(0, "x", (0, 1)), False, "read once at node start")


def test_a_bad_parameter_is_one_line_and_exit_2(graph, tmp_path):
    """Out of range, wrong type, invalid value: the node logs one FATAL line naming the
    parameter and the fix, and exits with 2 (no traceback); a good value runs."""
    from rosgraph import ros2_run, wait_for
    from std_msgs.msg import Empty

    cases = [
        ("rate", 0.5, "out of range Min: 1.0"),
        ("rate", 5, "expecting type 'DOUBLE'"),
        ("mode", "pedal", "'timer' or 'joy'"),
    ]
    for i, (name, value, why) in enumerate(cases):
        proc = graph.spawn(ros2_run("heartbeat_node", {name: value}), tmp_path / f"{i}.log")
        assert proc.proc.wait(60) == 2, proc.output()
        out = proc.output()
        assert why in out and "Fix it in the params file" in out and "Traceback" not in out
        fatal = [line for line in out.splitlines() if "[FATAL]" in line]
        assert len(fatal) == 1 and (name in fatal[0]), out
    beats = []
    graph.node.create_subscription(Empty, "/vla/heartbeat", beats.append, 10)
    proc = graph.spawn(ros2_run("heartbeat_node", {"rate": 50.0}), tmp_path / "ok.log")
    wait_for(lambda: len(beats) >= 5 or not proc.alive(), 60, "heartbeats at 50 Hz")
    assert proc.alive(), proc.output()
