"""`vla_ros sim_robot_node` as its own process: the topics of a ros2_control Panda over DDS."""

from __future__ import annotations

import time

import numpy as np
import pytest
from rosgraph import require_ros, ros2_run, wait_for

pytestmark = pytest.mark.ros


def test_sim_robot_publishes_follows_commands_and_replays_seeds(graph, tmp_path):
    require_ros()
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters
    from rclpy.qos import qos_profile_sensor_data as sensor_qos
    from sensor_msgs.msg import Image, JointState
    from std_msgs.msg import Float64MultiArray, String
    from std_srvs.srv import Trigger

    node = graph.node
    joints, images, instructions = [], [], []
    node.create_subscription(JointState, "/joint_states", joints.append, sensor_qos)
    node.create_subscription(Image, "/camera/wrist/image_raw", images.append, sensor_qos)
    node.create_subscription(String, "/vla/instruction", instructions.append, 10)
    cmd = node.create_publisher(Float64MultiArray, "/forward_position_controller/commands", 10)
    proc = graph.spawn(
        ros2_run("sim_robot_node", {"task": "pick", "seed": 5, "image_height": 64,
                                    "image_width": 64}),
        tmp_path / "sim.log",
    )  # fmt: skip
    try:
        wait_for(lambda: len(joints) > 20 and images and instructions, 90, "sim topics")
        assert images[-1].height == 64 and images[-1].encoding == "rgb8"
        assert list(joints[-1].name)[:7] == [f"panda_joint{i}" for i in range(1, 8)]
        q0 = np.array(joints[-1].position[:7])
        target = q0 + np.array([0.2, 0, 0, 0, 0, 0, 0])
        cmd.publish(Float64MultiArray(data=target.tolist()))
        wait_for(
            lambda: abs(joints[-1].position[0] - target[0]) < 0.02, 10, "joint 1 at its target"
        )
        # ~/reset replays the episode of the `seed` parameter
        set_params = node.create_client(SetParameters, "/vla_sim_robot/set_parameters")
        reset = node.create_client(Trigger, "/vla_sim_robot/reset")
        seed = ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=5)
        answers = []
        for _ in range(2):
            assert set_params.wait_for_service(timeout_sec=10)
            fut = set_params.call_async(
                SetParameters.Request(parameters=[Parameter(name="seed", value=seed)])
            )
            wait_for(fut.done, 10, "set seed")
            assert fut.result().results[0].successful
            fut = reset.call_async(Trigger.Request())
            wait_for(fut.done, 20, "reset")
            answers.append(fut.result().message)
            time.sleep(0.2)
        assert answers[0] == answers[1] and "seed 5" in answers[0]  # same scene, same instruction
        wait_for(lambda: abs(joints[-1].position[0] - q0[0]) < 0.02, 10, "arm back at home")
    finally:
        assert proc.stop() is not None
