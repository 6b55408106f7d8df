"""Stamps, JointState re-indexing and the three command messages, with rosbags' ROS 2 classes."""

from __future__ import annotations

import numpy as np
import pytest

from vla.ros_core import messages as m


def test_message_types_are_the_ros2_definitions(types):
    assert types.Image.__msgtype__ == "sensor_msgs/msg/Image"
    assert types.JointTrajectory.__msgtype__ == "trajectory_msgs/msg/JointTrajectory"
    assert types.TwistStamped.__msgtype__ == "geometry_msgs/msg/TwistStamped"
    with pytest.raises(AttributeError, match="no class"):
        _ = types.NotAMessage


@pytest.mark.parametrize("ns", [0, 1, 999_999_999, 1_000_000_000, 1_700_000_000_123_456_789])
def test_stamp_roundtrip_through_cdr(types, roundtrip, ns):
    header = roundtrip(m.make_header(types, ns, "panda_link0"))
    assert header.frame_id == "panda_link0"
    assert 0 <= header.stamp.nanosec < 1_000_000_000
    assert m.stamp_to_ns(header.stamp) == ns
    assert m.stamp_to_sec(header.stamp) == pytest.approx(ns / 1e9)


def test_negative_stamp_and_duration_raise(types):
    with pytest.raises(ValueError, match="negative"):
        m.ns_to_stamp(types, -1)
    with pytest.raises(ValueError, match="negative"):
        m.sec_to_duration(types, -0.1)


def test_joint_state_reindexed_by_name(types, roundtrip):
    # a driver publishing fingers first and the arm joints shuffled
    names = [
        "panda_finger_joint1",
        "panda_joint3",
        "panda_joint1",
        "panda_joint2",
        "panda_finger_joint2",
        "panda_joint7",
        "panda_joint5",
        "panda_joint4",
        "panda_joint6",
    ]
    value = {n: float(i) / 10 for i, n in enumerate(names)}
    msg = roundtrip(m.joint_state_msg(types, 5, names, [value[n] for n in names]))
    arm = [f"panda_joint{i}" for i in range(1, 8)]
    q = m.joint_positions_by_name(msg, arm)
    np.testing.assert_allclose(q, [value[n] for n in arm])
    fingers = m.joint_positions_by_name(msg, ["panda_finger_joint1", "panda_finger_joint2"])
    np.testing.assert_allclose(fingers, [0.0, 0.4])


def test_joint_state_missing_joint_names_it(types):
    msg = m.joint_state_msg(types, 0, ["a", "b"], [1.0, 2.0])
    with pytest.raises(KeyError, match="panda_joint1"):
        m.joint_positions_by_name(msg, ["a", "panda_joint1"])


def test_joint_state_length_mismatch_raises(types):
    msg = m.joint_state_msg(types, 0, ["a", "b"], [1.0, 2.0])
    msg.position = np.array([1.0])
    with pytest.raises(ValueError, match="2 names but 1 positions"):
        m.joint_positions_by_name(msg, ["a"])


def test_joint_trajectory_carries_whole_chunk_with_times(types, roundtrip):
    names = [f"panda_joint{i}" for i in range(1, 8)]
    targets = np.arange(3 * 7, dtype=float).reshape(3, 7) / 100
    msg = roundtrip(m.joint_trajectory_msg(types, 42, names, targets, period_s=0.1))
    assert msg.__msgtype__ == "trajectory_msgs/msg/JointTrajectory"
    assert m.stamp_to_ns(msg.header.stamp) == 42
    got_names, pos, times = m.trajectory_targets(msg)
    assert got_names == names
    np.testing.assert_allclose(pos, targets)
    np.testing.assert_allclose(times, [0.1, 0.2, 0.3])
    assert msg.points[2].time_from_start.sec == 0
    assert msg.points[2].time_from_start.nanosec == 300_000_000


def test_joint_trajectory_rejects_nan_and_wrong_width(types):
    names = ["a", "b"]
    with pytest.raises(ValueError, match="non-finite"):
        m.joint_trajectory_msg(types, 0, names, np.array([[0.0, np.nan]]), 0.1)
    with pytest.raises(ValueError, match="3 joints"):
        m.joint_trajectory_msg(types, 0, names, np.zeros((1, 3)), 0.1)


def test_float64_multiarray_for_forward_controller(types, roundtrip):
    values = np.linspace(-1, 1, 7)
    msg = roundtrip(m.float64_multiarray_msg(types, values))
    np.testing.assert_allclose(msg.data, values)
    assert msg.layout.dim[0].size == 7 and msg.layout.dim[0].label == "joints"
    with pytest.raises(ValueError, match="non-finite"):
        m.float64_multiarray_msg(types, [np.inf])


def test_twist_stamped_roundtrip(types, roundtrip):
    twist = np.array([0.1, -0.2, 0.3, 0.01, -0.02, 0.03])
    msg = roundtrip(m.twist_stamped_msg(types, 7, twist, "panda_link0"))
    assert msg.header.frame_id == "panda_link0"
    np.testing.assert_allclose(m.twist_to_array(msg), twist)
    with pytest.raises(ValueError, match="finite"):
        m.twist_stamped_msg(types, 7, np.zeros(5), "x")


def test_from_rclpy_needs_ros():
    pytest.importorskip("rclpy", reason="rclpy is not installable here; runs under colcon test")
    types = m.MessageTypes.from_rclpy()
    assert types.Image.__name__ == "Image"
