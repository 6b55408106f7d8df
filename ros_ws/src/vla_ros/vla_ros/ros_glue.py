"""Plumbing shared by the nodes: the core import, typed parameters, clock and QoS profiles."""

import dataclasses

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

try:
    from vla.ros_core import images, messages
    from vla.ros_core.messages import MessageTypes
    from vla.ros_core.params import config_from_params, param_defaults, param_specs
except ImportError as exc:  # the nodes are adapters over the repository's Python package
    raise ImportError(
        'vla_ros needs the VLA Python package (vla.ros_core) on the PYTHONPATH of ROS 2: run '
        '`pip install -e <repository>` in the Python that ROS uses (see ros_ws/README.md)'
    ) from exc

# Latched: late subscribers get the last message (status topics).
LATCHED_QOS = QoSProfile(
    depth=1,
    history=HistoryPolicy.KEEP_LAST,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
# Commands and controls: reliable, volatile (compatible with `ros2 topic pub` defaults).
COMMAND_QOS = QoSProfile(
    depth=10,
    history=HistoryPolicy.KEEP_LAST,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)


def declare_config(node, config_cls):
    """
    Declare one parameter per config field and read them into the dataclass.

    Each parameter gets a descriptor from the field's metadata (vla.ros_core.params.param): its
    description, its range (ROS refuses a value outside it) and read_only. A lifecycle node
    re-reads its parameters at configure, so they stay writable there; another node reads them
    once at start, so they are read-only unless the field says otherwise.
    """
    lifecycle = hasattr(node, 'create_lifecycle_publisher')  # rclpy.lifecycle.LifecycleNode
    when = (
        'read at configure: cleanup, then configure, to apply a change'
        if lifecycle
        else 'read once at node start'
    )
    for name, spec in param_specs(config_cls).items():
        read_only = (not lifecycle) if spec.read_only is None else spec.read_only
        try:
            node.declare_parameter(name, spec.default, parameter_descriptor(spec, read_only, when))
        except Exception as exc:  # rclpy's ParameterException family: type, range
            bad_parameters(node, f'parameter {name!r} ({spec.description}): {exc}')
    try:
        return read_config(node, config_cls)
    except (TypeError, ValueError, KeyError) as exc:
        bad_parameters(node, str(exc).strip('"'))


def bad_parameters(node, text):
    """Log one line naming the parameter problem and its fix, then exit the process (code 2)."""
    node.get_logger().fatal(
        f'{text}. Fix it in the params file or the launch/-p override '
        f'(`ros2 param describe {node.get_fully_qualified_name()} <name>` shows ranges)'
    )
    raise SystemExit(2)


def parameter_descriptor(spec, read_only, when):
    """Return the rcl_interfaces/ParameterDescriptor of a vla.ros_core.params.ParamSpec."""
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

    descriptor = ParameterDescriptor(
        description=spec.description, read_only=read_only, additional_constraints=when
    )
    if spec.range is not None and not isinstance(spec.default, bool):
        low, high = spec.range
        if isinstance(spec.default, int):
            descriptor.integer_range = [IntegerRange(from_value=low, to_value=high, step=0)]
        elif isinstance(spec.default, float):
            descriptor.floating_point_range = [
                FloatingPointRange(from_value=float(low), to_value=float(high), step=0.0)
            ]
    return descriptor


def read_config(node, config_cls):
    """Read the declared parameters' current values into the config dataclass (validated)."""
    names = param_defaults(config_cls())
    return config_from_params(config_cls, {n: node.get_parameter(n).value for n in names})


def decode_image(node, camera, msg, compressed):
    """
    Return (rgb, stamp_ns) of an Image or CompressedImage message, or None if it is bad.

    A bad frame is logged (throttled) and dropped, never fatal: the camera then goes stale.
    """
    try:
        rgb = images.compressed_to_rgb(msg) if compressed else images.image_to_rgb(msg)
    except ValueError as exc:
        node.get_logger().error(f'{camera}: {exc}', throttle_duration_sec=5.0)
        return None
    return rgb, messages.stamp_to_ns(msg.header.stamp)


def read_joint_state(node, msg, joint_names, finger_joint_names):
    """
    Return (q, gripper_opening, stamp_ns) of a JointState message, or None if it is bad.

    q holds the positions of joint_names in that order; the gripper opening is the sum of the
    finger joints' positions. A message missing a joint is logged (throttled) and dropped.
    """
    try:
        q = messages.joint_positions_by_name(msg, joint_names)
        fingers = messages.joint_positions_by_name(msg, finger_joint_names)
    except (KeyError, ValueError) as exc:
        node.get_logger().error(str(exc), throttle_duration_sec=5.0)
        return None
    return q, float(fingers.sum()), messages.stamp_to_ns(msg.header.stamp)


def now_ns(node):
    """Return the node clock's time in integer nanoseconds (sim time with use_sim_time)."""
    return node.get_clock().now().nanoseconds


def message_types():
    """Return the rclpy message classes the core builds messages with."""
    return MessageTypes.from_rclpy()


def to_json(obj):
    """Return the JSON text of a status dict (dataclasses and numpy scalars included)."""
    import json

    def default(o):
        if dataclasses.is_dataclass(o):
            return dataclasses.asdict(o)
        if hasattr(o, 'item'):
            return o.item()
        return str(o)

    return json.dumps(obj, default=default, sort_keys=True)
