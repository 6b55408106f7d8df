"""Node classes driven through an in-memory fake of the rclpy API (fake_rclpy.py), with a
fake clock: deterministic checks of the recorder, teleop/heartbeat and FollowInstruction
wiring. The policy node and the sim robot are tested on a live graph instead
(test_ros_policy_node_graph.py, test_ros_launch.py, test_ros_sim_robot_node.py): a fake once
hid that the policy node never answered its lifecycle services.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import fake_rclpy
import numpy as np
import pytest
from robot_double import META  # the scripted policies' metadata, shared

from vla.robot.kinematics import PANDA_HOME_Q
from vla.ros_core import images, messages
from vla.ros_core.messages import MessageTypes

SRC = Path(__file__).resolve().parents[2] / "ros_ws" / "src"
MS = 1_000_000
ARM = [f"panda_joint{i}" for i in range(1, 8)]
TRAJ = "/joint_trajectory_controller/joint_trajectory"


@pytest.fixture
def ros(monkeypatch):
    fake_rclpy.install(monkeypatch, SRC)
    yield fake_rclpy
    for name in [n for n in sys.modules if n == "vla_ros" or n.startswith("vla_ros.")]:
        del sys.modules[name]


@pytest.fixture
def T():
    return MessageTypes.from_rosbags(fake_rclpy.STORE)


class FakePolicy:
    metadata = META

    def __init__(self):
        self.calls, self.resets, self.closed, self.broken = 0, 0, False, False

    def act(self, obs):
        self.calls += 1
        if self.broken:
            return np.full((8, 7), np.nan, np.float32)
        return np.tile(np.float32([0.01, 0, 0, 0, 0, 0, 1]), (8, 1))

    def reset(self):
        self.resets += 1

    def close(self):
        self.closed = True


def robot_inputs(node, T, now, heartbeat=True, q=PANDA_HOME_Q, instruction=True):
    """Deliver what a camera driver, joint_state_broadcaster and operator would publish."""
    node.clock.ns = now
    rgb = np.full((48, 64, 3), 80, np.uint8)
    for cam in ("scene", "wrist"):
        node.subs[f"/camera/{cam}/image_raw"][1](images.rgb_to_image(T, rgb, now))
    names = ARM + ["panda_finger_joint1", "panda_finger_joint2"]
    js = messages.joint_state_msg(T, now, names, list(q) + [0.04, 0.04])
    node.subs["/joint_states"][1](js)
    if instruction:
        node.subs["/vla/instruction"][1](T.String(data="put the red cube in the bowl"))
    if heartbeat:
        node.subs["/vla/heartbeat"][1](fake_rclpy.STORE.types["std_msgs/msg/Empty"]())


def make_policy_node(ros, monkeypatch, **params):
    from vla_ros import policy_node

    ros.PARAM_OVERRIDES.update(params)
    fake = FakePolicy()
    monkeypatch.setattr(policy_node, "load_policy", lambda cfg: fake)
    return policy_node.PolicyNode(), fake


def test_recorder_node_records_an_episode(ros, tmp_path, T):
    from vla.data import LeRobotDatasetReader

    ros.PARAM_OVERRIDES.update(dataset_root=str(tmp_path / "ds"), image_height=32, image_width=32)
    from vla_ros import recorder_node

    node = recorder_node.RecorderNode()
    sample = node.timers[0].callback
    node.subs["/vla/instruction"][1](T.String(data="stack the cubes"))
    assert node.services["~/start"](None, fake_rclpy.SimpleNamespace()).success
    q = PANDA_HOME_Q.copy()
    for i in range(4):
        now = (1000 + 100 * i) * MS
        robot_inputs(node, T, now, heartbeat=False, q=q, instruction=False)
        node.subs["/forward_position_controller/commands"][1](
            messages.float64_multiarray_msg(T, q + 0.01)
        )
        sample()
        q = q + 0.01
    node.subs["/vla/recorder/control"][1](T.String(data="stop"))
    node.destroy_node()  # finalize
    ds = LeRobotDatasetReader(tmp_path / "ds")
    assert ds.num_episodes == 1 and ds.num_frames == 4
    assert ds.episode_task(0) == "stack the cubes"
    assert '"episodes_saved": 1' in node.pubs["~/status"].messages[-1].data


def test_teleop_and_heartbeat_nodes(ros, T):
    from vla_ros import heartbeat_node, teleop_node

    node = teleop_node.TeleopNode()
    joy = fake_rclpy.STORE.types["sensor_msgs/msg/Joy"]
    header = messages.make_header(T, 0)
    node.clock.ns = 1000 * MS
    js = messages.joint_state_msg(T, node.clock.ns, ARM, PANDA_HOME_Q)
    node.subs["/joint_states"][1](js)
    stick = joy(
        header=header, axes=np.float32([0, 1, 0, 0, 0, 0]), buttons=np.int32([0, 0, 0, 0, 1])
    )
    node.subs["/joy"][1](stick)
    node.timers[0].callback()
    cmd = node.pubs["/forward_position_controller/commands"].messages[-1]
    assert np.abs(np.asarray(cmd.data) - PANDA_HOME_Q).max() > 1e-4

    hb = heartbeat_node.HeartbeatNode()  # mode timer: beats unconditionally
    hb.timers[0].callback()
    assert len(hb.pubs["/vla/heartbeat"].messages) == 1
    importlib.reload(fake_rclpy)  # PARAM_OVERRIDES reset for the next node
    fake_rclpy.PARAM_OVERRIDES.update(mode="joy")
    hb = heartbeat_node.HeartbeatNode()
    hb.clock.ns = 1000 * MS
    hb.subs["/joy"][1](stick)
    hb.timers[0].callback()
    hb.clock.ns += 500 * MS  # the joystick went silent: the beat stops
    hb.timers[0].callback()
    assert len(hb.pubs["/vla/heartbeat"].messages) == 1


class GoalHandle:
    def __init__(self, instruction, time_limit_s, cancel_after=None):
        self.request = fake_rclpy.SimpleNamespace(
            instruction=instruction, time_limit_s=time_limit_s
        )
        self.feedback, self.status, self._cancel_after = [], None, cancel_after

    @property
    def is_cancel_requested(self):
        return self._cancel_after is not None and len(self.feedback) >= self._cancel_after

    def publish_feedback(self, fb):
        self.feedback.append(dict(vars(fb)))

    def succeed(self):
        self.status = "succeeded"

    def canceled(self):
        self.status = "canceled"

    def abort(self):
        self.status = "aborted"


@pytest.mark.parametrize(
    "limit,cancel_after,status",
    [(0.25, None, "succeeded"), (0.0, 1, "canceled")],
)
def test_follow_instruction_action(ros, monkeypatch, T, limit, cancel_after, status):
    from vla_ros import instruction_action

    monkeypatch.setattr(instruction_action, "FEEDBACK_PERIOD_S", 0.05)
    node, _ = make_policy_node(ros, monkeypatch)
    node.trigger_configure()
    server = node.instruction_server
    accept = server.server.callbacks["goal_callback"]
    goal = fake_rclpy.SimpleNamespace(instruction="stack the cubes", time_limit_s=limit)
    assert accept(goal).name == "REJECT"  # not active yet
    node.trigger_activate()
    assert accept(goal).name == "ACCEPT"
    handle = GoalHandle("stack the cubes", limit, cancel_after)
    result = server.server.callbacks["execute_callback"](handle)
    assert handle.status == status and result.completed == (status == "succeeded")
    assert handle.feedback and handle.feedback[0]["safety_state"] in ("ok", "hold")
    assert node.loop.task is None  # the goal's end clears the instruction: the arm holds
