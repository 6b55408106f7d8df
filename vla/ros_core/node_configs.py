"""Typed configurations of the three ROS 2 nodes (every field is a ROS parameter).

Defaults describe the simulated Panda stack (``sim_robot_node``) so that ``ros2 launch`` works
out of the box; ``configs/ros/*.yaml`` hold the same names for the sim and a real Franka.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vla.constants import CAMERAS, CONTROL_HZ, SHIPPED_CHECKPOINT_NAME
from vla.robot.panda import ARM_JOINT_NAMES, FINGER_JOINT_NAMES
from vla.ros_core.safety import SafetyConfig

COMMAND_INTERFACES: tuple[str, ...] = ("joint_trajectory", "forward_position", "twist")
GRIPPER_INTERFACES: tuple[str, ...] = ("topic", "action")


def _camera_topics() -> list[str]:
    return [f"/camera/{c}/image_raw" for c in CAMERAS]


@dataclass
class PolicyNodeConfig:
    """Parameters of ``vla_ros policy_node``."""

    policy_path: str = f"checkpoints/{SHIPPED_CHECKPOINT_NAME}"  # in-process policy folder
    policy_host: str = ""  # non-empty: use the policy server at host:port instead
    policy_port: int = 8000
    policy_token: str = ""
    device: str = "auto"  # torch device for an in-process policy; auto: cuda if present, else cpu
    warmup_steps: int = 2
    control_rate: float = CONTROL_HZ
    execute_steps: int = 0  # actions executed per chunk; 0: the checkpoint's execution_horizon
    ik_damping: float = 0.05
    command_interface: str = "joint_trajectory"
    camera_names: list[str] = field(default_factory=lambda: list(CAMERAS))
    camera_topics: list[str] = field(default_factory=_camera_topics)
    compressed_images: bool = False  # subscribe to <topic>/compressed (CompressedImage)
    joint_names: list[str] = field(default_factory=lambda: list(ARM_JOINT_NAMES))
    finger_joint_names: list[str] = field(default_factory=lambda: list(FINGER_JOINT_NAMES))
    joint_states_topic: str = "/joint_states"
    instruction_topic: str = "/vla/instruction"
    heartbeat_topic: str = "/vla/heartbeat"
    estop_topic: str = "/vla/estop"
    status_topic: str = "/vla/status"
    trajectory_topic: str = "/joint_trajectory_controller/joint_trajectory"
    forward_command_topic: str = "/forward_position_controller/commands"
    twist_topic: str = "/servo_node/delta_twist_cmds"
    twist_frame: str = "panda_link0"
    dry_run_namespace: str = "/vla/dry_run"  # dry run: commands go under this prefix instead
    gripper_interface: str = "topic"
    gripper_topic: str = "/gripper/command"  # std_msgs/Float64 target opening (m)
    gripper_action: str = "/gripper_controller/gripper_cmd"  # control_msgs GripperCommand
    gripper_open_position: float = 0.08
    gripper_closed_position: float = 0.0
    gripper_max_effort: float = 20.0
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

    backend: str = "mujoco"  # or "pybullet"
    suite: str = "pick_place"
    task: str = "pick"  # a task family of the suite (sim.tasks.SUITES)
    seed: int = 0
    image_height: int = 128
    image_width: int = 128
    physics_rate: float = 100.0  # joint_states publishing + physics stepping rate
    camera_rate: float = 10.0
    camera_names: list[str] = field(default_factory=lambda: list(CAMERAS))
    camera_topics: list[str] = field(default_factory=_camera_topics)
    image_encoding: str = "rgb8"
    publish_compressed: bool = False
    joint_states_topic: str = "/joint_states"
    trajectory_topic: str = "/joint_trajectory_controller/joint_trajectory"
    forward_command_topic: str = "/forward_position_controller/commands"
    gripper_topic: str = "/gripper/command"
    instruction_topic: str = "/vla/instruction"  # the task's instruction is published here
    success_topic: str = "/vla/sim/success"  # std_msgs/Bool: the task's goal holds
    frame_id: str = "panda_link0"

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

    dataset_root: str = "data/ros_recordings"
    fps: float = CONTROL_HZ
    image_height: int = 128
    image_width: int = 128
    robot_type: str = "panda"
    camera_names: list[str] = field(default_factory=lambda: list(CAMERAS))
    camera_topics: list[str] = field(default_factory=_camera_topics)
    compressed_images: bool = False
    joint_names: list[str] = field(default_factory=lambda: list(ARM_JOINT_NAMES))
    finger_joint_names: list[str] = field(default_factory=lambda: list(FINGER_JOINT_NAMES))
    joint_states_topic: str = "/joint_states"
    instruction_topic: str = "/vla/instruction"
    # the commanded motion: "joint_trajectory" | "forward_position" | "twist"
    command_interface: str = "forward_position"
    trajectory_topic: str = "/joint_trajectory_controller/joint_trajectory"
    forward_command_topic: str = "/forward_position_controller/commands"
    twist_topic: str = "/servo_node/delta_twist_cmds"
    gripper_topic: str = "/gripper/command"
    gripper_close_below: float = 0.04  # commanded opening (m) below this = "close" (+1)
    max_sample_age_s: float = 0.2  # a frame is skipped when any stream is older than this
    control_topic: str = "/vla/recorder/control"  # std_msgs/String: start | stop | discard
    mcap_path: str = ""  # non-empty: also log every subscribed topic to this rosbag2 MCAP

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

    control_rate: float = CONTROL_HZ
    joy_topic: str = "/joy"
    joint_states_topic: str = "/joint_states"
    forward_command_topic: str = "/forward_position_controller/commands"
    gripper_topic: str = "/gripper/command"
    joint_names: list[str] = field(default_factory=lambda: list(ARM_JOINT_NAMES))
    # joy axis feeding dx, dy, dz, droll, dpitch, dyaw (-1: none), and the delta at full stick
    axis_map: list[int] = field(default_factory=lambda: [1, 0, 4, -1, -1, 3])
    axis_scale: list[float] = field(default_factory=lambda: [0.02, 0.02, 0.02, 0.1, 0.1, 0.1])
    deadband: float = 0.1
    enable_button: int = 4  # hold to move (deadman)
    close_button: int = 0
    open_button: int = 1
    ik_damping: float = 0.05
    gripper_open_position: float = 0.08
    gripper_closed_position: float = 0.0
    safety: SafetyConfig = field(default_factory=SafetyConfig)

    def __post_init__(self):
        if len(self.axis_map) != 6 or len(self.axis_scale) != 6:
            raise ValueError("axis_map and axis_scale need 6 entries (dx dy dz droll dpitch dyaw)")
        if not 0 <= self.deadband < 1:
            raise ValueError(f"deadband must be in [0, 1), got {self.deadband}")
        if not self.control_rate > 0:
            raise ValueError(f"control_rate must be positive, got {self.control_rate}")
