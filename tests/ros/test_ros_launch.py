"""`ros2 launch vla_bringup sim.launch.py` as a user runs it: separate processes over DDS.

The defect this guards: the launch started all three nodes, but the lifecycle policy node never
answered its lifecycle services, so autostart never configured or activated it, /vla/status never
appeared and no command reached the controller topic.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from rosgraph import Lifecycle, require_ros, wait_for

pytestmark = pytest.mark.ros
TRAJ = "/joint_trajectory_controller/joint_trajectory"


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[1] / "serving"))
    from tiny_checkpoint import make_tiny_checkpoint

    return make_tiny_checkpoint(tmp_path_factory.mktemp("ros_launch") / "ckpt", image_size=(32, 32))


def test_sim_launch_autostarts_and_commands_reach_the_controller(graph, tiny_checkpoint, tmp_path):
    require_ros("launch_ros", "vla_interfaces")
    from std_msgs.msg import String
    from trajectory_msgs.msg import JointTrajectory
    from vla_ros.ros_glue import LATCHED_QOS

    commands, statuses = [], []
    # stamped by the policy node when it publishes (same host clock as time.time_ns here):
    # arrival times would measure this test's executor under load, not the node
    graph.node.create_subscription(
        JointTrajectory, TRAJ, lambda m: commands.append(_ns(m.header.stamp)), 10
    )
    graph.node.create_subscription(String, "/vla/status", statuses.append, LATCHED_QOS)
    launch = graph.spawn(
        ["ros2", "launch", "vla_bringup", "sim.launch.py", f"policy_path:={tiny_checkpoint}"],
        tmp_path / "launch.log",
    )
    lc = Lifecycle(graph.node, "vla_policy_node")
    try:
        wait_for(lambda: not launch.alive() or _state(lc) == "active", 120, "autostart -> active")
        assert launch.alive(), launch.output()
        wait_for(lambda: statuses, 20, "/vla/status")
        wait_for(lambda: len(commands) >= 5, 30, "commands on " + TRAJ)
        # `ros2 lifecycle set` deactivate: commands stop within one control period
        cli = subprocess.run(
            ["ros2", "lifecycle", "set", "--no-daemon", "--spin-time", "5", "/vla_policy_node",
             "deactivate"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert cli.returncode == 0 and "successful" in cli.stdout, cli.stdout + cli.stderr
        t_off = time.time_ns()
        time.sleep(1.0)
        assert [t for t in commands if t > t_off + 100_000_000] == []
        assert _state(lc) == "inactive"
    except BaseException:
        print(launch.output())
        raise
    finally:
        assert launch.stop() is not None


def _ns(stamp) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def _state(lc) -> str:
    try:
        return lc.state(timeout=2.0)
    except AssertionError:  # not up yet
        return ""
