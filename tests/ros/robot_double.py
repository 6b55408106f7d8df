"""A robot and operator on a live ROS 2 graph, for testing the policy node against DDS.

:class:`RobotDouble` is an rclpy node that plays the robot driver (cameras, /joint_states that
follow the commanded trajectory, the gripper), the operator (instruction, deadman heartbeat,
e-stop) and the observer (it records every command, status and diagnostics message with its
arrival time). :class:`ScriptedPolicy` stands in for the model: constant, random (fuzz) or
blocking chunks, with the metadata layout of ``vla.policy.Policy``.
"""

from __future__ import annotations

import json
import threading
import time

import numpy as np

from vla.robot.panda import ARM_JOINT_NAMES, FINGER_JOINT_NAMES, HOME_Q
from vla.ros_core import images, messages

#: metadata of the scripted test policies (the layout of vla.policy.Policy.metadata)
META = {
    "camera_keys": ["observation.images.scene", "observation.images.wrist"],
    "image_size": [32, 32],
    "action_space": "eef_delta",
    "control_hz": 10.0,
    "chunk_size": 8,
    "execution_horizon": 4,
}
TRAJ = "/joint_trajectory_controller/joint_trajectory"
DRY_TRAJ = "/vla/dry_run" + TRAJ


class ScriptedPolicy:
    """``mode``: "constant" (``action`` every step), "fuzz" (uniform in +-``scale``, far past the
    action limits). ``gate``: when set, act() waits on it (inference that takes a while)."""

    metadata = META

    def __init__(self, mode="constant", action=(0.0, 0, 0, 0, 0, 0, -1), scale=5.0, seed=0):
        self.mode, self.action, self.scale = mode, np.float32(action), scale
        self.rng = np.random.default_rng(seed)
        self.calls = 0
        self.gate: threading.Event | None = None
        self.entered = threading.Event()

    def act(self, obs):
        self.calls += 1
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10.0)
        if self.mode == "fuzz":
            return self.rng.uniform(-self.scale, self.scale, (8, 7)).astype(np.float32)
        return np.tile(self.action, (8, 1))

    def reset(self):
        pass


class RobotDouble:
    """Publishes what a robot and its operator would, at 20 Hz; records what comes back."""

    def __init__(self, graph, rate_hz: float = 20.0):
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import Image, JointState
        from std_msgs.msg import Bool, Empty, Float64, String
        from trajectory_msgs.msg import JointTrajectory
        from vla_ros.ros_glue import LATCHED_QOS

        self.graph = graph
        self.node = n = graph.make_node("robot_double")
        self.types = messages.MessageTypes.from_rclpy()
        self.q = np.array(HOME_Q, dtype=float)
        self.heartbeat = self.images = self.joints = True
        self.image_offset_ns = 0  # added to the camera stamps (a camera clock ahead: > 0)
        self.image_encoding = "rgb8"
        self.joint_names = list(ARM_JOINT_NAMES) + list(FINGER_JOINT_NAMES)
        self.nan_joint = False
        self.instruction = "put the red cube in the blue bowl"
        self.follow = True  # the measured position follows the first trajectory point
        self.lock = threading.Lock()
        self.commands: list[tuple[float, str, object]] = []  # (monotonic, topic, msg)
        self.statuses: list[dict] = []
        self.diagnostics: list = []
        self.gripper: list[float] = []
        qos = qos_profile_sensor_data
        self._img = {c: n.create_publisher(Image, f"/camera/{c}/image_raw", qos)
                     for c in ("scene", "wrist")}  # fmt: skip
        self._js = n.create_publisher(JointState, "/joint_states", qos)
        self._instr = n.create_publisher(String, "/vla/instruction", 10)
        self._beat = n.create_publisher(Empty, "/vla/heartbeat", 10)
        self.estop_pub = n.create_publisher(Bool, "/vla/estop", 10)
        for topic in (TRAJ, DRY_TRAJ):
            n.create_subscription(JointTrajectory, topic, lambda m, t=topic: self._on_cmd(t, m), 10)
        n.create_subscription(
            Float64, "/gripper/command", lambda m: self.gripper.append(m.data), 10
        )
        n.create_subscription(String, "/vla/status", self._on_status, LATCHED_QOS)
        n.create_subscription(DiagnosticArray, "/diagnostics", self.diagnostics.append, 10)
        self._msgs = (Empty, String)
        n.create_timer(1.0 / rate_hz, self._publish)

    # ---- what the robot and operator send --------------------------------------------------
    def _publish(self):
        empty, string = self._msgs
        now = self.node.get_clock().now().nanoseconds
        if self.images:
            rgb = np.full((48, 64, 3), 90, np.uint8)
            for pub in self._img.values():
                msg = images.rgb_to_image(self.types, rgb, now + self.image_offset_ns)
                msg.encoding = self.image_encoding  # a wrong one (e.g. 16UC1) tests bad input
                pub.publish(msg)
        if self.joints:
            with self.lock:
                q = self.q.copy()
            if self.nan_joint:
                q[2] = np.nan
            pos = list(q) + [0.04, 0.04]
            self._js.publish(messages.joint_state_msg(self.types, now, self.joint_names, pos))
        if self.instruction is not None:
            self._instr.publish(string(data=self.instruction))
        if self.heartbeat:
            self._beat.publish(empty())

    # ---- what comes back ----------------------------------------------------------------------
    def _on_cmd(self, topic, msg):
        with self.lock:
            self.commands.append((time.monotonic(), topic, msg))
            if self.follow and topic == TRAJ and msg.points:
                self.q = np.array(msg.points[0].positions, dtype=float)

    def _on_status(self, msg):
        self.statuses.append(json.loads(msg.data))

    def commands_since(self, t: float, topic: str = TRAJ) -> list:
        with self.lock:
            return [m for ts, tp, m in self.commands if ts > t and tp == topic]

    def status(self) -> dict:
        return self.statuses[-1] if self.statuses else {}
