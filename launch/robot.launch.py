"""
Bring up the VLA policy on a robot (or on the simulated Panda with use_sim:=true).

    ros2 launch vla_bringup robot.launch.py policy_path:=/path/to/checkpoint dry_run:=false

Starts the lifecycle policy node (configured and activated automatically unless
autostart:=false) and, with use_sim:=true, the simulated robot and a timer heartbeat. Starts in
dry_run (commands go to /vla/dry_run/...) unless dry_run:=false: check /vla/status and the
dry-run topics before letting the arm move. Motion needs a deadman heartbeat on /vla/heartbeat
(heartbeat_node mode:=joy with a gamepad, or your own supervisor).
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, OpaqueFunction
from launch.actions import RegisterEventHandler
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from lifecycle_msgs.msg import Transition

COMMAND_INTERFACES = ('joint_trajectory', 'forward_position', 'twist')


def config_path(name):
    """Return the installed path of a params file of vla_bringup."""
    return os.path.join(get_package_share_directory('vla_bringup'), 'config', name)


def policy_overrides(context):
    """Turn the launch arguments into parameter overrides (empty arguments keep the file's)."""

    def arg(name):
        return LaunchConfiguration(name).perform(context).strip()

    out = {'safety.dry_run': arg('dry_run').lower() in ('true', '1', 'yes')}
    if arg('policy_path'):
        out['policy_path'] = arg('policy_path')
    if arg('camera_topics'):
        out['camera_topics'] = [t.strip() for t in arg('camera_topics').split(',') if t.strip()]
    if arg('command_interface'):
        if arg('command_interface') not in COMMAND_INTERFACES:
            raise ValueError(f'command_interface must be one of {COMMAND_INTERFACES}')
        out['command_interface'] = arg('command_interface')
    if arg('control_rate'):
        out['control_rate'] = float(arg('control_rate'))
    if arg('policy_host'):
        out['policy_host'] = arg('policy_host')
        out['policy_port'] = int(arg('policy_port') or 8000)
    return out


def launch_setup(context):
    """Build the nodes once the arguments are known."""
    use_sim = LaunchConfiguration('use_sim').perform(context).lower() == 'true'
    autostart = LaunchConfiguration('autostart').perform(context).lower() == 'true'
    params_file = LaunchConfiguration('params_file').perform(context) or config_path(
        'policy_sim.yaml' if use_sim else 'policy_franka.yaml'
    )
    overrides = policy_overrides(context)
    if use_sim and overrides.get('command_interface') == 'twist':
        raise ValueError('the simulated robot takes joint_trajectory or forward_position commands')
    lockstep = LaunchConfiguration('sim_lockstep').perform(context).lower() == 'true'
    sim_time = {'use_sim_time': True} if (use_sim and lockstep) else {}
    if sim_time:
        # under simulated time a sensor message stamped with the next period's time can reach
        # the policy node just before /clock does: allow one control period of lead
        overrides['safety.max_clock_skew_s'] = 0.15
    sim_overrides = {'lockstep': True} if (use_sim and lockstep) else {}
    for arg, param, cast in (('sim_backend', 'backend', str), ('sim_task', 'task', str),
                             ('sim_seed', 'seed', int)):
        value = LaunchConfiguration(arg).perform(context).strip()
        if value:
            sim_overrides[param] = cast(value)
    policy = LifecycleNode(
        package='vla_ros',
        executable='policy_node',
        name='vla_policy_node',
        namespace='',
        output='screen',
        parameters=[params_file, overrides, sim_time],
    )
    actions = [policy]
    if use_sim:
        actions += [
            Node(
                package='vla_ros',
                executable='sim_robot_node',
                name='vla_sim_robot',
                output='screen',
                parameters=[config_path('sim_robot.yaml'), sim_overrides],
            ),
            Node(
                package='vla_ros',
                executable='heartbeat_node',
                name='vla_heartbeat',
                parameters=[{'mode': 'timer'}, sim_time],
            ),
        ]
    if autostart:
        actions += [
            RegisterEventHandler(
                # configuring -> inactive only, and once: with a bare goal_state='inactive' a later
                # `ros2 lifecycle set ... deactivate` (active -> inactive) re-activated the node
                OnStateTransition(
                    target_lifecycle_node=policy,
                    start_state='configuring',
                    goal_state='inactive',
                    handle_once=True,
                    entities=[
                        EmitEvent(
                            event=ChangeState(
                                lifecycle_node_matcher=matches_action(policy),
                                transition_id=Transition.TRANSITION_ACTIVATE,
                            )
                        )
                    ],
                )
            ),
            EmitEvent(
                event=ChangeState(
                    lifecycle_node_matcher=matches_action(policy),
                    transition_id=Transition.TRANSITION_CONFIGURE,
                )
            ),
        ]
    return actions


def generate_launch_description():
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
                description='policy node params YAML (empty: policy_franka.yaml, '
                'or policy_sim.yaml with use_sim)',
            ),
            DeclareLaunchArgument(
                'camera_topics',
                default_value='',
                description='comma-separated image topics, in camera_names order',
            ),
            DeclareLaunchArgument(
                'command_interface',
                default_value='',
                description='joint_trajectory | forward_position | twist',
            ),
            DeclareLaunchArgument(
                'control_rate',
                default_value='',
                description='control rate in Hz (must match the checkpoint)',
            ),
            DeclareLaunchArgument(
                'dry_run',
                default_value='true',
                description='publish commands to /vla/dry_run/... only',
            ),
            DeclareLaunchArgument(
                'use_sim',
                default_value='false',
                description='also start the simulated Panda + timer heartbeat',
            ),
            DeclareLaunchArgument(
                'policy_host',
                default_value='',
                description='run the policy in `vla serve` at this host (empty: in-process)',
            ),
            DeclareLaunchArgument(
                'policy_port', default_value='8000', description='port of `vla serve`'
            ),
            DeclareLaunchArgument(
                'sim_task',
                default_value='',
                description='task family of the simulated robot (empty: sim_robot.yaml)',
            ),
            DeclareLaunchArgument(
                'sim_seed',
                default_value='',
                description='seed of the first simulated episode (empty: sim_robot.yaml)',
            ),
            DeclareLaunchArgument(
                'sim_lockstep',
                default_value='false',
                description='simulated time: the sim waits for each command (use_sim_time)',
            ),
            DeclareLaunchArgument(
                'sim_backend',
                default_value='',
                description='mujoco | pybullet (empty: sim_robot.yaml value)',
            ),
            DeclareLaunchArgument(
                'autostart',
                default_value='true',
                description='configure and activate the policy node at start',
            ),
            OpaqueFunction(function=launch_setup),
        ]
    )
