"""The rclpy nodes end to end. Needs ROS 2 (rclpy + message packages), so it is skipped here:
rclpy is on no registry these machines reach. Runs on a machine with ROS 2 Humble/Jazzy sourced
and the workspace built (see ros_ws/README.md):

    source /opt/ros/humble/setup.bash && source ros_ws/install/setup.bash
    python -m pytest -q tests/ros/test_ros_nodes_rclpy.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

rclpy = pytest.importorskip(
    "rclpy", reason="rclpy is not installable here (no registry ships it); runs where ROS 2 is"
)

pytestmark = pytest.mark.ros
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "ros_ws" / "src" / "vla_ros"))

from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402
from std_msgs.msg import Bool, Empty, String  # noqa: E402
from trajectory_msgs.msg import JointTrajectory  # noqa: E402

from vla.robot.kinematics import PANDA_HOME_Q  # noqa: E402
from vla.ros_core import images, messages  # noqa: E402

META = {
    "camera_keys": ["observation.images.scene", "observation.images.wrist"],
    "image_size": [32, 32],
    "action_space": "eef_delta",
    "control_hz": 10.0,
    "chunk_size": 8,
    "execution_horizon": 4,
}
ARM = [f"panda_joint{i}" for i in range(1, 8)]


class FakePolicy:
    metadata = META

    def __init__(self):
        self.calls = 0

    def act(self, obs):
        self.calls += 1
        return np.tile(np.float32([0.005, 0, 0, 0, 0, 0, -1]), (8, 1))

    def reset(self):
        pass


@pytest.fixture
def ros():
    rclpy.init()
    yield
    rclpy.try_shutdown()


class Robot:
    """A fake robot driver + operator: images, joint states, instruction, heartbeat."""

    def __init__(self):
        self.node = rclpy.create_node("fake_robot")
        self.types = messages.MessageTypes.from_rclpy()
        n = self.node
        self.img = {
            c: n.create_publisher(Image, f"/camera/{c}/image_raw", qos_profile_sensor_data)
            for c in ("scene", "wrist")
        }
        self.js = n.create_publisher(JointState, "/joint_states", qos_profile_sensor_data)
        self.instr = n.create_publisher(String, "/vla/instruction", 10)
        self.beat = n.create_publisher(Empty, "/vla/heartbeat", 10)
        self.estop = n.create_publisher(Bool, "/vla/estop", 10)
        self.trajs = []
        n.create_subscription(
            JointTrajectory,
            "/joint_trajectory_controller/joint_trajectory",
            lambda m: self.trajs.append((time.monotonic(), m)),
            10,
        )

    def publish(self, heartbeat=True):
        now = self.node.get_clock().now().nanoseconds
        rgb = np.full((48, 64, 3), 90, np.uint8)
        for pub in self.img.values():
            pub.publish(images.rgb_to_image(self.types, rgb, now))
        names = ARM + ["panda_finger_joint1", "panda_finger_joint2"]
        pos = list(PANDA_HOME_Q) + [0.04, 0.04]
        self.js.publish(messages.joint_state_msg(self.types, now, names, pos))
        self.instr.publish(String(data="put the red cube in the bowl"))
        if heartbeat:
            self.beat.publish(Empty())


def spin_for(executor, robot, seconds, heartbeat=True):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        robot.publish(heartbeat)
        executor.spin_once(timeout_sec=0.02)


def test_policy_node_commands_only_with_heartbeat_and_without_estop(ros, monkeypatch):
    from vla_ros import policy_node

    fake = FakePolicy()
    monkeypatch.setattr(policy_node, "load_policy", lambda cfg: fake)
    node = policy_node.PolicyNode()
    robot = Robot()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    executor.add_node(robot.node)
    try:
        # (the return type of trigger_* differs between distros: check effects instead)
        node.trigger_configure()
        assert node.loop is not None and fake.calls == node.cfg.warmup_steps  # warmed up
        node.trigger_activate()
        assert node.timer is not None
        spin_for(executor, robot, 1.5)
        assert robot.trajs, "no JointTrajectory while the heartbeat was present"
        msg = robot.trajs[-1][1]
        assert list(msg.joint_names) == ARM and len(msg.points) >= 1
        # heartbeat gone: at most one hold (the measured position), then nothing
        t_stop = time.monotonic()
        spin_for(executor, robot, 1.5, heartbeat=False)
        late = [m for t, m in robot.trajs if t > t_stop + 0.6]
        assert len(late) <= 1
        for m in late:
            np.testing.assert_allclose(m.points[0].positions, PANDA_HOME_Q, atol=1e-9)
        # e-stop latches even with the heartbeat back
        robot.estop.publish(Bool(data=True))
        spin_for(executor, robot, 0.3)
        t_estop = time.monotonic()
        spin_for(executor, robot, 1.0)
        assert len([1 for t, _ in robot.trajs if t > t_estop + 0.2]) == 0
        node.trigger_deactivate()
        assert node.timer is None
        node.trigger_cleanup()
        assert node.loop is None
    finally:
        executor.shutdown()
        node.destroy_node()
        robot.node.destroy_node()


def test_launch_files_build_their_descriptions():
    pytest.importorskip("launch_ros", reason="launch_ros comes with ROS 2")
    import importlib.util

    from launch import LaunchDescription

    for name in ("robot.launch.py", "sim.launch.py", "teleop_record.launch.py"):
        spec = importlib.util.spec_from_file_location(
            name.replace(".", "_"), ROOT / "launch" / name
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        ld = module.generate_launch_description()
        assert isinstance(ld, LaunchDescription)
        assert ld.get_launch_arguments()
