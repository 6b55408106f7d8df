"""
Robot state node: TF and the robot description, where robot_state_publisher is not installed.

    robot_description (parameter: URDF text; default the Panda's) --> /robot_description (latched)
    /joint_states --RobotModel (vla.ros_core.robot_description)--> /tf: each moving joint
                                                               --> /vla/tcp_pose (PoseStamped)
    fixed joints + the TCP frame (panda_hand -> panda_tcp) -------> /tf_static (latched)

Without tf2_msgs (not among the ROS 2 wheels of the package index) the same transforms go out as
geometry_msgs/TransformStamped on fallback_tf_topic (/vla/tf) and <fallback_tf_topic>_static;
the start-up log says so. On a robot with ROS installed, run robot_state_publisher instead.
"""

from geometry_msgs.msg import PoseStamped, TransformStamped
import numpy as np
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from std_msgs.msg import String

from vla.robot.kinematics import matrix_to_quat
from vla.ros_core import messages
from vla.ros_core.node_configs import RobotStateConfig
from vla.ros_core.robot_description import load_urdf, RobotModel
from vla_ros.node_main import run
from vla_ros.ros_glue import declare_config, LATCHED_QOS, message_types

try:
    from tf2_msgs.msg import TFMessage
except ImportError:  # the PyPI ROS 2 wheels have no tf2_msgs
    TFMessage = None


def static_qos(depth):
    """Latched QoS holding ``depth`` messages (every static transform for late joiners)."""
    return QoSProfile(
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL,
    )


def set_pose(point, quaternion, transform):
    """Fill a Vector3/Point and a Quaternion message from a (4, 4) transform."""
    point.x, point.y, point.z = (float(v) for v in transform[:3, 3])
    w, x, y, z = (float(v) for v in matrix_to_quat(transform[:3, :3]))
    quaternion.w, quaternion.x, quaternion.y, quaternion.z = w, x, y, z


class RobotStateNode(Node):
    """A minimal robot_state_publisher over vla.ros_core.robot_description.RobotModel."""

    def __init__(self):
        super().__init__('vla_robot_state')
        self.cfg = cfg = declare_config(self, RobotStateConfig)
        self.types = message_types()
        urdf = self.declare_parameter(
            'robot_description',
            load_urdf(),
            ParameterDescriptor(
                description='URDF text (default: the Panda URDF the simulators load)',
                read_only=True,
            ),
        ).value
        self.model = RobotModel(urdf)
        offset = np.eye(4)
        offset[2, 3] = cfg.tcp_offset
        self.model.add_fixed_frame(cfg.tcp_parent_link, cfg.tcp_frame, offset)
        self.create_publisher(String, '/robot_description', LATCHED_QOS).publish(String(data=urdf))
        statics = self.model.static_transforms()
        if TFMessage is not None:
            self.tf_pub = self.create_publisher(TFMessage, '/tf', 100)
            static_pub = self.create_publisher(TFMessage, '/tf_static', static_qos(1))
            static_pub.publish(TFMessage(transforms=self._stamped(statics, 0)))
        else:
            self.tf_pub = self.create_publisher(TransformStamped, cfg.fallback_tf_topic, 100)
            static_pub = self.create_publisher(
                TransformStamped, cfg.fallback_tf_topic + '_static', static_qos(len(statics))
            )
            for msg in self._stamped(statics, 0):
                static_pub.publish(msg)
            self.get_logger().warn(
                'tf2_msgs is not installed: transforms go to geometry_msgs/TransformStamped on '
                f'{cfg.fallback_tf_topic} and {cfg.fallback_tf_topic}_static instead of /tf '
                '(install ros-$ROS_DISTRO-tf2-msgs, or run robot_state_publisher)'
            )
        self.pose_pub = self.create_publisher(PoseStamped, cfg.tcp_pose_topic, 10)
        self.create_subscription(
            self.types.JointState, cfg.joint_states_topic, self._on_joints, qos_profile_sensor_data
        )
        self.get_logger().info(
            f'robot {self.model.name!r}: {len(self.model.moving_joints)} moving joints from '
            f'{cfg.joint_states_topic}, TCP frame {cfg.tcp_frame} on {cfg.tcp_pose_topic}'
        )

    def _stamped(self, transforms, stamp_ns):
        out = []
        for parent, child, t in transforms:
            msg = TransformStamped()
            msg.header = messages.make_header(self.types, stamp_ns, parent)
            msg.child_frame_id = child
            set_pose(msg.transform.translation, msg.transform.rotation, t)
            out.append(msg)
        return out

    def _on_joints(self, msg):
        if len(msg.name) != len(msg.position):
            self.get_logger().error(
                f'/joint_states has {len(msg.name)} names and {len(msg.position)} positions',
                throttle_duration_sec=5.0,
            )
            return
        positions = dict(zip(msg.name, (float(p) for p in msg.position), strict=True))
        if not all(np.isfinite(v) for v in positions.values()):
            self.get_logger().error(
                'non-finite joint position in /joint_states: not published',
                throttle_duration_sec=5.0,
            )
            return
        stamp = messages.stamp_to_ns(msg.header.stamp)
        transforms = self._stamped(self.model.moving_transforms(positions), stamp)
        if TFMessage is not None:
            self.tf_pub.publish(TFMessage(transforms=transforms))
        else:
            for t in transforms:
                self.tf_pub.publish(t)
        try:
            tcp = self.model.link_pose(self.cfg.tcp_frame, positions)
        except KeyError:
            return  # a partial /joint_states (e.g. the gripper's own): no TCP pose from it
        pose = PoseStamped()
        pose.header = messages.make_header(self.types, stamp, self.model.root)
        set_pose(pose.pose.position, pose.pose.orientation, tcp)
        self.pose_pub.publish(pose)


def main(args=None):
    """Run the RobotStateNode until Ctrl-C or shutdown."""
    run(RobotStateNode, args)


if __name__ == '__main__':
    main()
