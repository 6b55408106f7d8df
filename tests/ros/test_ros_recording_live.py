"""The recorder node on a live ROS 2 graph: topics in, a LeRobot v3 dataset out, durable under
SIGKILL.

The recorder runs as its own process (``ros2 run vla_ros recorder_node``); this test process is
the robot (cameras, /joint_states at 20 Hz moving towards the last forward command) and the
operator (instruction, start/stop services). A SIGKILL mid-episode must leave every completed
episode readable by ``vla data info``; a restarted recorder appends after them.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import numpy as np
import pytest
from rosgraph import require_ros, ros2_run, wait_for

from vla.constants import ACTION, OBS_STATE
from vla.robot.kinematics import PANDA_HOME_Q

pytestmark = pytest.mark.ros
ARM = [f"panda_joint{i}" for i in range(1, 8)]
FINGERS = ["panda_finger_joint1", "panda_finger_joint2"]
SIZE = 32  # recorded image size (the tiny training preset's)


class FakeRobot:
    """Publishes both cameras and /joint_states at 20 Hz; the arm steps towards the last
    /forward_position_controller/commands target, the fingers to the /gripper/command opening."""

    def __init__(self, node):
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import Image, JointState
        from std_msgs.msg import Float64, Float64MultiArray, String

        from vla.ros_core.messages import MessageTypes

        self.node, self.types = node, MessageTypes.from_rclpy()
        self.q, self.target, self.opening = PANDA_HOME_Q.copy(), PANDA_HOME_Q.copy(), 0.08
        self.lock = threading.Lock()
        sensor = qos_profile_sensor_data
        self.cams = {
            c: node.create_publisher(Image, f'/camera/{c}/image_raw', sensor)
            for c in ('scene', 'wrist')
        }
        self.js = node.create_publisher(JointState, '/joint_states', sensor)
        self.cmd = node.create_publisher(Float64MultiArray, '/forward_position_controller/commands', 10)
        self.grip = node.create_publisher(Float64, '/gripper/command', 10)
        self.instr = node.create_publisher(String, '/vla/instruction', 10)
        node.create_subscription(Float64MultiArray, '/forward_position_controller/commands',
                                 self._on_cmd, 10)  # fmt: skip
        self.timer = node.create_timer(0.05, self._tick)

    def _on_cmd(self, msg):
        with self.lock:
            self.target = np.asarray(msg.data, dtype=float)

    def _tick(self):
        from vla.ros_core.images import rgb_to_image
        from vla.ros_core.messages import joint_state_msg

        now = self.node.get_clock().now().nanoseconds
        with self.lock:
            self.q += np.clip(self.target - self.q, -0.01, 0.01)
            q = self.q.copy()
        shade = int(100 + 1000 * abs(q[0])) % 256  # the image follows the arm
        for cam, pub in self.cams.items():
            pub.publish(rgb_to_image(self.types, np.full((48, 64, 3), shade, np.uint8), now, cam))
        positions = [*q, self.opening / 2, self.opening / 2]
        self.js.publish(joint_state_msg(self.types, now, ARM + FINGERS, positions))

    def command(self, q_target, opening):
        from std_msgs.msg import Float64, Float64MultiArray

        self.cmd.publish(Float64MultiArray(data=[float(v) for v in q_target]))
        self.grip.publish(Float64(data=float(opening)))
        self.opening = opening


def trigger(node, name, timeout=10.0):
    """Call the std_srvs/Trigger service ``name``; returns (success, message)."""
    from std_srvs.srv import Trigger

    client = node.create_client(Trigger, name)
    try:
        wait_for(lambda: client.service_is_ready(), timeout, f'service {name}')
        future = client.call_async(Trigger.Request())
        wait_for(future.done, timeout, f'{name} to answer')
        return future.result().success, future.result().message
    finally:
        node.destroy_client(client)


class StatusWatch:
    """The recorder's latched ~/status (JSON), last message kept in ``last``."""

    def __init__(self, node):
        from rclpy.qos import DurabilityPolicy, QoSProfile
        from std_msgs.msg import String

        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.last = {}
        node.create_subscription(String, '/vla_recorder/status', self._on, latched)

    def _on(self, msg):
        self.last = json.loads(msg.data)


def record_episode(graph, robot, step, seconds=0.8):
    """Start, drive the arm with forward commands for ``seconds``, stop (saved)."""
    ok, text = trigger(graph.node, '/vla_recorder/start')
    assert ok, text
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        robot.command(robot.q + step, 0.0 if time.monotonic() > t_end - seconds / 2 else 0.08)
        time.sleep(0.1)
    ok, text = trigger(graph.node, '/vla_recorder/stop')
    assert ok and text.startswith('saved episode'), text


def recorder_cmd(root):
    return ros2_run('recorder_node', {'dataset_root': str(root), 'image_height': SIZE,
                                      'image_width': SIZE, 'fps': 10.0})  # fmt: skip


def start_recorder(graph, robot, root, log):
    """Spawn the recorder, wait for its services, and give it the instruction."""
    proc = graph.spawn(recorder_cmd(root), log)
    wait_for(lambda: robot.instr.get_subscription_count() > 0 or not proc.alive(), 60,
             'the recorder to subscribe to /vla/instruction')  # fmt: skip
    assert proc.alive(), proc.output()
    from std_msgs.msg import String

    robot.instr.publish(String(data='push the cube to the left'))
    return proc


def test_sigkill_mid_episode_keeps_completed_episodes(graph, tmp_path, capsys):
    require_ros('sensor_msgs', 'std_srvs')
    from vla.cli.main import main as vla_main
    from vla.data import LeRobotDatasetReader

    root = tmp_path / 'demos'
    robot = FakeRobot(graph.node)
    proc = start_recorder(graph, robot, root, tmp_path / 'recorder.log')
    for _ in range(2):
        record_episode(graph, robot, step=0.02)
    ok, text = trigger(graph.node, '/vla_recorder/start')  # a third, cut off by SIGKILL
    assert ok, text
    status = StatusWatch(graph.node)
    for _ in range(8):  # keep the arm moving while the third episode buffers frames
        robot.command(robot.q + 0.02, 0.08)
        time.sleep(0.1)
    wait_for(lambda: status.last.get('buffered', 0) > 0, 5, 'frames of the third episode')
    os.killpg(proc.proc.pid, signal.SIGKILL)
    proc.proc.wait(10)

    ds = LeRobotDatasetReader(root)
    assert ds.num_episodes == 2
    for ep in range(2):
        arrays = ds.episode_arrays(ep)
        n = len(arrays[ACTION])
        assert n >= 4, n  # ~0.8 s at 10 Hz
        np.testing.assert_allclose(arrays[OBS_STATE][0, 8:], PANDA_HOME_Q + 0.02 * 8 * ep,
                                   atol=0.05)  # fmt: skip
        assert ds.episode_task(ep) == 'push the cube to the left'
        moving = np.abs(arrays[ACTION][:, :3]).sum(axis=1) > 1e-3  # joint commands -> EEF deltas
        assert moving.sum() >= n - 2, arrays[ACTION]  # (the arm may reach the last target)
        assert set(np.unique(arrays[ACTION][:, 6])) == {-1.0, 1.0}  # opened, then closed
    assert vla_main(['data', 'info', str(root)]) == 0
    assert 'episodes     2\n' in capsys.readouterr().out
