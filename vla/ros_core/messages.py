"""ROS 2 message <-> numpy conversion for stamps, joint states and the three command interfaces.

Duck-typed: every function reads fields by their ROS names and builds messages through a
:class:`MessageTypes` bundle, so the same code runs on rclpy message classes on a robot
(``MessageTypes.from_rclpy()``) and on the ``rosbags`` type store's classes in tests
(``MessageTypes.from_rosbags(typestore)``). Builders pass every field by keyword, which both
kinds of class accept.
"""

from __future__ import annotations

import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

NS_PER_S = 1_000_000_000

# Field names of the classes a bundle holds, with the ROS type each stands for.
_ROS_TYPES: dict[str, str] = {
    "Time": "builtin_interfaces/msg/Time",
    "Duration": "builtin_interfaces/msg/Duration",
    "Header": "std_msgs/msg/Header",
    "String": "std_msgs/msg/String",
    "Float64": "std_msgs/msg/Float64",
    "Bool": "std_msgs/msg/Bool",
    "Image": "sensor_msgs/msg/Image",
    "CompressedImage": "sensor_msgs/msg/CompressedImage",
    "JointState": "sensor_msgs/msg/JointState",
    "JointTrajectory": "trajectory_msgs/msg/JointTrajectory",
    "JointTrajectoryPoint": "trajectory_msgs/msg/JointTrajectoryPoint",
    "Float64MultiArray": "std_msgs/msg/Float64MultiArray",
    "MultiArrayLayout": "std_msgs/msg/MultiArrayLayout",
    "MultiArrayDimension": "std_msgs/msg/MultiArrayDimension",
    "TwistStamped": "geometry_msgs/msg/TwistStamped",
    "Twist": "geometry_msgs/msg/Twist",
    "Vector3": "geometry_msgs/msg/Vector3",
    "DiagnosticArray": "diagnostic_msgs/msg/DiagnosticArray",
    "DiagnosticStatus": "diagnostic_msgs/msg/DiagnosticStatus",
    "KeyValue": "diagnostic_msgs/msg/KeyValue",
}


@dataclass(frozen=True)
class MessageTypes:
    """The message classes (and array factories) the conversions build messages with."""

    classes: dict[str, type]
    uint8_array: Callable[[bytes], Any]
    float64_array: Callable[[Sequence[float]], Any]

    def __getattr__(self, name: str) -> type:
        try:
            return self.classes[name]
        except KeyError:
            raise AttributeError(f"MessageTypes has no class {name!r}") from None

    @classmethod
    def from_rosbags(cls, typestore) -> MessageTypes:
        """Classes from a ``rosbags`` type store (``get_typestore(Stores.ROS2_HUMBLE)``)."""
        return cls(
            classes={k: typestore.types[v] for k, v in _ROS_TYPES.items()},
            uint8_array=lambda b: np.frombuffer(bytes(b), dtype=np.uint8).copy(),
            float64_array=lambda v: np.ascontiguousarray(v, dtype=np.float64),
        )

    @classmethod
    def from_rclpy(cls) -> MessageTypes:
        """Classes of the installed ROS 2 Python message packages (needs a sourced ROS 2)."""
        import importlib

        classes = {}
        for key, ros_type in _ROS_TYPES.items():
            pkg, _, name = ros_type.split("/")
            classes[key] = getattr(importlib.import_module(f"{pkg}.msg"), name)
        return cls(
            classes=classes,
            uint8_array=lambda b: array.array("B", bytes(b)),
            float64_array=lambda v: array.array("d", [float(x) for x in v]),
        )


# ---- time ---------------------------------------------------------------------------------------
def stamp_to_ns(stamp) -> int:
    """builtin_interfaces/Time (sec, nanosec) -> integer nanoseconds."""
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def stamp_to_sec(stamp) -> float:
    """builtin_interfaces/Time -> float seconds."""
    return stamp_to_ns(stamp) / NS_PER_S


def ns_to_stamp(types: MessageTypes, ns: int):
    """Integer nanoseconds -> builtin_interfaces/Time."""
    if ns < 0:
        raise ValueError(f"a ROS time stamp cannot be negative, got {ns} ns")
    sec, nanosec = divmod(int(ns), NS_PER_S)
    return types.Time(sec=sec, nanosec=nanosec)


def sec_to_duration(types: MessageTypes, seconds: float):
    """Float seconds -> builtin_interfaces/Duration (non-negative, rounded to the nanosecond)."""
    if seconds < 0:
        raise ValueError(f"time_from_start cannot be negative, got {seconds} s")
    sec, nanosec = divmod(round(seconds * NS_PER_S), NS_PER_S)
    return types.Duration(sec=int(sec), nanosec=int(nanosec))


def make_header(types: MessageTypes, stamp_ns: int, frame_id: str = ""):
    """std_msgs/Header with the given stamp."""
    return types.Header(stamp=ns_to_stamp(types, stamp_ns), frame_id=frame_id)


