"""Names and layouts shared by the simulators, the dataset code, the policy and the ROS bridge.

Keys follow the LeRobot dataset convention so that a dataset recorded here loads in LeRobot and
a LeRobot dataset trains here. Import these names; never spell the strings inline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# ---- the checkpoint that ships (the main job, the ROS default, the tests that load it) -------
# Renaming it on a new release is this one line plus docs; the folder lives in the repository.
SHIPPED_CHECKPOINT_NAME = "pick_place_v7"
SHIPPED_CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / SHIPPED_CHECKPOINT_NAME

# ---- observation / dataset keys (LeRobot convention) ---------------------------------------
OBS_PREFIX = "observation."
OBS_IMAGES_PREFIX = "observation.images."
OBS_STATE = "observation.state"
ACTION = "action"
TASK = "task"

CAMERAS: tuple[str, ...] = ("scene", "wrist")
OBS_IMAGE_SCENE = OBS_IMAGES_PREFIX + "scene"
OBS_IMAGE_WRIST = OBS_IMAGES_PREFIX + "wrist"
IMAGE_KEYS: tuple[str, ...] = tuple(OBS_IMAGES_PREFIX + c for c in CAMERAS)
DEFAULT_IMAGE_SIZE: tuple[int, int] = (128, 128)  # (height, width)

# ---- proprioceptive state layout (observation.state, float32) ------------------------------
# End-effector pose in the robot base frame, gripper opening, then the 7 arm joint positions.
# The quaternion is (w, x, y, z) with w >= 0 (canonical sign).
STATE_NAMES: tuple[str, ...] = (
    "ee_x", "ee_y", "ee_z",
    "ee_qw", "ee_qx", "ee_qy", "ee_qz",
    "gripper_opening",  # distance between the finger pads in metres (0 closed .. 0.08 open)
    "q1", "q2", "q3", "q4", "q5", "q6", "q7",
)  # fmt: skip
STATE_DIM = len(STATE_NAMES)

# ---- action layout (action, float32) --------------------------------------------------------
# Default action space: end-effector delta in the robot base frame, applied once per control
# period, plus an absolute gripper command (-1 = open, +1 = close).
ACTION_SPACE_EEF_DELTA = "eef_delta"
ACTION_SPACE_JOINT_POS = "joint_pos"
ACTION_SPACES: tuple[str, ...] = (ACTION_SPACE_EEF_DELTA, ACTION_SPACE_JOINT_POS)

EEF_ACTION_NAMES: tuple[str, ...] = ("dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper")
ACTION_DIM = len(EEF_ACTION_NAMES)
# Per-step limits; actions outside are clipped by the controller (documented, never silent
# for non-finite values, which raise).
EEF_ACTION_LOW = np.array([-0.05, -0.05, -0.05, -0.25, -0.25, -0.25, -1.0], dtype=np.float32)
EEF_ACTION_HIGH = -EEF_ACTION_LOW

JOINT_ACTION_NAMES: tuple[str, ...] = ("q1", "q2", "q3", "q4", "q5", "q6", "q7", "gripper")

CONTROL_HZ = 10.0  # default control rate of the action stream

# ---- Meta-World (sim/metaworld_env.py: the MT50 benchmark's Sawyer, an external suite) --------
# Action: (dx, dy, dz) in [-1, 1], moved 1 cm per unit per step (Meta-World's action_scale) and
# clipped to the hand's workspace, plus the gripper effort in [-1, 1] (+1 closes). Our Panda
# controller does not speak it, so it is not in ACTION_SPACES; checkpoints and training accept
# it through POLICY_ACTION_SPACES.
ACTION_SPACE_METAWORLD = "metaworld_xyz_gripper"
POLICY_ACTION_SPACES: tuple[str, ...] = (*ACTION_SPACES, ACTION_SPACE_METAWORLD)
METAWORLD_ACTION_NAMES: tuple[str, ...] = ("dx", "dy", "dz", "gripper")
# observation.state: end-effector position (m) and finger separation (0 closed .. 1 open), the
# first 4 of Meta-World's 39-D observation (the state LeRobot and SmolVLA use).
METAWORLD_STATE_NAMES: tuple[str, ...] = ("hand_x", "hand_y", "hand_z", "gripper_opening")
METAWORLD_CONTROL_HZ = 80.0  # 5 MuJoCo substeps of 2.5 ms per action
