"""
Deadman heartbeat: std_msgs/Empty on /vla/heartbeat while the operator allows motion.

mode 'timer': publish at `rate` unconditionally (simulation, supervised tests).
mode 'joy':   publish only while button `deadman_button` of sensor_msgs/Joy is held
              (a gamepad or pedal: let go and the policy node holds within 0.5 s).
"""

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Joy
from std_msgs.msg import Empty

from vla.ros_core.node_configs import HeartbeatConfig
from vla_ros.node_main import run
from vla_ros.ros_glue import COMMAND_QOS, declare_config


class HeartbeatNode(Node):
    """Publish the deadman heartbeat the policy node's safety layer waits for."""

    def __init__(self):
        super().__init__('vla_heartbeat')
        cfg = declare_config(self, HeartbeatConfig)
        self.mode, self.rate, self.button = cfg.mode, cfg.rate, cfg.deadman_button
        self.pub = self.create_publisher(Empty, cfg.heartbeat_topic, COMMAND_QOS)
        self.joy_timeout_ns = int(cfg.joy_timeout_s * 1e9)
        self.pressed_at = None  # time of the last Joy message with the button held
        if self.mode == 'joy':
            self.create_subscription(Joy, cfg.joy_topic, self._on_joy, qos_profile_sensor_data)
        self.create_timer(1.0 / self.rate, self._on_timer)

    def _on_joy(self, msg):
        held = len(msg.buttons) > self.button and msg.buttons[self.button] == 1
        self.pressed_at = self.get_clock().now().nanoseconds if held else None

    def _on_timer(self):
        # joy mode: a joystick that stops publishing (unplugged, driver crash) stops the beat
        now = self.get_clock().now().nanoseconds
        if self.mode == 'timer' or (
            self.pressed_at is not None and now - self.pressed_at <= self.joy_timeout_ns
        ):
            self.pub.publish(Empty())


def main(args=None):
    """Run the HeartbeatNode until Ctrl-C or shutdown."""
    run(HeartbeatNode, args)


if __name__ == '__main__':
    main()
