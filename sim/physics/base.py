"""The engine boundary: named state queries and commands, one implementation per engine.

Split as dm_control does: a `Physics` knows one engine and answers named questions
(where is the hand, where is the red cube, are the fingers touching it); a `Task` decides what an
episode is (scene sampling, instruction, success); an `Environment` runs the stepping loop.
Tasks and the controller only talk to this interface, so the same task runs in both engines.
Its robot-state queries (joint_positions, ee_pose, ee_jacobian) make every Physics a
``vla.robot.controller.ArmState``; the Panda's facts (joint names, limits, TCP offset, home
pose) are ``vla.robot.panda``'s.
"""

from __future__ import annotations

import abc

import numpy as np

from sim.scene import SceneSpec


class Physics(abc.ABC):
    """One simulated Panda + table + objects. All poses are in the world (= robot base) frame,
    quaternions are (w, x, y, z)."""

    #: seconds of simulated time per physics substep
    timestep: float

    # ---- building -----------------------------------------------------------------------
    @abc.abstractmethod
    def build(self, scene: SceneSpec) -> None:
        """(Re)build the world for `scene`: robot at home, objects at their initial poses."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release engine and renderer resources."""

    # ---- robot state --------------------------------------------------------------------
    @abc.abstractmethod
    def joint_positions(self) -> np.ndarray:
        """(7,) arm joint angles in radians."""

    @abc.abstractmethod
    def gripper_opening(self) -> float:
        """Distance between the finger pads in metres (0 .. vla.robot.panda.GRIPPER_MAX_OPENING)."""

    @abc.abstractmethod
    def ee_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """(pos (3,), quat wxyz (4,)) of the tool centre point between the fingertips."""

    @abc.abstractmethod
    def ee_jacobian(self) -> np.ndarray:
        """(6, 7) geometric Jacobian of the tool centre point: rows (v_xyz, omega_xyz)."""

    @abc.abstractmethod
    def set_joint_positions(self, q: np.ndarray, gripper_opening: float | None = None) -> None:
        """Teleport the arm (and optionally the fingers); targets follow. For constructed states."""

    # ---- commands -----------------------------------------------------------------------
    @abc.abstractmethod
    def set_joint_targets(self, q: np.ndarray, gripper_closed: bool) -> None:
        """Position-actuator targets for the 7 joints; the gripper closes or opens."""

    @abc.abstractmethod
    def step(self, n_substeps: int) -> None:
        """Advance the simulation by n_substeps * timestep seconds."""

    # ---- objects ------------------------------------------------------------------------
    @abc.abstractmethod
    def object_pose(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(pos (3,), quat wxyz (4,)) of the object's body frame."""

    @abc.abstractmethod
    def set_object_pose(self, name: str, pos: np.ndarray, quat: np.ndarray | None = None) -> None:
        """Teleport an object (velocity zeroed). For constructed states in tests."""

    @abc.abstractmethod
    def finger_contacts(self, name: str) -> tuple[bool, bool]:
        """Whether the (left, right) finger touches the object."""

    # ---- rendering ----------------------------------------------------------------------
    @abc.abstractmethod
    def render(self, camera: str) -> np.ndarray:
        """uint8 (H, W, 3) image from the named camera ("scene" or "wrist")."""