# ---- joint states -------------------------------------------------------------------------------
def joint_positions_by_name(msg, joint_names: Sequence[str]) -> np.ndarray:
    """sensor_msgs/JointState -> positions (len(joint_names),) in the order asked for.

    Drivers publish joints in any order (and often more joints than the arm's, e.g. fingers);
    re-indexing by name is the only safe reading. A missing joint raises and names it.
    """
    names = list(msg.name)
    position = np.asarray(msg.position, dtype=np.float64)
    if len(position) != len(names):
        raise ValueError(
            f"JointState has {len(names)} names but {len(position)} positions; "
            "the driver must publish a position for every named joint"
        )
    index = {n: i for i, n in enumerate(names)}
    missing = [n for n in joint_names if n not in index]
    if missing:
        raise KeyError(
            f"JointState lacks joints {missing}; it has {names}. Fix joint_names "
            "in the ROS params file to match the driver's joint names"
        )
    return position[[index[n] for n in joint_names]]


def joint_state_msg(
    types: MessageTypes, stamp_ns: int, names: Sequence[str], positions, velocities=None
):
    """Build a sensor_msgs/JointState (as a ros2_control joint_state_broadcaster would)."""
    positions = np.asarray(positions, dtype=np.float64)
    if len(positions) != len(names):
        raise ValueError(f"{len(names)} joint names but {len(positions)} positions")
    vel = [] if velocities is None else np.asarray(velocities, dtype=np.float64)
    return types.JointState(
        header=make_header(types, stamp_ns),
        name=list(names),
        position=types.float64_array(positions),
        velocity=types.float64_array(vel),
        effort=types.float64_array([]),
    )


# ---- command interfaces -------------------------------------------------------------------------
def joint_trajectory_msg(
    types: MessageTypes,
    stamp_ns: int,
    joint_names: Sequence[str],
    targets: np.ndarray,
    period_s: float,
):
    """A whole chunk of joint targets (N, J) as trajectory_msgs/JointTrajectory; point k is
    reached at time_from_start = (k + 1) * period_s (for a joint_trajectory_controller)."""
    targets = np.atleast_2d(np.asarray(targets, dtype=np.float64))
    if targets.shape[1] != len(joint_names):
        raise ValueError(f"targets have {targets.shape[1]} joints, names {len(joint_names)}")
    if not np.all(np.isfinite(targets)):
        raise ValueError("refusing to publish non-finite joint targets")
    points = [
        types.JointTrajectoryPoint(
            positions=types.float64_array(row),
            velocities=types.float64_array([]),
            accelerations=types.float64_array([]),
            effort=types.float64_array([]),
            time_from_start=sec_to_duration(types, (k + 1) * period_s),
        )
        for k, row in enumerate(targets)
    ]
    return types.JointTrajectory(
        header=make_header(types, stamp_ns), joint_names=list(joint_names), points=points
    )


def trajectory_targets(msg) -> tuple[list[str], np.ndarray, np.ndarray]:
    """trajectory_msgs/JointTrajectory -> (joint names, positions (N, J), times (N,) seconds)."""
    pos = np.array([np.asarray(p.positions, dtype=np.float64) for p in msg.points])
    times = np.array(
        [p.time_from_start.sec + p.time_from_start.nanosec / NS_PER_S for p in msg.points]
    )
    return list(msg.joint_names), pos.reshape(len(msg.points), -1), times


def float64_multiarray_msg(types: MessageTypes, values, label: str = "joints"):
    """std_msgs/Float64MultiArray for a forward_command_controller (one value per joint)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(values)):
        raise ValueError("refusing to publish non-finite commands")
    dim = types.MultiArrayDimension(label=label, size=len(values), stride=len(values))
    return types.Float64MultiArray(
        layout=types.MultiArrayLayout(dim=[dim], data_offset=0),
        data=types.float64_array(values),
    )


def twist_stamped_msg(types: MessageTypes, stamp_ns: int, twist6, frame_id: str):
    """geometry_msgs/TwistStamped (linear xyz, angular xyz) for a servo controller."""
    t = np.asarray(twist6, dtype=np.float64)
    if t.shape != (6,) or not np.all(np.isfinite(t)):
        raise ValueError(f"need a finite (6,) twist, got {t}")
    vec = types.Vector3
    return types.TwistStamped(
        header=make_header(types, stamp_ns, frame_id),
        twist=types.Twist(linear=vec(x=t[0], y=t[1], z=t[2]), angular=vec(x=t[3], y=t[4], z=t[5])),
    )


def twist_to_array(msg) -> np.ndarray:
    """geometry_msgs/TwistStamped (or Twist) -> (6,) float64."""
    tw = getattr(msg, "twist", msg)
    lin, ang = tw.linear, tw.angular
    return np.array([lin.x, lin.y, lin.z, ang.x, ang.y, ang.z], dtype=np.float64)


# ---- diagnostics --------------------------------------------------------------------------------
#: diagnostic_msgs/DiagnosticStatus levels by name
DIAGNOSTIC_LEVELS = {"ok": 0, "warn": 1, "error": 2, "stale": 3}


def diagnostic_array_msg(types: MessageTypes, stamp_ns: int, statuses):
    """diagnostic_msgs/DiagnosticArray from ``(name, hardware_id, level, message, {key: value})``
    tuples, ``level`` one of DIAGNOSTIC_LEVELS (what rqt_robot_monitor and aggregators read)."""
    out = []
    for name, hardware_id, level, message, values in statuses:
        out.append(
            types.DiagnosticStatus(
                level=bytes([DIAGNOSTIC_LEVELS[level]]),
                name=name,
                message=message,
                hardware_id=hardware_id,
                values=[types.KeyValue(key=str(k), value=str(v)) for k, v in values.items()],
            )
        )
    return types.DiagnosticArray(header=make_header(types, stamp_ns), status=out)
