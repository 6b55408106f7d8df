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

Real time by default: physics follows the wall clock, so a policy slower than the control rate
loses time as it would on a robot. With ``lockstep:=true`` the node owns the time instead: it
publishes /clock and advances one camera period (the control period) whenever a command for the
current period has arrived, or after ``lockstep_timeout_s`` without one; the other nodes run with
``use_sim_time``. Each period: the physics substeps, then the joint state, camera frames and
success flag stamped with the new time, then the new time on /clock.
"""

import time

from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
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
        if cfg.lockstep:
            self.sim_ns = 1_000_000_000  # simulated time starts at 1 s (0 reads as "unset")
            self.commanded = False
            self.last_advance = time.monotonic()
            self.clock_pub = self.create_publisher(Clock, '/clock', 10)
            self.bridge = SimRobotBridge(self.world.physics, start_ns=self.sim_ns)
            self.create_timer(0.002, self._on_lockstep, clock=_wall_clock())
            self._publish_clock()
        else:
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
            self.bridge.set_trajectory(names, positions, times, self._now())
        except ValueError as exc:
            self.get_logger().error(f'rejected trajectory: {exc}')
        self.commanded = True

    def _now(self):
        return self.sim_ns if self.cfg.lockstep else now_ns(self)

    # ---- lockstep ---------------------------------------------------------------------------
    def _on_lockstep(self):
        waited = time.monotonic() - self.last_advance
        if not (self.commanded or waited > self.cfg.lockstep_timeout_s):
            return
        self.commanded = False
        period_ns = int(1e9 / self.cfg.camera_rate)
        substeps = max(1, round(self.cfg.physics_rate / self.cfg.camera_rate))
        for i in range(1, substeps + 1):
            self.bridge.step(self.sim_ns + i * period_ns // substeps)
        self.sim_ns += period_ns
        # one joint state per period, stamped with the frames' time: nothing runs ahead of /clock
        names, pos, vel = self.bridge.joint_state()
        self.joint_pub.publish(messages.joint_state_msg(self.types, self.sim_ns, names, pos, vel))
        self._publish_frames(self.sim_ns)
        self._publish_clock()
        self.last_advance = time.monotonic()

    def _publish_clock(self):
        self.clock_pub.publish(Clock(clock=messages.ns_to_stamp(self.types, self.sim_ns)))

    def _on_gripper(self, msg):
        self.bridge.set_gripper(msg.data)

    def _on_physics(self):
        self.commanded = False
        stamp = now_ns(self)
        self.bridge.step(stamp)
        names, pos, vel = self.bridge.joint_state()
        self.joint_pub.publish(messages.joint_state_msg(self.types, stamp, names, pos, vel))

    def _on_camera(self):
        self._publish_frames(now_ns(self))

    def _publish_frames(self, stamp):
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
        self.bridge = SimRobotBridge(self.world.physics, start_ns=self._now())
        self.set_parameters([Parameter('seed', value=seed + 1)])
        self._on_instruction()
        response.success = True
        response.message = f'episode seed {seed}: "{instruction}"'
        return response

    def destroy_node(self):
        self.world.close()
        super().destroy_node()


def _wall_clock():
    from rclpy.clock import Clock as RosClock, ClockType

    return RosClock(clock_type=ClockType.STEADY_TIME)


def main(args=None):
    """Run the SimRobotNode until Ctrl-C or shutdown."""
    run(SimRobotNode, args)


if __name__ == '__main__':
    main()
