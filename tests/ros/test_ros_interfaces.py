"""The FollowInstruction action: its definition is valid ROS IDL, and when goals end."""

from __future__ import annotations

from pathlib import Path

import pytest
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from vla.ros_core.goals import goal_outcome

PKG = Path(__file__).resolve().parents[2] / "ros_ws" / "src" / "vla_interfaces"
ACTION = PKG / "action" / "FollowInstruction.action"


def test_action_definition_parses_and_serialises():
    parts = ACTION.read_text().split("\n---\n")
    assert len(parts) == 3  # goal, result, feedback
    store = get_typestore(Stores.ROS2_HUMBLE)
    names = [f"vla_interfaces/action/FollowInstruction_{p}" for p in ("Goal", "Result", "Feedback")]
    for name, text in zip(names, parts, strict=True):
        store.register(get_types_from_msg(text, name))
    goal_cls, result_cls, fb_cls = (store.types[n] for n in names)
    goal = goal_cls(instruction="put the red cube in the bowl", time_limit_s=30.0)
    back = store.deserialize_cdr(store.serialize_cdr(goal, goal.__msgtype__), goal.__msgtype__)
    assert back.instruction == goal.instruction and back.time_limit_s == 30.0
    result = result_cls(completed=True, reason="ran", steps=12, elapsed_s=30.1)
    back = store.deserialize_cdr(store.serialize_cdr(result, names[1]), names[1])
    assert back.steps == 12 and back.completed
    assert {"safety_state", "reason", "steps", "elapsed_s"} <= set(fb_cls.__dataclass_fields__)


def test_interface_package_manifest_and_cmake():
    from catkin_pkg.package import parse_package

    manifest = parse_package(str(PKG / "package.xml"))
    manifest.validate()
    assert manifest.package_format == 3 and manifest.get_build_type() == "ament_cmake"
    assert "rosidl_interface_packages" in {g.name for g in manifest.member_of_groups}
    assert "rosidl_default_generators" in {d.name for d in manifest.buildtool_depends}
    cmake = (PKG / "CMakeLists.txt").read_text()
    assert '"action/FollowInstruction.action"' in cmake and "rosidl_generate_interfaces" in cmake


@pytest.mark.parametrize(
    "kwargs,status",
    [
        ({}, None),
        ({"cancel_requested": True, "estopped": True}, "canceled"),
        ({"estopped": True}, "aborted"),
        ({"current_task": "stack the cubes"}, "aborted"),
        ({"current_task": None}, "aborted"),
        ({"elapsed_s": 10.0}, "succeeded"),
        ({"elapsed_s": 1e6, "time_limit_s": 0.0}, None),  # 0: until canceled
    ],
)
def test_goal_outcome(kwargs, status):
    args = dict(
        instruction=" pick ",
        current_task="pick",
        cancel_requested=False,
        estopped=False,
        elapsed_s=1.0,
        time_limit_s=10.0,
    )
    out = goal_outcome(**{**args, **kwargs})
    assert (out.status if out else None) == status
    if out is not None:
        assert out.completed == (status == "succeeded") and out.reason


def test_negative_time_limit_raises():
    with pytest.raises(ValueError, match="time_limit_s"):
        goal_outcome("a", "a", False, False, 0.0, -1.0)
