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
from rosgraph import REPO, require_ros, ros2_run, wait_for

from vla.constants import ACTION, OBS_STATE
from vla.robot.kinematics import PANDA_HOME_Q

pytestmark = pytest.mark.ros
ARM = [f"panda_joint{i}" for i in range(1, 8)]
FINGERS = ["panda_finger_joint1", "panda_finger_joint2"]
SIZE = 32  # recorded image size (the tiny training preset's)


class FakeRobot:
    """Publishes both cameras and /joint_states at 20 Hz. The arm moves at 0.1 rad/s towards
    the last /forward_position_controller/commands target (so it lags the commands), the fingers
    to the /gripper/command opening."""

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
            c: node.create_publisher(Image, f"/camera/{c}/image_raw", sensor)
            for c in ("scene", "wrist")
        }
        self.js = node.create_publisher(JointState, "/joint_states", sensor)
        self.cmd = node.create_publisher(
            Float64MultiArray, "/forward_position_controller/commands", 10
        )
        self.grip = node.create_publisher(Float64, "/gripper/command", 10)
        self.instr = node.create_publisher(String, "/vla/instruction", 10)
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
            self.q += np.clip(self.target - self.q, -0.005, 0.005)  # lags the commands
            q = self.q.copy()
        shade = int(100 + 1000 * abs(q[0])) % 256  # the image follows the arm
        for cam, pub in self.cams.items():
            pub.publish(rgb_to_image(self.types, np.full((48, 64, 3), shade, np.uint8), now, cam))
        positions = [*q, self.opening / 2, self.opening / 2]
        self.js.publish(joint_state_msg(self.types, now, ARM + FINGERS, positions))

    def publish_joint_state(self, positions):
        from vla.ros_core.messages import joint_state_msg

        now = self.node.get_clock().now().nanoseconds
        self.js.publish(joint_state_msg(self.types, now, ARM + FINGERS, positions))

    def command(self, q_target, opening):
        from std_msgs.msg import Float64, Float64MultiArray

        self.cmd.publish(Float64MultiArray(data=[float(v) for v in q_target]))
        self.grip.publish(Float64(data=float(opening)))
        self.opening = opening


def trigger(node, name, timeout=30.0):
    """Call the std_srvs/Trigger service ``name``; returns (success, message)."""
    from std_srvs.srv import Trigger

    client = node.create_client(Trigger, name)
    try:
        wait_for(lambda: client.service_is_ready(), timeout, f"service {name}")
        future = client.call_async(Trigger.Request())
        wait_for(future.done, timeout, f"{name} to answer")
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
        node.create_subscription(String, "/vla_recorder/status", self._on, latched)

    def _on(self, msg):
        self.last = json.loads(msg.data)


def record_episode(graph, robot, status, step, seconds=0.8):
    """Command the arm until the recorder reports every stream fresh, then start, drive the arm
    with forward commands for ``seconds`` and stop (saved)."""

    def fresh():
        robot.command(robot.q + step, 0.08)
        return "stale" in status.last and not status.last["stale"]

    wait_for(fresh, 10, "every stream fresh in the recorder status", poll=0.1)
    ok, text = trigger(graph.node, "/vla_recorder/start")
    assert ok, text
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        robot.command(robot.q + step, 0.0 if time.monotonic() > t_end - seconds / 2 else 0.08)
        time.sleep(0.1)
    ok, text = trigger(graph.node, "/vla_recorder/stop")
    assert ok and text.startswith("saved episode"), text


def recorder_cmd(root):
    return ros2_run('recorder_node', {'dataset_root': str(root), 'image_height': SIZE,
                                      'image_width': SIZE, 'fps': 10.0})  # fmt: skip


def start_recorder(graph, robot, status, root, log):
    """Spawn the recorder and give it the instruction; returns once its status shows the task
    (a fresh status message: a killed recorder's endpoints linger in discovery for a while)."""
    from std_msgs.msg import String

    status.last = {}
    proc = graph.spawn(recorder_cmd(root), log)

    def ready():
        assert proc.alive(), proc.output()
        robot.instr.publish(String(data="push the cube to the left"))
        return status.last.get("task")

    wait_for(ready, 60, "the recorder to report the instruction on its status", poll=0.25)
    return proc


