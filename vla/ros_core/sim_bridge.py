"""A simulated Panda behind the interfaces a ros2_control arm exposes, without ROS.

    /joint_states            <- joint_state()        (7 arm joints + 2 finger joints)
    /camera/<name>/image_raw <- render(camera)
    forward_position commands  -> set_joint_targets(q)
    joint_trajectory           -> set_trajectory(names, points, times, now): followed by
                                  linear interpolation in time, as a joint_trajectory_controller
    gripper command (opening)  -> set_gripper(opening)
    step(now)                  -> physics advances to `now`, tracking the active target

Works on any :class:`sim.physics.base.Physics` (MuJoCo or PyBullet), so the simulated stack
under ``ros2 launch`` runs the very engines the evaluation suite runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.physics.base import (
    ARM_JOINT_NAMES,
    FINGER_JOINT_NAMES,
    GRIPPER_MAX_OPENING,
    Physics,
)
from vla.constants import TASK

NS = 1_000_000_000


class SimRobotBridge:
    """Command buffering + trajectory following + stepping for one simulated Panda."""

    def __init__(self, physics: Physics, start_ns: int = 0):
        self.physics = physics
        self._time_ns = start_ns
        self._target = np.asarray(physics.joint_positions(), dtype=float).copy()
        self._gripper_closed = False
        self._traj: tuple[np.ndarray, np.ndarray] | None = None  # (times_ns (N+1,), q (N+1, 7))
        self._q_prev = self._target.copy()
        self._velocity = np.zeros(7)
        physics.set_joint_targets(self._target, self._gripper_closed)

    # ---- commands -----------------------------------------------------------------------------
    def set_joint_targets(self, q) -> None:
        """A forward_position_controller command: go to ``q`` (7,) now; cancels a trajectory."""
        q = np.asarray(q, dtype=float)
        if q.shape != (7,) or not np.all(np.isfinite(q)):
            raise ValueError(f"need 7 finite joint targets, got {q}")
        self._traj = None
        self._target = q.copy()

    def set_trajectory(self, joint_names, positions, times_s, now_ns: int) -> None:
        """A JointTrajectory (points reached ``times_s`` after ``now_ns``); replaces the active
        one, starting from the current target, as a joint_trajectory_controller does."""
        positions = np.atleast_2d(np.asarray(positions, dtype=float))
        order = [list(joint_names).index(n) for n in ARM_JOINT_NAMES]
        positions = positions[:, order]
        times = np.asarray(times_s, dtype=float)
        if len(times) != len(positions) or np.any(np.diff(times) <= 0) or times[0] < 0:
            raise ValueError("trajectory times must be increasing, one per point, from >= 0")
        if not np.all(np.isfinite(positions)):
            raise ValueError("trajectory has non-finite positions")
        t_ns = now_ns + np.concatenate([[0.0], times]) * NS
        self._traj = (t_ns, np.vstack([self._target, positions]))

    def set_gripper(self, opening: float) -> None:
        """Target opening in metres: below half-open closes the gripper."""
        self._gripper_closed = float(opening) < GRIPPER_MAX_OPENING / 2

    # ---- stepping -----------------------------------------------------------------------------
    def _trajectory_target(self, now_ns: int) -> np.ndarray:
        t, q = self._traj
        if now_ns >= t[-1]:
            self._traj = None
            return q[-1]
        return np.array([np.interp(now_ns, t, q[:, j]) for j in range(7)])

    def step(self, now_ns: int) -> None:
        """Advance the physics to ``now_ns`` (whole substeps) while tracking the target."""
        dt_ns = now_ns - self._time_ns
        n = int(dt_ns / (self.physics.timestep * NS))
        if n <= 0:
            return
        if self._traj is not None:
            self._target = self._trajectory_target(now_ns)
        self.physics.set_joint_targets(self._target, self._gripper_closed)
        self.physics.step(n)
        self._time_ns += int(n * self.physics.timestep * NS)
        q = np.asarray(self.physics.joint_positions(), dtype=float)
        self._velocity = (q - self._q_prev) / (n * self.physics.timestep)
        self._q_prev = q

    # ---- state --------------------------------------------------------------------------------
    def joint_state(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(names, positions (9,), velocities (9,)): arm joints then the two finger joints."""
        half = self.physics.gripper_opening() / 2
        names = list(ARM_JOINT_NAMES) + list(FINGER_JOINT_NAMES)
        pos = np.concatenate([self.physics.joint_positions(), [half, half]])
        vel = np.concatenate([self._velocity, [0.0, 0.0]])
        return names, pos, vel

    def render(self, camera: str) -> np.ndarray:
        return self.physics.render(camera)

    @property
    def target(self) -> np.ndarray:
        return self._target.copy()


@dataclass
class SimWorld:
    """What the simulated robot node runs: the engine, the episode's instruction, the env."""

    physics: Physics
    instruction: str
    env: Any


def make_sim_world(backend: str, task: str, seed: int, camera_names) -> SimWorld:
    """Build the task's scene in ``backend`` through ``sim.make`` and reset it with ``seed``."""
    import sim

    if not hasattr(sim, "make"):
        raise RuntimeError(
            "this checkout's simulator has no sim.make(); update the repository (the ROS "
            "sim robot node runs the same environments as `vla eval`)"
        )
    env = sim.make(task, backend=backend, seed=seed)
    obs = env.reset(seed=seed)
    if isinstance(obs, tuple):  # gymnasium style (obs, info)
        obs = obs[0]
    instruction = obs.get(TASK) if isinstance(obs, dict) else None
    instruction = instruction or getattr(env, "instruction", None)
    if not instruction:
        raise RuntimeError(f"sim.make({task!r}) gave no instruction after reset")
    physics = env.physics
    for name in camera_names:
        physics.render(name)  # fail now, naming the camera, rather than at the first frame
    return SimWorld(physics=physics, instruction=str(instruction), env=env)
