"""
Record teleoperated demonstrations into a LeRobot v3 dataset.

    ros2 launch vla_bringup teleop_record.launch.py dataset_root:=data/my_demos use_sim:=true
    ros2 topic pub --once /vla/instruction std_msgs/msg/String "{data: 'stack the cubes'}"
    ros2 service call /vla_recorder/start std_srvs/srv/Trigger     # ... /stop or /discard

With use_joy:=true (default) a gamepad drives the arm: joy_node -> /joy -> teleop_node (hold LB
to move, A closes, B opens) -> forward_position_controller/commands. use_joy:=false leaves /joy
to you (another joystick driver, or a script publishing sensor_msgs/Joy); use_teleop:=false
also drops teleop_node: bring your own teleop and set command_interface to what it publishes.
With use_sim:=true the simulated Panda stands in for the robot, and robot_state_node publishes
its TF and /robot_description.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def config_path(name):
    """Return the installed path of a params file of vla_bringup."""
    return os.path.join(get_package_share_directory('vla_bringup'), 'config', name)


def launch_setup(context):
    """Build the nodes once the arguments are known."""

    def arg(name):
        return LaunchConfiguration(name).perform(context).strip()

    overrides = {}
    for name in ('dataset_root', 'mcap_path', 'command_interface'):
        if arg(name):
            overrides[name] = arg(name)
    if arg('camera_topics'):
        overrides['camera_topics'] = [t.strip() for t in arg('camera_topics').split(',')]
    if arg('fps'):
        overrides['fps'] = float(arg('fps'))
    params_file = arg('params_file') or config_path('recorder.yaml')
    actions = [
        Node(
            package='vla_ros',
            executable='recorder_node',
            name='vla_recorder',
            output='screen',
            parameters=[params_file, overrides],
        )
    ]
    if arg('use_sim').lower() == 'true':
        actions.append(
            Node(
                package='vla_ros',
                executable='sim_robot_node',
                name='vla_sim_robot',
                output='screen',
                parameters=[config_path('sim_robot.yaml')],
            )
        )
        # a robot runs robot_state_publisher with its URDF; the sim gets the Panda's TF from ours
        actions.append(
            Node(
                package='vla_ros',
                executable='robot_state_node',
                name='vla_robot_state',
                output='screen',
            )
        )
    if arg('use_joy').lower() == 'true':
        actions.append(Node(package='joy', executable='joy_node', name='joy_node'))
    if arg('use_teleop').lower() == 'true':
        actions.append(
            Node(
                package='vla_ros',
                executable='teleop_node',
                name='vla_teleop',
                output='screen',
                parameters=[config_path('teleop.yaml')],
            )
        )
    return actions


def generate_launch_description():
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                'dataset_root',
                default_value='',
                description='dataset folder (empty: recorder.yaml value)',
            ),
            DeclareLaunchArgument(
                'params_file',
                default_value='',
                description='recorder params YAML (empty: recorder.yaml)',
            ),
            DeclareLaunchArgument(
                'camera_topics',
                default_value='',
                description='comma-separated image topics, in camera_names order',
            ),
            DeclareLaunchArgument(
                'command_interface',
                default_value='',
                description='what the teleop publishes: joint_trajectory | '
                'forward_position | twist',
            ),
            DeclareLaunchArgument('fps', default_value='', description='recording rate in Hz'),
            DeclareLaunchArgument(
                'mcap_path',
                default_value='',
                description='also log the topics to this new rosbag2 MCAP folder',
            ),
            DeclareLaunchArgument(
                'use_sim', default_value='true', description='start the simulated Panda'
            ),
            DeclareLaunchArgument(
                'use_joy',
                default_value='true',
                description='start joy_node (the gamepad driver, package joy) on /joy',
            ),
            DeclareLaunchArgument(
                'use_teleop',
                default_value='true',
                description='start teleop_node: /joy -> EEF delta -> forward joint commands',
            ),
            OpaqueFunction(function=launch_setup),
        ]
    )