def test_sigkill_mid_episode_keeps_completed_episodes(graph, tmp_path, capsys):
    require_ros("sensor_msgs", "std_srvs")
    from vla.cli.main import main as vla_main
    from vla.data import LeRobotDatasetReader

    root = tmp_path / "demos"
    robot = FakeRobot(graph.node)
    status = StatusWatch(graph.node)
    proc = start_recorder(graph, robot, status, root, tmp_path / "recorder.log")
    for _ in range(2):
        record_episode(graph, robot, status, step=0.05)
    ok, text = trigger(graph.node, "/vla_recorder/start")  # a third, cut off by SIGKILL
    assert ok, text
    for _ in range(8):  # keep the arm moving while the third episode buffers frames
        robot.command(robot.q + 0.05, 0.08)
        time.sleep(0.1)
    wait_for(lambda: status.last.get("buffered", 0) > 0, 5, "frames of the third episode")
    robot.publish_joint_state([np.nan] * 9)  # a driver glitch: logged and dropped, not fatal
    wait_for(lambda: "joint state is not finite" in proc.output(), 10, "the NaN to be logged")
    assert proc.alive()
    os.killpg(proc.proc.pid, signal.SIGKILL)
    proc.proc.wait(10)

    ds = LeRobotDatasetReader(root)
    assert ds.num_episodes == 2
    for ep in range(2):
        arrays = ds.episode_arrays(ep)
        n = len(arrays[ACTION])
        assert n >= 4, n  # ~0.8 s at 10 Hz
        q = arrays[OBS_STATE][:, 8:]
        # the measured arm follows the commands (a frame may repeat a state under CPU load)
        assert np.all(np.diff(q[:, 0]) >= 0) and q[-1, 0] > q[0, 0], q
        assert ds.episode_task(ep) == "push the cube to the left"
        moving = np.abs(arrays[ACTION][:, :3]).sum(axis=1) > 1e-3  # joint commands -> EEF deltas
        assert moving.all(), arrays[ACTION]
        assert set(np.unique(arrays[ACTION][:, 6])) == {-1.0, 1.0}  # opened, then closed
    assert vla_main(["data", "info", str(root)]) == 0
    assert "episodes     2\n" in capsys.readouterr().out

    # a restarted recorder repairs what the kill left and appends after the saved episodes
    proc = start_recorder(graph, robot, status, root, tmp_path / "recorder2.log")
    record_episode(graph, robot, status, step=-0.05)
    proc.stop()
    assert "dataset finalized (1 episodes saved)" in proc.output(), proc.output()
    ds = LeRobotDatasetReader(root)
    assert ds.num_episodes == 3
    q = ds.episode_arrays(2)[OBS_STATE][:, 8:]
    assert np.all(np.diff(q[:, 0]) <= 0) and q[-1, 0] < q[0, 0], q  # commanded back


class Gamepad:
    """A script holding the deadman button and pushing the stick: sensor_msgs/Joy at 20 Hz."""

    def __init__(self, node):
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import Joy

        self.pub = node.create_publisher(Joy, "/joy", qos_profile_sensor_data)
        self.axes, self.buttons = [0.0] * 6, [0] * 8
        self.node = node
        node.create_timer(0.05, self._tick)

    def _tick(self):
        from sensor_msgs.msg import Joy

        msg = Joy(axes=self.axes, buttons=self.buttons)
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.pub.publish(msg)

    def hold(self, dz=0.0, dx=0.0, close=False):
        """Deadman held (LB), left stick dx, right stick dz, A (close) or B (open)."""
        self.axes = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        self.axes[1], self.axes[4] = dx, dz
        self.buttons = [int(close), int(not close), 0, 0, 1, 0, 0, 0]


@pytest.mark.slow
def test_teleop_episodes_from_the_simulated_panda_train(graph, tmp_path, capsys):
    """ros2 launch teleop_record (sim robot, teleop_node, recorder): a scripted gamepad drives
    the simulated Panda through two episodes; the dataset reads and `vla train` trains on it."""
    require_ros("sensor_msgs", "std_srvs")
    import yaml

    from vla.cli.main import main as vla_main
    from vla.data import LeRobotDatasetReader

    root = tmp_path / "demos"
    params = yaml.safe_load((REPO / "configs/ros/recorder.yaml").read_text())
    params["vla_recorder"]["ros__parameters"].update(image_height=SIZE, image_width=SIZE)
    (tmp_path / "recorder.yaml").write_text(yaml.safe_dump(params))
    launch = graph.spawn(['ros2', 'launch', 'vla_bringup', 'teleop_record.launch.py',
                          f'dataset_root:={root}', f'params_file:={tmp_path / "recorder.yaml"}',
                          'use_sim:=true', 'use_joy:=false'], tmp_path / 'launch.log')  # fmt: skip
    pad = Gamepad(graph.node)
    status = StatusWatch(graph.node)
    wait_for(lambda: status.last.get('task') or not launch.alive(), 120,
             "the recorder to hear the simulator's instruction")  # fmt: skip
    assert launch.alive(), launch.output()[-3000:]
    for close in (False, True):
        pad.hold(dz=-1.0, dx=0.5, close=close)  # down and forward at full stick
        ok, text = trigger(graph.node, "/vla_recorder/start")
        assert ok, text
        time.sleep(2.0)
        ok, text = trigger(graph.node, "/vla_recorder/stop")
        assert ok and text.startswith("saved episode"), f"{text}\n{launch.output()[-3000:]}"
    assert launch.stop() is not None  # SIGINT: the recorder merges the dataset's files
    assert "dataset finalized (2 episodes saved)" in launch.output(), launch.output()[-3000:]

    ds = LeRobotDatasetReader(root)
    assert ds.num_episodes == 2 and ds.episode_task(0) == status.last["task"]
    actions = ds.episode_arrays(1)[ACTION]
    assert len(actions) >= 10  # 2 s at 10 Hz, less frames skipped while a stream was stale
    assert np.median(actions[:, 2]) < -0.005  # the stick pushed the TCP down: dz < 0
    assert np.all(actions[:, 6] == 1.0) and np.all(ds.episode_arrays(0)[ACTION][:, 6] == -1.0)
    assert vla_main(["data", "info", str(root)]) == 0
    assert "episodes     2\n" in capsys.readouterr().out
    out = tmp_path / "run"
    argv = ['train', '--config', 'configs/train/tiny_cpu.yaml', f'--dataset={root}',
            f'--output_dir={out}', '--model.text_encoder=trainable', '--progress=false',
            '--steps=3', '--warmup_steps=1', '--batch_size=4', '--log_every=1']  # fmt: skip
    assert vla_main(argv) == 0
    assert (out / "final" / "model.safetensors").is_file()
