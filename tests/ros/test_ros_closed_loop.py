"""The whole ROS stack's logic in closed loop, without rclpy: simulated robot -> ROS messages
(CDR round trip) -> policy loop + safety -> command messages -> simulated robot.

The "policy" is the simulator's scripted expert (privileged state, same action space), so a
success proves the plumbing (image encodings, joint re-indexing, IK through sim.controller,
safety filter, command messages, trajectory following) preserves what the actions mean.
"""

from __future__ import annotations

import numpy as np
import pytest
from rosbags.typesys import Stores, get_typestore

from sim.ros_bridge import SimRobotBridge, make_sim_world
from vla.ros_core import images, messages
from vla.ros_core.messages import MessageTypes
from vla.ros_core.node_configs import PolicyNodeConfig
from vla.ros_core.policy_loop import PolicyLoop

PERIOD_NS = 100_000_000
META = {
    "camera_keys": ["observation.images.scene", "observation.images.wrist"],
    "image_size": [32, 32],
    "action_space": "eef_delta",
    "control_hz": 10.0,
    "execution_horizon": 1,
}


@pytest.mark.parametrize(
    "backend,interface,encoding",
    [
        ("mujoco", "joint_trajectory", "rgb8"),
        ("pybullet", "forward_position", "bgr8"),
    ],
)
def test_expert_succeeds_through_the_ros_messages(backend, interface, encoding):
    from sim.experts import make_expert

    store = get_typestore(Stores.ROS2_HUMBLE)
    T = MessageTypes.from_rosbags(store)

    def wire(msg):
        return store.deserialize_cdr(store.serialize_cdr(msg, msg.__msgtype__), msg.__msgtype__)

    world = make_sim_world(backend, "pick_place", "pick", 0, (32, 32))
    try:
        expert = make_expert(world.env)
        expert.reset()
        loop = PolicyLoop(
            PolicyNodeConfig(command_interface=interface),  # default safety settings
            lambda obs: expert.select_action(obs)[None],
            META,
        )
        robot = SimRobotBridge(world.physics, 0)
        loop.set_instruction(world.instruction)
        now, succeeded = 0, False
        for _ in range(80):
            for cam in ("scene", "wrist"):  # camera driver -> policy node
                img = wire(images.rgb_to_image(T, robot.render(cam), now, encoding=encoding))
                loop.set_image(
                    cam, images.image_to_rgb(img), messages.stamp_to_ns(img.header.stamp)
                )
            names, pos, vel = robot.joint_state()  # joint_state_broadcaster -> policy node
            js = wire(messages.joint_state_msg(T, now, names[::-1], pos[::-1], vel[::-1]))
            arm = messages.joint_positions_by_name(js, names[:7])
            fingers = messages.joint_positions_by_name(js, names[7:])
            loop.set_joint_state(arm, float(fingers.sum()), messages.stamp_to_ns(js.header.stamp))
            loop.heartbeat(now)
            out = loop.tick(now)
            assert out.kind == "command", out.verdict.reason
            if interface == "joint_trajectory":  # policy node -> joint_trajectory_controller
                traj = wire(messages.joint_trajectory_msg(T, now, names[:7], out.trajectory, 0.1))
                robot.set_trajectory(*messages.trajectory_targets(traj), now_ns=now)
            else:  # policy node -> forward_position_controller
                cmd = wire(messages.float64_multiarray_msg(T, out.q))
                robot.set_joint_targets(np.asarray(cmd.data))
            robot.set_gripper(0.0 if out.gripper_closed else 0.08)
            now += PERIOD_NS
            robot.step(now)
            if world.success():
                succeeded = True
                break
        assert succeeded, f"{world.instruction!r} not achieved in {backend}"
    finally:
        world.close()
