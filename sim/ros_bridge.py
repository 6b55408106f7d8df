"""A simulated Panda behind the interfaces a ros2_control arm exposes, without ROS.

    /joint_states            <- joint_state()        (7 arm joints + 2 finger joints)
    /camera/<name>/image_raw <- render(camera)
    forward_position commands  -> set_joint_targets(q)
    joint_trajectory           -> set_trajectory(names, points, times, now): followed by
                                  linear interpolation in time, as a joint_trajectory_controller
    gripper command (opening)  -> set_gripper(opening)
    step(now)                  -> physics advances to `now`, tracking the active target

Works on any :class:`sim.physics.base.Physics` (MuJoCo or PyBullet), so the simulated stack
under ``ros2 launch`` runs the very engines the evaluation suite runs. The simulated robot node
(``ros_ws/src/vla_ros/vla_ros/sim_robot_node.py``) is its one user; it lives in ``sim`` because it
needs the simulator, which ``vla.ros_core`` (the real robot's side) never imports.
"""

from __future__ import annotations

import numpy as np

from sim.env import make
from sim.physics.base import Physics
from vla.constants import TASK
from vla.robot.panda import ARM_JOINT_NAMES, FINGER_JOINT_NAMES, GRIPPER_MAX_OPENING

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


class SimWorld:
    """One task of the simulator behind the node: its engine, instruction and success test.

    Wraps the gymnasium environment of ``sim.make`` (the very environments ``vla eval`` runs);
    the node moves the arm through :class:`SimRobotBridge` on ``physics``, not ``env.step``,
    because ROS commands are joint targets.
    """

    def __init__(self, env, seed: int):
        self.env = env
        self.instruction = ""
        self.reset(seed)

    @property
    def physics(self) -> Physics:
        return self.env.physics

    def reset(self, seed: int | None = None) -> str:
        """A new episode (that seed's scene and instruction; None: the next seed)."""
        _, info = self.env.reset(seed=seed)
        self.instruction = str(info[TASK])
        return self.instruction

    def success(self) -> bool:
        """Whether the episode's goal holds now (the task's own predicate)."""
        return bool(self.env.env.success())

    def close(self) -> None:
        self.env.close()


def make_sim_world(backend: str, suite: str, task: str, seed: int, image_size) -> SimWorld:
    """The ``sim.make`` environment of ``suite``/``task`` in ``backend``, reset with ``seed``."""
    env = make(task, backend, suite=suite, seed=seed, image_size=tuple(image_size))
    return SimWorld(env, seed)
