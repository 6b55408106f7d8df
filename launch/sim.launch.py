"""
The whole stack on the simulated Panda, no hardware: sim robot + policy + heartbeat.

    ros2 launch vla_bringup sim.launch.py policy_path:=/path/to/checkpoint backend:=mujoco

The simulated robot publishes /joint_states, /camera/<name>/image_raw and the task's
instruction; the policy node drives it through the chosen command interface.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare


def generate_launch_description():
    robot_launch = PathJoinSubstitution(
        [FindPackageShare('vla_bringup'), 'launch', 'robot.launch.py']
    )
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                'policy_path',
                default_value='',
                description='checkpoint folder (empty: the params file value)',
            ),
            DeclareLaunchArgument(
                'params_file',
                default_value='',
                description='policy node params YAML (empty: policy_sim.yaml)',
            ),
            DeclareLaunchArgument(
                'command_interface',
                default_value='joint_trajectory',
                description='joint_trajectory | forward_position',
            ),
            DeclareLaunchArgument(
                'control_rate',
                default_value='',
                description='control rate in Hz (must match the checkpoint)',
            ),
            DeclareLaunchArgument(
                'dry_run',
                default_value='false',
                description='publish commands to /vla/dry_run/... only',
            ),
            DeclareLaunchArgument(
                'backend', default_value='mujoco', description='simulator: mujoco | pybullet'
            ),
            DeclareLaunchArgument(
                'task', default_value='', description='task family: pick | place | stack | push'
            ),
            DeclareLaunchArgument(
                'seed', default_value='', description='first episode seed (~/reset: the next)'
            ),
            DeclareLaunchArgument(
                'lockstep',
                default_value='false',
                description='simulated time, advanced per command (matches vla eval on any CPU)',
            ),
            DeclareLaunchArgument(
                'policy_host',
                default_value='',
                description='policy server host (`vla serve`; empty: the policy runs in-process)',
            ),
            DeclareLaunchArgument(
                'policy_port', default_value='8000', description='policy server port'
            ),
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(robot_launch),
                launch_arguments={
                    'policy_path': LaunchConfiguration('policy_path'),
                    'params_file': LaunchConfiguration('params_file'),
                    'command_interface': LaunchConfiguration('command_interface'),
                    'control_rate': LaunchConfiguration('control_rate'),
                    'dry_run': LaunchConfiguration('dry_run'),
                    'sim_backend': LaunchConfiguration('backend'),
                    'sim_task': LaunchConfiguration('task'),
                    'sim_lockstep': LaunchConfiguration('lockstep'),
                    'sim_seed': LaunchConfiguration('seed'),
                    'policy_host': LaunchConfiguration('policy_host'),
                    'policy_port': LaunchConfiguration('policy_port'),
                    'use_sim': 'true',
                }.items(),
            ),
        ]
    )
