"""Typed configurations of the ROS 2 nodes (every field is a ROS parameter).

Defaults describe the simulated Panda stack (``sim_robot_node``) so that ``ros2 launch`` works
out of the box; ``configs/ros/*.yaml`` hold the same names for the sim and a real Franka.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vla.constants import CAMERAS, CONTROL_HZ, SHIPPED_CHECKPOINT_NAME
from vla.robot.panda import ARM_JOINT_NAMES, FINGER_JOINT_NAMES, TCP_OFFSET
from vla.ros_core.params import param
from vla.ros_core.safety import SafetyConfig

COMMAND_INTERFACES: tuple[str, ...] = ("joint_trajectory", "forward_position", "twist")
GRIPPER_INTERFACES: tuple[str, ...] = ("topic", "action")


def _camera_topics() -> list[str]:
    return [f"/camera/{c}/image_raw" for c in CAMERAS]


# Parameters several nodes share: one definition each (a fresh dataclass field per use).
def _cameras_param():
    return param(
        default_factory=lambda: list(CAMERAS),
        description="camera names (observation.images.<name>), in camera_topics order",
    )


def _camera_topics_param():
    return param(
        default_factory=_camera_topics,
        description="sensor_msgs/Image topics, in camera_names order",
    )


def _compressed_param():
    return param(
        False, description="subscribe to <topic>/compressed (sensor_msgs/CompressedImage) instead"
    )


def _joint_names_param():
    return param(
        default_factory=lambda: list(ARM_JOINT_NAMES),
        description="the 7 arm joints in /joint_states, base to flange",
    )


def _finger_names_param():
    return param(
        default_factory=lambda: list(FINGER_JOINT_NAMES),
        description="gripper finger joints; their positions sum to the opening (m)",
    )


def _instruction_topic_param():
    return param("/vla/instruction", description="std_msgs/String topic of the task instruction")


@dataclass
class PolicyNodeConfig:
    """Parameters of ``vla_ros policy_node``."""

    policy_path: str = param(
        f"checkpoints/{SHIPPED_CHECKPOINT_NAME}",
        description="checkpoint folder written by vla train (in-process policy)",
    )
    policy_host: str = param(
        "",
        description="non-empty: use the policy server (vla serve) at this host instead",
    )
    policy_port: int = param(8000, description="TCP port of the policy server", range=(1, 65535))
    policy_token: str = param("", description="token of the policy server (empty: none)")
    device: str = param(
        "auto",
        description="torch device (in-process policy): auto (cuda if any, else cpu), cpu, cuda:N",
    )
    warmup_steps: int = param(
        2,
        description="policy calls on a blank observation at configure (first-call latency)",
        range=(0, 100),
    )
    control_rate: float = param(
        CONTROL_HZ,
        description="control loop rate (Hz); must equal the checkpoint's control_hz",
        range=(0.1, 1000.0),
    )
    execute_steps: int = param(
        0,
        description="actions executed per predicted chunk; 0: the checkpoint's execution_horizon",
        range=(0, 1000),
    )
    ik_damping: float = param(
        0.05,
        description="damping of the damped-least-squares IK (EEF delta -> joint target)",
        range=(0.0, 10.0),
    )
    command_interface: str = param(
        "joint_trajectory",
        description="joint_trajectory | forward_position | twist",
    )
    camera_names: list[str] = _cameras_param()
    camera_topics: list[str] = _camera_topics_param()
    compressed_images: bool = _compressed_param()
    joint_names: list[str] = _joint_names_param()
    finger_joint_names: list[str] = _finger_names_param()
    joint_states_topic: str = param("/joint_states", description="sensor_msgs/JointState topic")
    instruction_topic: str = _instruction_topic_param()
    heartbeat_topic: str = param(
        "/vla/heartbeat",
        description="std_msgs/Empty deadman heartbeat topic",
    )
    estop_topic: str = param(
        "/vla/estop",
        description="std_msgs/Bool topic; true latches the e-stop",
    )
    status_topic: str = param(
        "/vla/status",
        description="std_msgs/String (JSON) status topic, latched",
    )
    trajectory_topic: str = param(
        "/joint_trajectory_controller/joint_trajectory",
        description="trajectory_msgs/JointTrajectory topic of the joint_trajectory_controller",
    )
    forward_command_topic: str = param(
        "/forward_position_controller/commands",
        description="std_msgs/Float64MultiArray topic of a forward position controller",
    )
    twist_topic: str = param(
        "/servo_node/delta_twist_cmds",
        description="geometry_msgs/TwistStamped topic (servoing)",
    )
    twist_frame: str = param(
        "panda_link0",
        description="frame_id of the published TwistStamped commands",
    )
    dry_run_namespace: str = param(
        "/vla/dry_run",
        description="with safety.dry_run, commands go under this prefix instead",
    )
    gripper_interface: str = param(
        "topic",
        description="topic (Float64 opening on gripper_topic) | action (GripperCommand)",
    )
    gripper_topic: str = param(
        "/gripper/command",
        description="std_msgs/Float64 gripper opening command (m)",
    )
    gripper_action: str = param(
        "/gripper_controller/gripper_cmd",
        description="control_msgs/action/GripperCommand server",
    )
    gripper_open_position: float = param(
        0.08,
        description="gripper opening (m) commanded for 'open'",
        range=(0.0, 1.0),
    )
    gripper_closed_position: float = param(
        0.0,
        description="gripper opening (m) commanded for 'close'",
        range=(0.0, 1.0),
    )
    gripper_max_effort: float = param(
        20.0,
        description="max_effort (N) of a GripperCommand goal",
        range=(0.0, 1000.0),
    )
    safety: SafetyConfig = field(default_factory=SafetyConfig)

    def __post_init__(self):
        if self.command_interface not in COMMAND_INTERFACES:
            raise ValueError(
                f"command_interface {self.command_interface!r}: choose one of {COMMAND_INTERFACES}"
            )
        if self.gripper_interface not in GRIPPER_INTERFACES:
            raise ValueError(
                f"gripper_interface {self.gripper_interface!r}: choose one of {GRIPPER_INTERFACES}"
            )
        if len(self.camera_names) != len(self.camera_topics):
            raise ValueError(
                f"camera_names {self.camera_names} and camera_topics "
                f"{self.camera_topics} must have the same length"
            )
        if len(self.joint_names) != 7:
            raise ValueError(f"joint_names must name the 7 arm joints, got {self.joint_names}")
        if not self.control_rate > 0:
            raise ValueError(f"control_rate must be positive, got {self.control_rate}")
        if self.execute_steps < 0:
            raise ValueError(f"execute_steps must be >= 0, got {self.execute_steps}")

    @property
    def period_s(self) -> float:
        return 1.0 / self.control_rate


@dataclass
class SimRobotConfig:
    """Parameters of ``vla_ros sim_robot_node`` (a simulated ros2_control-like Panda)."""

    backend: str = param("mujoco", description="physics backend: mujoco | pybullet")
    suite: str = param("pick_place", description="task suite (sim.tasks.SUITES)")
    task: str = param("pick", description="task family of the suite")
    seed: int = param(
        0,
        description="seed of the next episode; ~/reset advances it",
        range=(0, 2**32 - 1),  # vla eval's episode seeds are uint32
        read_only=False,
    )
    image_height: int = param(
        128,
        description="image height (px) the frames are cropped and resized to",
        range=(8, 4096),
    )
    image_width: int = param(
        128,
        description="image width (px) the frames are cropped and resized to",
        range=(8, 4096),
    )
    physics_rate: float = param(
        100.0,
        description="physics stepping and /joint_states rate (Hz)",
        range=(1.0, 10000.0),
    )
    camera_rate: float = param(10.0, description="camera publishing rate (Hz)", range=(0.1, 1000.0))
    camera_names: list[str] = _cameras_param()
    camera_topics: list[str] = _camera_topics_param()
    image_encoding: str = param(
        "rgb8",
        description="encoding of the published images: rgb8 | bgr8 | mono8",
    )
    publish_compressed: bool = param(False, description="also publish <topic>/compressed (JPEG)")
    lockstep: bool = param(
        False,
        description="simulated time on /clock, advanced one camera period at a time, each as soon "
        "as a command arrives (or after lockstep_timeout_s of wall time): the closed loop then "
        "matches an in-process evaluation whatever the CPU's speed (the other nodes need "
        "use_sim_time)",
    )
    lockstep_timeout_s: float = param(
        2.0,
        description="lockstep: wall seconds to wait for a command before time moves on anyway",
        range=(0.01, 60.0),
    )
    joint_states_topic: str = param("/joint_states", description="sensor_msgs/JointState topic")
    trajectory_topic: str = param(
        "/joint_trajectory_controller/joint_trajectory",
        description="trajectory_msgs/JointTrajectory topic of the joint_trajectory_controller",
    )
    forward_command_topic: str = param(
        "/forward_position_controller/commands",
        description="std_msgs/Float64MultiArray topic of a forward position controller",
    )
    gripper_topic: str = param(
        "/gripper/command",
        description="std_msgs/Float64 gripper opening command (m)",
    )
    instruction_topic: str = param(
        "/vla/instruction",
        description="the task's instruction is published here",
    )
    success_topic: str = param(
        "/vla/sim/success",
        description="std_msgs/Bool: the task's goal holds",
    )
    frame_id: str = param("panda_link0", description="frame_id of the published messages")

    def __post_init__(self):
        if self.backend not in ("mujoco", "pybullet"):
            raise ValueError(f"backend {self.backend!r}: choose 'mujoco' or 'pybullet'")
        if len(self.camera_names) != len(self.camera_topics):
            raise ValueError("camera_names and camera_topics must have the same length")
        if not (self.physics_rate > 0 and self.camera_rate > 0):
            raise ValueError("physics_rate and camera_rate must be positive")


@dataclass
class RecorderConfig:
    """Parameters of ``vla_ros recorder_node``."""

    dataset_root: str = param(
        "data/ros_recordings",
        description="LeRobot v3 dataset folder (appended to when it exists)",
    )
    fps: float = param(
        CONTROL_HZ,
        description="recording rate (Hz): one frame per period when every stream is fresh",
        range=(0.1, 1000.0),
    )
    image_height: int = param(
        128,
        description="image height (px) the frames are cropped and resized to",
        range=(8, 4096),
    )
    image_width: int = param(
        128,
        description="image width (px) the frames are cropped and resized to",
        range=(8, 4096),
    )
    robot_type: str = param("panda", description="robot_type written into the dataset's info.json")
    camera_names: list[str] = _cameras_param()
    camera_topics: list[str] = _camera_topics_param()
    compressed_images: bool = _compressed_param()
    joint_names: list[str] = _joint_names_param()
    finger_joint_names: list[str] = _finger_names_param()
    joint_states_topic: str = param("/joint_states", description="sensor_msgs/JointState topic")
    instruction_topic: str = _instruction_topic_param()
    command_interface: str = param(
        "forward_position",
        description="what the teleop publishes: joint_trajectory | forward_position | twist",
    )
    trajectory_topic: str = param(
        "/joint_trajectory_controller/joint_trajectory",
        description="trajectory_msgs/JointTrajectory topic of the joint_trajectory_controller",
    )
    forward_command_topic: str = param(
        "/forward_position_controller/commands",
        description="std_msgs/Float64MultiArray topic of a forward position controller",
    )
    twist_topic: str = param(
        "/servo_node/delta_twist_cmds",
        description="geometry_msgs/TwistStamped topic (servoing)",
    )
    gripper_topic: str = param(
        "/gripper/command",
        description="std_msgs/Float64 gripper opening command (m)",
    )
    gripper_close_below: float = param(
        0.04,
        description="a commanded opening (m) below this is labelled close (+1)",
        range=(0.0, 1.0),
    )
    max_sample_age_s: float = param(
        0.2,
        description="a frame is skipped while any stream is older than this (s)",
        range=(0.001, 60.0),
    )
    control_topic: str = param(
        "/vla/recorder/control",
        description="std_msgs/String topic: start | stop | discard",
    )
    mcap_path: str = param(
        "",
        description="non-empty: also log every subscribed topic to this new rosbag2 MCAP folder",
    )

    def __post_init__(self):
        if self.command_interface not in COMMAND_INTERFACES:
            raise ValueError(
                f"command_interface {self.command_interface!r}: choose one of {COMMAND_INTERFACES}"
            )
        if len(self.camera_names) != len(self.camera_topics):
            raise ValueError("camera_names and camera_topics must have the same length")
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")


@dataclass
class TeleopConfig:
    """Parameters of ``vla_ros teleop_node`` (gamepad -> EEF delta -> forward joint command)."""

    control_rate: float = param(CONTROL_HZ, description="command rate (Hz)", range=(0.1, 1000.0))
    joy_topic: str = param("/joy", description="sensor_msgs/Joy topic")
    joint_states_topic: str = param("/joint_states", description="sensor_msgs/JointState topic")
    forward_command_topic: str = param(
        "/forward_position_controller/commands",
        description="std_msgs/Float64MultiArray topic of a forward position controller",
    )
    gripper_topic: str = param(
        "/gripper/command",
        description="std_msgs/Float64 gripper opening command (m)",
    )
    joint_names: list[str] = _joint_names_param()
    axis_map: list[int] = param(
        default_factory=lambda: [1, 0, 4, -1, -1, 3],
        description="joy axis feeding dx, dy, dz, droll, dpitch, dyaw (-1: none)",
    )
    axis_scale: list[float] = param(
        default_factory=lambda: [0.02, 0.02, 0.02, 0.1, 0.1, 0.1],
        description="EEF delta per control period at full stick (m, rad)",
    )
    deadband: float = param(
        0.1,
        description="stick travel ignored around the centre",
        range=(0.0, 0.99),
    )
    enable_button: int = param(
        4,
        description="joy button to hold to move (deadman)",
        range=(0, 127),
    )
    close_button: int = param(0, description="joy button that closes the gripper", range=(0, 127))
    open_button: int = param(1, description="joy button that opens the gripper", range=(0, 127))
    ik_damping: float = param(
        0.05,
        description="damping of the damped-least-squares IK (EEF delta -> joint target)",
        range=(0.0, 10.0),
    )
    gripper_open_position: float = param(
        0.08,
        description="gripper opening (m) commanded for 'open'",
        range=(0.0, 1.0),
    )
    gripper_closed_position: float = param(
        0.0,
        description="gripper opening (m) commanded for 'close'",
        range=(0.0, 1.0),
    )
    safety: SafetyConfig = field(default_factory=SafetyConfig)

    def __post_init__(self):
        if len(self.axis_map) != 6 or len(self.axis_scale) != 6:
            raise ValueError("axis_map and axis_scale need 6 entries (dx dy dz droll dpitch dyaw)")
        if not 0 <= self.deadband < 1:
            raise ValueError(f"deadband must be in [0, 1), got {self.deadband}")
        if not self.control_rate > 0:
            raise ValueError(f"control_rate must be positive, got {self.control_rate}")


@dataclass
class RobotStateConfig:
    """Parameters of ``vla_ros robot_state_node`` (TF from /joint_states and the URDF, where
    robot_state_publisher is missing). The URDF itself is the ``robot_description`` parameter."""

    joint_states_topic: str = param("/joint_states", description="sensor_msgs/JointState topic")
    tcp_parent_link: str = param("panda_hand", description="link the TCP frame is fixed to")
    tcp_frame: str = param("panda_tcp", description="TCP frame: between the fingertips")
    tcp_offset: float = param(
        TCP_OFFSET,
        description="TCP distance (m) along the parent link's +z (the policy's TCP)",
        range=(0.0, 1.0),
    )
    tcp_pose_topic: str = param(
        "/vla/tcp_pose", description="geometry_msgs/PoseStamped of the TCP in the root link frame"
    )
    fallback_tf_topic: str = param(
        "/vla/tf",
        description="without tf2_msgs: geometry_msgs/TransformStamped of each joint here "
        "(static ones latched on <topic>_static) instead of /tf",
    )


@dataclass
class HeartbeatConfig:
    """Parameters of ``vla_ros heartbeat_node`` (the deadman heartbeat)."""

    mode: str = param("timer", description="timer: always beat (simulation) | joy: while held")
    rate: float = param(20.0, description="heartbeat rate (Hz)", range=(1.0, 1000.0))
    deadman_button: int = param(4, description="joy mode: the button to hold", range=(0, 127))
    heartbeat_topic: str = param("/vla/heartbeat", description="std_msgs/Empty heartbeat topic")
    joy_topic: str = param("/joy", description="joy mode: sensor_msgs/Joy topic")
    joy_timeout_s: float = param(
        0.2,
        description="joy mode: no beat once the last Joy message with the button held is older",
        range=(0.01, 10.0),
    )

    def __post_init__(self):
        if self.mode not in ("timer", "joy"):
            raise ValueError(f"mode must be 'timer' or 'joy', got {self.mode!r}")
