"""
Gamepad teleop node: sensor_msgs/Joy -> EEF delta -> IK -> forward joint commands.

    /joy (Joy) --+--> TeleopMapper.step() at control_rate --> forward_position_controller/commands
    /joint_states+                                       +--> gripper/command (Float64, metres)

Hold the enable button to move (deadman). The commands go through the policy's IK and safety
filter, so what the recorder stores is an action the policy can reproduce.
"""

import numpy as np
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState, Joy
from std_msgs.msg import Float64

from vla.ros_core import messages
from vla.ros_core.node_configs import TeleopConfig
from vla.ros_core.teleop import TeleopMapper
from vla_ros.node_main import run
from vla_ros.ros_glue import COMMAND_QOS, declare_config, message_types, now_ns


class TeleopNode(Node):
    """Thin adapter over vla.ros_core.teleop.TeleopMapper."""

    def __init__(self):
        super().__init__('vla_teleop')
        self.cfg = cfg = declare_config(self, TeleopConfig)
        self.types = message_types()
        self.mapper = TeleopMapper(cfg)
        self.joy = None
        self.q = None
        self.q_stamp = None
        self.create_subscription(Joy, cfg.joy_topic, self._on_joy, qos_profile_sensor_data)
        self.create_subscription(
            JointState, cfg.joint_states_topic, self._on_joints, qos_profile_sensor_data
        )
        self.cmd_pub = self.create_publisher(
            self.types.Float64MultiArray, cfg.forward_command_topic, COMMAND_QOS
        )
        self.gripper_pub = self.create_publisher(Float64, cfg.gripper_topic, COMMAND_QOS)
        self.create_timer(1.0 / cfg.control_rate, self._on_tick)

    def _on_joy(self, msg):
        self.joy = (list(msg.axes), list(msg.buttons), now_ns(self))

    def _on_joints(self, msg):
        try:
            q = messages.joint_positions_by_name(msg, self.cfg.joint_names)
        except (KeyError, ValueError) as exc:
            self.get_logger().error(str(exc), throttle_duration_sec=5.0)
            return
        if not np.all(np.isfinite(q)):  # IK on it would fail: keep the last good state
            self.get_logger().error(
                f'non-finite joint state {q.tolist()}: dropped', throttle_duration_sec=5.0
            )
            return
        self.q, self.q_stamp = q, messages.stamp_to_ns(msg.header.stamp)

    def _on_tick(self):
        now = now_ns(self)
        timeout = self.cfg.safety.heartbeat_timeout_s * 1e9
        if self.joy is None or self.q is None or now - self.joy[2] > timeout:
            return  # no fresh joystick input: publish nothing, the controller holds
        if now - self.q_stamp > self.cfg.safety.max_joint_state_age_s * 1e9:
            return
        target, opening = self.mapper.step(self.q, self.joy[0], self.joy[1])
        self.gripper_pub.publish(Float64(data=opening))
        if target is not None:
            self.cmd_pub.publish(messages.float64_multiarray_msg(self.types, target))


def main(args=None):
    """Run the TeleopNode until Ctrl-C or shutdown."""
    run(TeleopNode, args)


if __name__ == '__main__':
    main()
