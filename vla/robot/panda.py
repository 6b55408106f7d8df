"""Franka Panda facts shared by the simulators, the ROS nodes and the kinematics.

Names and limits come from pybullet_data's ``franka_panda/panda.urdf``, the one robot description
both simulators load and the numpy kinematics (:mod:`vla.robot.kinematics`) copies.
"""

from __future__ import annotations

ARM_JOINTS = 7
ARM_JOINT_NAMES = tuple(f"panda_joint{i}" for i in range(1, 8))
FINGER_JOINT_NAMES = ("panda_finger_joint1", "panda_finger_joint2")
# (lower, upper) limits in radians of the 7 arm joints, as in the URDF.
ARM_JOINT_LIMITS = (
    (-2.9671, 2.9671), (-1.8326, 1.8326), (-2.9671, 2.9671), (-3.1416, 0.0),
    (-2.9671, 2.9671), (-0.0873, 3.8223), (-2.9671, 2.9671),
)  # fmt: skip
HAND_LINK = "panda_hand"
# Tool centre point: between the fingertips, this far along the hand link's +z axis.
TCP_OFFSET = 0.1034
GRIPPER_MAX_OPENING = 0.08  # metres between finger pads, fully open
# "ready" pose: hand above the table, pointing down
HOME_Q = (0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785)
# Wrist camera: mounted on the hand link, looking along the hand's +z (towards the fingers).
WRIST_CAMERA_POS = (0.05, 0.0, 0.04)  # in the hand link frame
WRIST_CAMERA_FOVY = 75.0  # degrees, vertical
