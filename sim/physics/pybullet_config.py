"""Settings of the PyBullet backend and its DIRECT client (see pybullet_physics)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pybullet
from pybullet_utils.bullet_client import BulletClient

from sim.physics import pybullet_camera as cam
from sim.physics.pybullet_robot import ROBOT_MESHES
from sim.physics.pybullet_scene import ContactConfig
from vla.robot.panda import ARM_JOINTS


@dataclass(frozen=True)
class PyBulletConfig:
    """Engine settings of the PyBullet backend (defaults tuned for the pick-and-place experts).

    arm_forces: per-joint force/torque limits of the arm motors (N m; see the comment below).
    arm_position_gain / arm_velocity_gain: PyBullet's motor Kp, Kd (error fractions per step).
    finger_force: squeeze force of each finger motor (N); holds a 50 g cube with margin.
    """

    timestep: float = 1.0 / 240.0
    solver_iterations: int = 50
    renderer: str = "tiny"
    robot_meshes: str = "collision"  # what the robot is drawn with (see pybullet_robot)
    # 3x the URDF effort limits: MuJoCo's model adds gravity compensation on top of its 87/12
    # N m actuators; PyBullet has none, so its motors carry gravity as well. At 1x the shoulder
    # saturates on a 5 cm step and overshoots by ~0.07 rad (measured), which breaks grasps.
    arm_forces: tuple[float, ...] = (261.0, 261.0, 261.0, 261.0, 36.0, 36.0, 36.0)
    arm_position_gain: float = 0.3
    arm_velocity_gain: float = 1.0
    finger_force: float = 20.0
    finger_position_gain: float = 0.2
    finger_max_velocity: float = 0.2
    contact: ContactConfig = field(default_factory=ContactConfig)

    def __post_init__(self) -> None:
        if not 0 < self.timestep <= 0.02:
            raise ValueError(f"timestep must be in (0, 0.02] s, got {self.timestep}")
        if self.renderer not in cam.RENDERERS:
            raise ValueError(f"unknown renderer {self.renderer!r}; valid: {cam.RENDERERS}")
        if self.robot_meshes not in ROBOT_MESHES:
            raise ValueError(f"unknown robot_meshes {self.robot_meshes!r}; valid: {ROBOT_MESHES}")
        if len(self.arm_forces) != ARM_JOINTS:
            raise ValueError(f"arm_forces needs {ARM_JOINTS} values, got {len(self.arm_forces)}")
        if self.finger_force <= 0:
            raise ValueError(f"finger_force must be > 0 N, got {self.finger_force}")


class DirectClient(BulletClient):
    """BulletClient on a new DIRECT server, connected without the `options` string that makes
    BulletClient.__init__ print "argv[0]=" on stdout for every instance."""

    def __init__(self) -> None:  # sets the same attributes as BulletClient.__init__
        self._shapes = {}
        self._pid = os.getpid()
        self._client = pybullet.connect(pybullet.DIRECT)
        if self._client < 0:
            raise RuntimeError("pybullet.connect(DIRECT) failed")
