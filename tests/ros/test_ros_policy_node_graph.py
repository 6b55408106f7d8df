"""The policy node running on a live ROS 2 graph (real rclpy, real DDS, real lifecycle services).

The node under test is the real ``vla_ros.policy_node.PolicyNode`` with its policy swapped for a
scripted one (no model load); a RobotDouble node publishes cameras, joint states, the
instruction and the deadman heartbeat and records every command. Lifecycle transitions go
through the node's own services, as `ros2 lifecycle set` and launch's autostart send them.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest
from robot_double import DRY_TRAJ, TRAJ, RobotDouble, ScriptedPolicy
from rosgraph import VLA_ROS_SRC, Lifecycle, require_ros, wait_for

from vla.robot.kinematics import forward_kinematics

pytestmark = pytest.mark.ros
PERIOD = 0.1  # the policy's control period (10 Hz)


@pytest.fixture
def stack(graph, monkeypatch):
    """-> make(policy, **params): a PolicyNode on the graph, a RobotDouble, a lifecycle client."""
    require_ros("lifecycle_msgs", "control_msgs")
    monkeypatch.syspath_prepend(str(VLA_ROS_SRC))
    from vla_ros import policy_node

    def make(policy=None, **params):
        from rclpy.parameter import Parameter

        policy = policy or ScriptedPolicy()
        monkeypatch.setattr(policy_node, "load_policy", lambda cfg: policy)
        node = graph.add(policy_node.PolicyNode())
        if params:
            node.set_parameters([Parameter(k, value=v) for k, v in params.items()])
        robot = RobotDouble(graph)
        return node, robot, Lifecycle(graph.node, node.get_name())

    yield make
    sys.modules.pop("vla_ros.policy_node", None)


def activate(lc):
    assert lc.state() == "unconfigured"
    assert lc.set("configure") and lc.state() == "inactive"
    assert lc.set("activate") and lc.state() == "active"


def test_lifecycle_over_dds_commands_flow_and_deactivate_stops_them(stack):
    node, robot, lc = stack(ScriptedPolicy(action=(0.01, 0, 0, 0, 0, 0, 1)))
    activate(lc)
    wait_for(lambda: len(robot.commands_since(0)) >= 5, 40, "commands while active")
    msg = robot.commands_since(0)[-1]
    assert list(msg.joint_names) == [f"panda_joint{i}" for i in range(1, 8)]
    wait_for(lambda: robot.gripper and robot.gripper[-1] == 0.0, 5, "gripper close command")
    wait_for(lambda: robot.status().get("state") == "ok", 5, "/vla/status ok")
    assert lc.set("deactivate") and lc.state() == "inactive"
    t_off = time.monotonic()
    time.sleep(1.0)
    late = robot.commands_since(t_off + PERIOD)  # one period for anything already in flight
    assert late == [], f"{len(late)} commands more than one control period after deactivate"
    assert lc.set("cleanup") and lc.state() == "unconfigured"


def test_checkpoint_that_fails_to_load_is_a_clear_error_not_a_hang(stack, monkeypatch, tmp_path):
    node, robot, lc = stack()
    from vla_ros import policy_node

    def broken(cfg):
        raise FileNotFoundError(f"no checkpoint at {tmp_path / 'missing'}")

    monkeypatch.setattr(policy_node, "load_policy", broken)
    assert lc.state() == "unconfigured"
    assert not lc.set("configure")  # answered, refused
    assert lc.state() == "unconfigured"
    assert "configure failed" in node.config_error and "missing" in node.config_error

    def error_diag():
        for arr in robot.diagnostics:
            for st in arr.status:
                if st.level == b"\x02" and "missing" in st.message:
                    return True
        return False

    wait_for(error_diag, 5, "an ERROR on /diagnostics naming the missing checkpoint")


def test_heartbeat_loss_holds_at_the_last_target_then_resumes(stack):
    node, robot, lc = stack(ScriptedPolicy(action=(0.01, 0, 0, 0, 0, 0, -1)))
    activate(lc)
    wait_for(lambda: len(robot.commands_since(0)) >= 5, 40, "commands")
    robot.heartbeat = False
    t_lost = time.monotonic()
    wait_for(lambda: "heartbeat lost" in robot.status().get("reason", ""), 5, "heartbeat lost")
    time.sleep(1.0)
    after = robot.commands_since(t_lost + 0.5 + 2 * PERIOD)
    assert len(after) <= 1, "more than one hold after the heartbeat stopped"
    # (under CPU load a stale frame can stop the arm just before the heartbeat goes: that
    # stop's hold is the one, so look a little before t_lost too)
    holds = [m for m in robot.commands_since(t_lost - 0.5) if len(m.points) == 1]
    assert holds, "no hold was published"
    q_hold = np.array(holds[-1].points[0].positions)
    assert np.all(np.isfinite(q_hold)) and np.abs(q_hold).sum() > 1.0  # a real pose, not zeros
    robot.heartbeat = True
    t_back = time.monotonic()
    wait_for(lambda: len(robot.commands_since(t_back)) >= 3, 10, "commands after the heartbeat")


def test_estop_latches_until_the_reset_service(stack):
    from std_msgs.msg import Bool
    from std_srvs.srv import Trigger

    node, robot, lc = stack()
    activate(lc)
    wait_for(lambda: len(robot.commands_since(0)) >= 3, 40, "commands")
    robot.estop_pub.publish(Bool(data=True))
    wait_for(lambda: robot.status().get("estopped"), 5, "e-stop in the status")
    t_stop = time.monotonic()
    time.sleep(1.0)  # heartbeat, images and joints all fresh the whole time
    assert len(robot.commands_since(t_stop + PERIOD)) == 0
    client = robot.node.create_client(Trigger, f"/{node.get_name()}/reset_estop")
    assert client.wait_for_service(timeout_sec=10)
    future = client.call_async(Trigger.Request())
    wait_for(future.done, 10, "reset_estop answer")
    assert future.result().success, future.result().message
    t_reset = time.monotonic()
    wait_for(lambda: len(robot.commands_since(t_reset)) >= 3, 10, "commands after the reset")


def test_stale_camera_holds(stack):
    node, robot, lc = stack()
    activate(lc)
    wait_for(lambda: len(robot.commands_since(0)) >= 3, 40, "commands")
    robot.images = False
    t_stop = time.monotonic()
    wait_for(lambda: "stale" in robot.status().get("reason", ""), 5, "camera stale")
    time.sleep(0.8)
    # images older than 2 periods: at most one hold after that, never a policy command
    assert len(robot.commands_since(t_stop + 2 * PERIOD + PERIOD)) <= 1


def test_future_stamped_camera_then_silence_never_commands(stack):
    """Issue 35 D2 on a running node: a camera clock an hour ahead, then frozen."""
    node, robot, lc = stack()
    activate(lc)
    wait_for(lambda: len(robot.commands_since(0)) >= 3, 40, "commands")
    robot.image_offset_ns = 3600 * 10**9
    wait_for(lambda: "future" in robot.status().get("reason", ""), 5, "future stamp reported")
    robot.images = False
    t = time.monotonic()
    time.sleep(1.5)
    assert len(robot.commands_since(t)) <= 1


def test_fuzzed_actions_never_leave_joint_or_workspace_limits(stack):
    node, robot, lc = stack(ScriptedPolicy(mode="fuzz", scale=5.0, seed=3))
    activate(lc)
    wait_for(
        lambda: len(robot.commands_since(0)) >= 40,
        60,
        lambda: f"40 commands under fuzz: {robot.status()}",
    )
    cfg = node.cfg.safety
    lo = np.array(cfg.joint_lower_limits) + cfg.joint_limit_margin
    hi = np.array(cfg.joint_upper_limits) - cfg.joint_limit_margin
    ws_lo, ws_hi = np.array(cfg.workspace_min), np.array(cfg.workspace_max)
    msgs = robot.commands_since(0)
    prev = None
    for msg in msgs:
        for point in msg.points:
            q = np.array(point.positions)
            assert np.all(q >= lo - 1e-9) and np.all(q <= hi + 1e-9), q
            pos, _ = forward_kinematics(q)
            assert np.all(pos >= ws_lo - 1e-6) and np.all(pos <= ws_hi + 1e-6), pos
        first = np.array(msg.points[0].positions)
        if prev is not None:  # the robot double follows exactly: steps are from the last target
            assert np.max(np.abs(first - prev)) <= cfg.max_joint_step + 1e-9
        prev = first


def test_dry_run_publishes_only_under_the_dry_run_namespace(stack):
    node, robot, lc = stack(**{"safety.dry_run": True})
    activate(lc)
    wait_for(lambda: len(robot.commands_since(0, DRY_TRAJ)) >= 5, 40, "dry-run commands")
    assert robot.commands_since(0, TRAJ) == []
    assert robot.status().get("dry_run") is True


def test_nan_joint_state_holds_and_the_node_stays_up(stack, capfd):
    """Issue 35 D4 on a running node: a finite hold, a log line, lifecycle still answering."""
    node, robot, lc = stack()
    activate(lc)
    wait_for(lambda: len(robot.commands_since(0)) >= 3, 40, "commands")
    robot.nan_joint = True
    t = time.monotonic()
    wait_for(lambda: "not finite" in robot.status().get("reason", ""), 5, "NaN joint reported")
    time.sleep(0.5)
    for msg in robot.commands_since(t):
        assert np.all(np.isfinite(msg.points[0].positions))
    assert len(robot.commands_since(t + 2 * PERIOD)) <= 1
    assert lc.state() == "active"
    robot.nan_joint = False
    t_ok = time.monotonic()
    wait_for(lambda: len(robot.commands_since(t_ok)) >= 3, 10, "commands after good joints")
    assert "joint state not finite" in capfd.readouterr().err


@pytest.mark.parametrize(
    "fault,reason",
    [
        ("encoding", "stale"),  # 16UC1 images are dropped with a log line: the camera goes stale
        ("joint_names", "joint state stale"),  # fr3_joint* on a panda_joint* config
        ("instruction", "not active"),  # an empty instruction clears the task
    ],
)
def test_bad_input_is_one_log_line_and_a_hold(stack, capfd, fault, reason):
    node, robot, lc = stack()
    activate(lc)
    wait_for(lambda: len(robot.commands_since(0)) >= 3, 40, "commands")
    if fault == "encoding":
        robot.image_encoding = "16UC1"
    elif fault == "joint_names":
        robot.joint_names = [n.replace("panda", "fr3") for n in robot.joint_names]
    else:
        robot.instruction = " "
    t = time.monotonic()
    wait_for(lambda: reason in robot.status().get("reason", ""), 5, f"hold: {reason}")
    time.sleep(0.5)
    assert len(robot.commands_since(t + 3 * PERIOD)) <= 1
    assert lc.state() == "active"
    err = capfd.readouterr().err
    expected = {"encoding": "16UC1", "joint_names": "lacks joints", "instruction": "empty"}
    assert expected[fault] in err


def test_estop_and_reset_during_inference_drop_the_old_chunk(stack):
    """Issue 35 D7 on a running node: the chunk computed before an e-stop is never executed,
    even when the e-stop is reset before the inference returns."""
    from std_srvs.srv import Trigger

    policy = ScriptedPolicy(action=(0.0, 0, 0, 0, 0, 0, -1))
    node, robot, lc = stack(policy)
    activate(lc)
    wait_for(lambda: len(robot.commands_since(0)) >= 3, 40, "commands")
    policy.gate, policy.action = threading.Event(), np.float32([0, 0, 0.05, 0, 0, 0, -1])
    policy.entered.clear()
    wait_for(policy.entered.is_set, 5, "the policy to start a (slow) inference")
    t = time.monotonic()
    for srv in ("estop", "reset_estop"):
        client = robot.node.create_client(Trigger, f"/{node.get_name()}/{srv}")
        assert client.wait_for_service(timeout_sec=10)
        future = client.call_async(Trigger.Request())
        wait_for(future.done, 10, f"{srv} answer")
        assert future.result().success
    policy.action = np.float32([0, 0, 0, 0, 0, 0, -1])  # what a fresh inference would say
    policy.gate.set()
    policy.gate = None
    wait_for(lambda: len(robot.commands_since(t)) >= 3, 10, "commands after the release")
    for msg in robot.commands_since(t):
        q = np.array(msg.points[0].positions)
        z_moves = abs(forward_kinematics(q)[0][2] - forward_kinematics(robot.q)[0][2])
        assert z_moves < 0.01, "the chunk computed before the e-stop was executed"


@pytest.mark.parametrize(
    "interface,topic,msg_type",
    [
        ("forward_position", "/forward_position_controller/commands", "Float64MultiArray"),
        ("twist", "/servo_node/delta_twist_cmds", "TwistStamped"),
    ],
)
def test_other_command_interfaces(stack, interface, topic, msg_type):
    import geometry_msgs.msg
    import std_msgs.msg

    cls = getattr(std_msgs.msg, msg_type, None) or getattr(geometry_msgs.msg, msg_type)
    node, robot, lc = stack(
        ScriptedPolicy(action=(0.01, 0, 0, 0, 0, 0, -1)), command_interface=interface
    )
    got = []
    robot.node.create_subscription(cls, topic, got.append, 10)
    activate(lc)
    wait_for(lambda: len(got) >= 3, 40, f"{msg_type} on {topic}")
    if interface == "forward_position":
        assert len(got[-1].data) == 7 and np.all(np.isfinite(got[-1].data))
    else:
        assert got[-1].twist.linear.x > 0.0  # +x 1 cm per period commanded
    assert robot.commands_since(0) == []  # nothing on the trajectory topic


def test_a_failing_policy_latches_the_estop_and_holds(stack):
    class Failing(ScriptedPolicy):
        def act(self, obs):
            if self.calls >= 4:
                raise RuntimeError("CUDA error: device lost")
            return super().act(obs)

    node, robot, lc = stack(Failing())
    activate(lc)
    wait_for(lambda: robot.status().get("estopped"), 15, "e-stop after the policy error")
    assert "policy error" in robot.status()["reason"] and "device lost" in robot.status()["reason"]
    t = time.monotonic()
    time.sleep(0.5)
    assert len(robot.commands_since(t)) == 0
    assert lc.state() == "active"  # the node stays up, latched, waiting for an operator


def test_gripper_command_is_restated_for_a_new_episode(stack):
    """A robot reset between episodes opens the gripper; a policy that keeps it closed (push)
    must say so again, not rely on the command it sent in the previous episode."""
    node, robot, lc = stack(ScriptedPolicy(action=(0.0, 0, 0, 0, 0, 0, 1)))  # always closed
    activate(lc)
    wait_for(lambda: robot.gripper == [0.0], 15, "the first close command")
    robot.instruction = "push the red cube to the left"  # a new episode
    wait_for(lambda: len(robot.gripper) >= 2, 10, "the close command restated")
    assert robot.gripper[-1] == 0.0
