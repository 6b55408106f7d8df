"""ROS-free core of the ROS 2 nodes in ``ros_ws/``: everything but the rclpy plumbing.

The nodes (``ros_ws/src/vla_ros``) are thin adapters over these modules, so every rule that
decides what the robot does is tested here without ROS (``tests/ros/``), with real ROS 2 message
classes from the ``rosbags`` type store standing in for rclpy's.

    messages.py        stamps, JointState re-indexing, JointTrajectory / Float64MultiArray /
                       TwistStamped builders (duck-typed over rclpy or rosbags classes)
    images.py          Image (rgb8/bgr8/rgba8/bgra8/mono8) and CompressedImage (JPEG/PNG) <-> RGB
    arm_control.py     policy action -> joint target (vla.robot's controller and kinematics)
    safety.py          heartbeat / e-stop / freshness state machine
    command_filter.py  joint limits, per-step change, workspace box
    scheduling.py      fixed-rate ticks, command latencies (chunks: vla.robot.chunks)
    policy_loop.py     the policy node's control tick
    recording.py       the recorder's synchroniser and episode controls
    mcap_log.py        optional rosbag2 MCAP log
    params.py          dataclass <-> ROS parameters <-> params YAML
    node_configs.py    the nodes' typed configurations
"""
