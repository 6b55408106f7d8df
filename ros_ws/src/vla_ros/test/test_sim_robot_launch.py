"""Launch the simulated robot and check it behaves like a ros2_control arm (colcon test)."""

import time
import unittest

import launch
import launch_ros.actions
import launch_testing.actions
import pytest
import rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64MultiArray, String


@pytest.mark.launch_test
def generate_test_description():
    sim = launch_ros.actions.Node(
        package='vla_ros',
        executable='sim_robot_node',
        name='vla_sim_robot',
        parameters=[{'backend': 'pybullet', 'camera_rate': 5.0}],
    )
    return launch.LaunchDescription([sim, launch_testing.actions.ReadyToTest()])


class TestSimRobot(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        rclpy.init()

    @classmethod
    def tearDownClass(cls):
        rclpy.shutdown()

    def setUp(self):
        self.node = rclpy.create_node('test_sim_robot')

    def tearDown(self):
        self.node.destroy_node()

    def _spin_until(self, predicate, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end and not predicate():
            rclpy.spin_once(self.node, timeout_sec=0.05)
        return predicate()

    def test_topics_and_forward_command(self):
        states, imgs, instr = [], [], []
        self.node.create_subscription(
            JointState, '/joint_states', states.append, qos_profile_sensor_data
        )
        self.node.create_subscription(
            Image, '/camera/scene/image_raw', imgs.append, qos_profile_sensor_data
        )
        self.node.create_subscription(String, '/vla/instruction', instr.append, 10)
        self.assertTrue(self._spin_until(lambda: states and imgs and instr, 30.0))
        self.assertIn('panda_joint1', list(states[-1].name))
        q0 = list(states[-1].position[:7])
        pub = self.node.create_publisher(
            Float64MultiArray, '/forward_position_controller/commands', 10
        )
        target = [q0[0] + 0.2] + q0[1:]
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            pub.publish(Float64MultiArray(data=target))
            rclpy.spin_once(self.node, timeout_sec=0.05)
        self.assertAlmostEqual(states[-1].position[0], target[0], delta=0.05)
