"""
Simulated Panda node: the topics a ros2_control arm exposes, backed by MuJoCo or PyBullet.

    forward_position_controller/commands (Float64MultiArray) --+
    joint_trajectory_controller/joint_trajectory (JointTrajectory) +--> SimRobotBridge
    gripper/command (Float64, opening in m) ---------------------+        | physics timer
    /joint_states (JointState) <------------------------------------------+
    /camera/<name>/image_raw (Image, sensor-data QoS) <-- camera timer
    /vla/instruction (String) <-- the sampled task's instruction, once per second
    /vla/sim/success (Bool) <-- the task's goal predicate, with every camera frame
    ~/reset (std_srvs/Trigger) --> a new episode with the `seed` parameter's value (then the
        parameter moves on by one, so repeated resets give successive episodes; set it first
        to replay an episode of `vla eval`)

Lets the whole stack (policy node, recorder) run under ``ros2 launch`` without hardware.
"""

from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sim.ros_bridge import make_sim_world, SimRobotBridge
from std_msgs.msg import Bool, Float64, Float64MultiArray, String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from vla.ros_core import images, messages
from vla.ros_core.node_configs import SimRobotConfig
from vla_ros.node_main import run
from vla_ros.ros_glue import COMMAND_QOS, declare_config, message_types, now_ns


class SimRobotNode(Node):
    """Thin adapter over vla.ros_core.sim_bridge.SimRobotBridge."""

    def __init__(self):
        super().__init__('vla_sim_robot')
        self.cfg = cfg = declare_config(self, SimRobotConfig)
        self.types = message_types()
        self.world = make_sim_world(
            cfg.backend, cfg.suite, cfg.task, cfg.seed, (cfg.image_height, cfg.image_width))
        self.bridge = SimRobotBridge(self.world.physics, start_ns=now_ns(self))
        self.set_parameters([Parameter('seed', value=cfg.seed + 1)])  # the next episode's
        self.joint_pub = self.create_publisher(
            self.types.JointState, cfg.joint_states_topic, qos_profile_sensor_data
        )
        self.image_pubs = {
            name: self.create_publisher(self.types.Image, topic, qos_profile_sensor_data)
            for name, topic in zip(cfg.camera_names, cfg.camera_topics, strict=True)
        }
        self.compressed_pubs = (
            {
                name: self.create_publisher(
                    self.types.CompressedImage, topic + '/compressed', qos_profile_sensor_data
                )
                for name, topic in zip(cfg.camera_names, cfg.camera_topics, strict=True)
            }
            if cfg.publish_compressed
            else {}
        )
        self.instruction_pub = self.create_publisher(String, cfg.instruction_topic, COMMAND_QOS)
        self.success_pub = self.create_publisher(Bool, cfg.success_topic, COMMAND_QOS)
        self.create_service(Trigger, '~/reset', self._on_reset)
        self.create_subscription(
            Float64MultiArray, cfg.forward_command_topic, self._on_forward, COMMAND_QOS
        )
        self.create_subscription(
            JointTrajectory, cfg.trajectory_topic, self._on_trajectory, COMMAND_QOS
        )
        self.create_subscription(Float64, cfg.gripper_topic, self._on_gripper, COMMAND_QOS)
        self.create_timer(1.0 / cfg.physics_rate, self._on_physics)
        self.create_timer(1.0 / cfg.camera_rate, self._on_camera)
        self.create_timer(1.0, self._on_instruction)
        self.get_logger().info(
            f'{cfg.backend} sim running task {cfg.task!r}: "{self.world.instruction}"'
        )

    def _on_forward(self, msg):
        try:
            self.bridge.set_joint_targets(msg.data)
        except ValueError as exc:
            self.get_logger().error(f'rejected forward command: {exc}')

    def _on_trajectory(self, msg):
        names, positions, times = messages.trajectory_targets(msg)
        try:
            self.bridge.set_trajectory(names, positions, times, now_ns(self))
        except ValueError as exc:
            self.get_logger().error(f'rejected trajectory: {exc}')

    def _on_gripper(self, msg):
        self.bridge.set_gripper(msg.data)

    def _on_physics(self):
        stamp = now_ns(self)
        self.bridge.step(stamp)
        names, pos, vel = self.bridge.joint_state()
        self.joint_pub.publish(messages.joint_state_msg(self.types, stamp, names, pos, vel))

    def _on_camera(self):
        stamp = now_ns(self)
        self.success_pub.publish(Bool(data=self.world.success()))
        for name, pub in self.image_pubs.items():
            rgb = self.bridge.render(name)
            pub.publish(
                images.rgb_to_image(
                    self.types, rgb, stamp, f'{name}_camera', self.cfg.image_encoding
                )
            )
            if name in self.compressed_pubs:
                self.compressed_pubs[name].publish(
                    images.rgb_to_compressed(
                        self.types, rgb, stamp, 'jpeg', frame_id=f'{name}_camera'
                    )
                )

    def _on_instruction(self):
        self.instruction_pub.publish(String(data=self.world.instruction))

    def _on_reset(self, request, response):
        seed = self.get_parameter('seed').value
        instruction = self.world.reset(seed)
        self.bridge = SimRobotBridge(self.world.physics, start_ns=now_ns(self))
        self.set_parameters([Parameter('seed', value=seed + 1)])
        self._on_instruction()
        response.success = True
        response.message = f'episode seed {seed}: "{instruction}"'
        return response

    def destroy_node(self):
        self.world.close()
        super().destroy_node()


def main(args=None):
    """Run the SimRobotNode until Ctrl-C or shutdown."""
    run(SimRobotNode, args)


if __name__ == '__main__':
    main()
