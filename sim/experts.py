"""Scripted experts: waypoint state machines on privileged physics state.

    physics (object poses, TCP pose) --phase logic--> waypoint (pos, yaw, gripper)
        --clipped P-step toward it--> 7-D EEF delta action --> the same Controller as policies

The experts emit exactly the action space a policy emits (vla.constants.EEF_ACTION_NAMES), so
their episodes are valid training data. They are closed loop: every step re-reads the object
poses, and a grasp that slips sends the pick back to its approach phase.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from sim.env import make
from sim.tasks import SUITES
from sim.tasks import objects as ob
from vla.constants import ACTION_DIM, EEF_ACTION_HIGH

OPEN, CLOSE = -1.0, 1.0
HOVER = 0.1  # approach height above the grasp point (m)
CARRY_Z = 0.14  # TCP height while carrying over containers / cubes
POS_TOL, YAW_TOL = 0.008, 0.05
CLOSE_STEPS = 3  # control steps the gripper needs to close on an object
# Carry -> lower: start lowering once the TCP is within LOWER_XY of the drop point in xy; the
# lowering step heads straight for the drop point, so it closes the rest of the xy error on the
# way down, and only an error above LOWER_ABORT_XY sends it back to carry height. (A 6 mm trigger
# taught learners to hover at carry height: about 1 cm off they predicted no xy step, so they
# never came within 6 mm; checkpoints/pick_place_v7/README.md, "What changed".)
LOWER_XY, LOWER_ABORT_XY = 0.02, 0.035
# Hand orientation "pointing down" at yaw 0: the hand frame at the home pose.
_DOWN = Rotation.from_matrix(np.diag([1.0, -1.0, -1.0]))


def _yaw_of(quat_wxyz: np.ndarray) -> float:
    w, x, y, z = quat_wxyz
    mat = Rotation.from_quat([x, y, z, w]).as_matrix()
    return float(np.arctan2(mat[1, 0], mat[0, 0]))  # heading of the body's x axis


def _face_yaw(obj_yaw: float, period: float = np.pi / 2) -> float:
    """The gripper yaw in (-period/2, period/2] that faces the object's sides."""
    return float((obj_yaw + period / 2) % period - period / 2)


class ScriptedExpert:
    """Base: phase bookkeeping and the move-to-waypoint action."""

    family = ""

    def __init__(self, env):
        self.env = env.unwrapped
        self.reset()

    def reset(self) -> None:
        """Forget the current episode's progress (call after env.reset)."""
        self.phase = "approach"
        self.timer = 0
        self.grasp_yaw = 0.0
        self.yaw_plan: list[float] = []  # grasp yaws, the one in use first

    @property
    def physics(self):
        return self.env.physics

    @property
    def episode(self):
        return self.env.episode

    def obj(self, name: str) -> tuple[np.ndarray, float]:
        pos, quat = self.physics.object_pose(name)
        return pos, _yaw_of(quat)

    def move(self, target: np.ndarray, yaw: float, grip: float, max_step: float = 1.0):
        """(action, reached): a P-step toward target TCP position and yaw (hand down)."""
        pos, quat = self.physics.ee_pose()
        err = np.asarray(target, float) - pos
        step = err.copy()
        limit = EEF_ACTION_HIGH[:3] * max_step
        scale = np.max(np.abs(step) / limit)
        if scale > 1.0:  # keep the direction, respect the per-step limit
            step /= scale
        w, x, y, z = quat
        current = Rotation.from_quat([x, y, z, w])
        desired = Rotation.from_euler("z", yaw) * _DOWN
        rot = (desired * current.inv()).as_euler("xyz")
        action = np.zeros(ACTION_DIM, dtype=np.float32)
        action[:3] = step
        action[3:6] = np.clip(rot, -EEF_ACTION_HIGH[3:6], EEF_ACTION_HIGH[3:6])
        action[6] = grip
        rot_err = (desired * current.inv()).magnitude()
        reached = bool(np.linalg.norm(err) < POS_TOL and rot_err < YAW_TOL)
        return action, reached

    def hand_yaw(self) -> float:
        """The hand's heading about z (the ``yaw`` that ``move`` would hold it at)."""
        w, x, y, z = self.physics.ee_pose()[1]
        mat = (Rotation.from_quat([x, y, z, w]) * _DOWN.inv()).as_matrix()
        return float(np.arctan2(mat[1, 0], mat[0, 0]))

    def task_done(self) -> bool:
        """Whether the episode's success condition holds now."""
        return bool(self.env.env.success())  # PickPlaceEnv wraps the core env as .env

    def resync(self) -> None:
        """Re-derive the phase from the physics after another agent drove the arm (DAgger).

        The phases are bookkeeping of the expert's own progress: a learner that grasped the
        target while the expert still thought "approach" would be labelled "open and go back
        up". ``resync`` moves the phase to the one the current state is in, so the label at
        every state the learner visits is the expert's action from *that* state. The base
        expert has nothing to resync."""

    def select_action(self, obs) -> np.ndarray:
        raise NotImplementedError


class _GraspMixin(ScriptedExpert):
    """Approach, descend, close on `target`; then hand over to `after_grasp`."""

    FINGER_REACH = 0.065  # open fingertip (outer edge) distance from the TCP along hand y
    # Radius around each object's centre the open fingers must avoid (bin: its corners).
    KEEP_OUT = {"cube": 0.03, "cylinder": 0.022, "bowl": 0.1, "bin": 0.125, "plate": 0.078}
    STUCK_STEPS = 8  # descending this long without arriving: try the next grasp yaw

    def grasp_yaws(self, target: str) -> list[float]:
        """Yaws that grasp the target (cube faces; any for a cylinder), safest first: the open
        fingers must not land on a neighbour or on a container wall. Ties keep the smallest
        wrist rotation."""
        pos, yaw = self.obj(target)
        if self.episode.scene.object(target).category == "cube":
            face = _face_yaw(yaw)
            candidates = [face, face - np.pi / 2 if face > 0 else face + np.pi / 2]
        else:
            candidates = [0.0, np.pi / 2, np.pi / 4, -np.pi / 4]
        others = [(self.physics.object_pose(o.name)[0][:2], self.KEEP_OUT[o.category])
                  for o in self.episode.scene.objects
                  if o.name != target and o.category != "region"]  # fmt: skip

        def clearance(y: float) -> float:
            axis = np.array([np.sin(y), -np.cos(y)])  # hand y in the world at this yaw
            tips = [pos[:2] + s * self.FINGER_REACH * axis for s in (-1.0, 1.0)]
            return min([np.linalg.norm(t - c) - r for t in tips for c, r in others] + [0.02])

        return sorted(candidates, key=lambda y: -min(clearance(y), 0.02))

    def grasp_action(self, target: str):
        pos, _ = self.obj(target)
        if self.phase == "approach" and not self.yaw_plan:
            self.yaw_plan = self.grasp_yaws(target)
        face = self.yaw_plan[0]
        tcp, _ = self.physics.ee_pose()
        grasp = np.array([pos[0], pos[1], max(pos[2], 0.015)])
        if self.phase == "approach":
            hover = grasp + [0.0, 0.0, HOVER]
            action, _ = self.move(hover, face, OPEN)
            near = np.linalg.norm(hover[:2] - tcp[:2]) < 0.01 and abs(hover[2] - tcp[2]) < 0.03
            if near and self.physics.gripper_opening() > 0.07:
                self.phase, self.timer = "descend", 0
            return action
        if self.phase == "descend":
            self.timer += 1
            action, reached = self.move(grasp, face, OPEN)
            if np.linalg.norm(grasp[:2] - tcp[:2]) > 0.02:  # object moved: re-approach
                self.phase, self.yaw_plan = "approach", []
            elif self.timer > self.STUCK_STEPS:  # blocked (a wall, a neighbour): rotate
                self.phase, self.yaw_plan = "approach", self.yaw_plan[1:] + self.yaw_plan[:1]
                action[:3] = [0.0, 0.0, EEF_ACTION_HIGH[2]]
            elif reached or np.linalg.norm(grasp - tcp) < 0.012:
                self.phase, self.timer, self.grasp_yaw = "close", 0, face
            return action
        if self.phase == "close":
            self.timer += 1
            action, _ = self.move(grasp, self.grasp_yaw, CLOSE)
            action[:6] = 0.0
            if self.timer >= CLOSE_STEPS:
                self.phase = "carry"
            return action
        raise AssertionError(self.phase)

    def holding(self, target: str) -> bool:
        pos, _ = self.obj(target)
        tcp, _ = self.physics.ee_pose()
        left, right = self.physics.finger_contacts(target)
        return bool(left and right and np.linalg.norm(pos - tcp) < 0.03)

    def resync_grasp(self, target: str) -> None:
        """Grasp phases from the state: held -> carry (at the hand's yaw); open fingers at the
        grasp point -> descend; a retreat that left the task undone -> approach again."""
        if self.holding(target):
            if self.phase in ("approach", "descend", "close", "retreat"):  # not its own release
                self.phase, self.grasp_yaw = "carry", self.hand_yaw()
            return
        pos, _ = self.obj(target)
        tcp, _ = self.physics.ee_pose()
        grasp = np.array([pos[0], pos[1], max(pos[2], 0.015)])
        if self.phase in ("carry", "lower"):
            self.phase, self.yaw_plan = "approach", []
        elif self.phase == "retreat" and tcp[2] > CARRY_Z and not self.task_done():
            self.phase, self.yaw_plan = "approach", []  # released off the goal: try again
        if (
            self.phase == "approach"
            and np.linalg.norm(grasp[:2] - tcp[:2]) < 0.01
            and tcp[2] < grasp[2] + HOVER
            and self.physics.gripper_opening() > 0.07
        ):
            if not self.yaw_plan:
                self.yaw_plan = self.grasp_yaws(target)
            self.phase, self.timer = "descend", 0


class PickExpert(_GraspMixin):
    family = "pick"

    def resync(self) -> None:
        self.resync_grasp(self.episode.target)

    def select_action(self, obs) -> np.ndarray:
        target = self.episode.target
        if self.phase != "carry":
            return self.grasp_action(target)
        if not self.holding(target):
            self.phase, self.yaw_plan = "approach", []
            return self.grasp_action(target)
        tcp, _ = self.physics.ee_pose()
        lift = np.array([tcp[0], tcp[1], self.episode.target_rest_z + 0.12])
        return self.move(lift, self.grasp_yaw, CLOSE)[0]


class _CarryExpert(_GraspMixin):
    """Grasp the target, carry it above a drop point, lower it, release, retreat."""

    def drop_point(self) -> tuple[np.ndarray, float]:
        """(TCP position at release, gripper yaw)."""
        raise NotImplementedError

    def resync(self) -> None:
        self.resync_grasp(self.episode.target)

    def select_action(self, obs) -> np.ndarray:
        target = self.episode.target
        if self.phase in ("approach", "descend", "close"):
            return self.grasp_action(target)
        tcp, _ = self.physics.ee_pose()
        drop, yaw = self.drop_point()
        if self.phase == "carry":
            if not self.holding(target):
                self.phase, self.yaw_plan = "approach", []
                return self.grasp_action(target)
            if tcp[2] < CARRY_Z - 0.03 and np.linalg.norm(drop[:2] - tcp[:2]) > 0.03:
                return self.move(np.array([tcp[0], tcp[1], CARRY_Z]), yaw, CLOSE)[0]
            above = np.array([drop[0], drop[1], max(CARRY_Z, drop[2])])
            if np.linalg.norm(above[:2] - tcp[:2]) >= LOWER_XY:
                return self.move(above, yaw, CLOSE)[0]
            self.phase = "lower"  # and lower on this very step: no hover step at carry height
        if self.phase == "lower":
            action, reached = self.move(drop, yaw, CLOSE, max_step=0.6)
            if np.linalg.norm(drop[:2] - tcp[:2]) > LOWER_ABORT_XY:
                self.phase = "carry"
            elif reached or self.obj(target)[0][2] <= drop[2]:
                # the object is as low as the TCP was to go: it is on its support. Its own grasps
                # hold it near the TCP; one held above its centre (a learner's, under DAgger)
                # touches down with the TCP still above the drop point and never "reaches"
                self.phase, self.timer = "release", 0
            return action
        if self.phase == "release":
            self.timer += 1
            if self.timer > 2:
                self.phase = "retreat"
            action, _ = self.move(drop, yaw, OPEN)
            action[:6] = 0.0
            return action
        # retreat: straight up with the gripper open; up and the task still undone (the object
        # slid off the support as the fingers opened): grasp it again
        if tcp[2] > CARRY_Z and not self.task_done():
            self.phase, self.yaw_plan = "approach", []
            return self.grasp_action(target)
        return self.move(np.array([tcp[0], tcp[1], CARRY_Z + 0.05]), yaw, OPEN)[0]


class PlaceExpert(_CarryExpert):
    family = "place"

    def drop_point(self):
        goal = self.episode.scene.object(self.episode.goal)
        shape = self.episode.scene.object(self.episode.target).category
        cpos, _ = self.physics.object_pose(goal.name)
        z = cpos[2] + ob.CONTAINER_SUPPORT[goal.category] + ob.half_height(shape) + 0.01
        return np.array([cpos[0], cpos[1], z]), self.grasp_yaw


class StackExpert(_CarryExpert):
    family = "stack"

    def drop_point(self):
        bpos, byaw = self.obj(self.episode.goal)
        # rotate the held cube (aligned with the hand) to the base cube's faces
        yaw = self.grasp_yaw + _face_yaw(byaw - self.grasp_yaw)
        return bpos + [0.0, 0.0, 2 * ob.CUBE_HALF + 0.004], yaw


class PushExpert(ScriptedExpert):
    """Closed fingers behind the object, then push along the object->goal line, re-aligning
    whenever the object drifts off the line."""

    family = "push"
    CONTACT = 0.012  # finger half thickness along the push direction + margin
    PUSH_Z = 0.015  # push low (pads 6-24 mm above the table): objects slide, never tip

    def resync(self) -> None:
        """Fingers already low behind the object on the push line: push from here."""
        if self.phase not in ("approach", "descend"):
            return  # push and lift check the line themselves every step
        pos, _ = self.obj(self.episode.target)
        goal, _ = self.physics.object_pose(self.episode.goal)
        tcp, _ = self.physics.ee_pose()
        d = goal[:2] - pos[:2]
        d = d / max(float(np.linalg.norm(d)), 1e-6)
        rel = tcp[:2] - pos[:2]
        lateral = abs(rel[0] * d[1] - rel[1] * d[0])
        if lateral < 0.01 and -0.06 < float(rel @ d) < -0.02 and tcp[2] < self.PUSH_Z + 0.01:
            self.phase = "push"

    def select_action(self, obs) -> np.ndarray:
        target = self.episode.target
        pos, _ = self.obj(target)
        goal, _ = self.physics.object_pose(self.episode.goal)
        tcp, _ = self.physics.ee_pose()
        to_goal = goal[:2] - pos[:2]
        dist = float(np.linalg.norm(to_goal))
        d = to_goal / max(dist, 1e-6)
        # fingers' wide side (hand y) across the push direction: hand x along +-d
        yaw = _face_yaw(float(np.arctan2(d[1], d[0])), np.pi)
        radius = 0.02  # cube half size / cylinder radius
        z = self.PUSH_Z
        behind = pos[:2] - d * (radius + self.CONTACT + 0.02)
        rel = tcp[:2] - pos[:2]
        lateral = abs(rel[0] * d[1] - rel[1] * d[0])  # distance of the TCP from the push line
        along = float(rel @ d)  # negative: behind the object
        if self.phase == "approach":
            hover = np.array([behind[0], behind[1], z + HOVER])
            action, _ = self.move(hover, yaw, CLOSE)
            if np.linalg.norm(hover[:2] - tcp[:2]) < 0.01 and abs(hover[2] - tcp[2]) < 0.03:
                self.phase = "descend"
            return action
        if self.phase == "descend":
            low = np.array([behind[0], behind[1], z])
            action, reached = self.move(low, yaw, CLOSE)
            if reached or np.linalg.norm(low - tcp) < 0.01:
                self.phase = "push"
            return action
        if self.phase == "push":
            if lateral > 0.015 or along > -0.012:  # off the line: lift and re-approach
                self.phase = "lift"
                return self.select_action(obs)
            ahead = pos[:2] - d * (radius + self.CONTACT) + d * min(0.03, dist)
            target_pos = np.array([ahead[0], ahead[1], z])
            return self.move(target_pos, yaw, CLOSE)[0]
        # lift: up, then approach again
        action, _ = self.move(np.array([tcp[0], tcp[1], z + HOVER]), yaw, CLOSE)
        if tcp[2] > z + 0.05:
            self.phase = "approach"
        return action


EXPERTS: dict[str, type[ScriptedExpert]] = {
    "pick": PickExpert,
    "place": PlaceExpert,
    "stack": StackExpert,
    "push": PushExpert,
}


def make_expert(env) -> ScriptedExpert:
    """The scripted expert of the env's task family (works for any backend)."""
    own = getattr(env.unwrapped, "make_expert", None)
    if own is not None:  # external suites bring their own experts (sim/metaworld_env.py)
        return own()
    family = env.unwrapped.family
    if env.unwrapped.config.action_space != "eef_delta":
        raise ValueError(
            "the scripted experts emit EEF-delta actions; make the env with "
            f"action_space='eef_delta' (got {env.unwrapped.config.action_space!r})"
        )
    if family not in EXPERTS:
        raise ValueError(f"no scripted expert for family {family!r}; have {list(EXPERTS)}")
    return EXPERTS[family](env)


def expert_episode_actions(
    n_episodes: int, backend: str = "mujoco", seed: int = 0, suite: str = "pick_place"
) -> list[np.ndarray]:
    """Actions of scripted-expert rollouts (no rendering), cycling over the suite's families.

    Only successful episodes are kept (as ``vla data generate`` does), each
    ``(T, ACTION_DIM)`` float32. Attempt ``i`` uses reset seed
    ``seed + i``. For measuring tokenizers on real expert motion without writing a dataset.
    """
    families = list(SUITES[suite])
    envs = {f: make(f, backend, suite=suite, render=False) for f in families}
    episodes: list[np.ndarray] = []
    try:
        for i in range(n_episodes):
            env = envs[families[i % len(families)]]
            expert = make_expert(env)
            obs, _ = env.reset(seed=seed + i)
            expert.reset()
            actions, done, success = [], False, False
            while not done:
                action = np.asarray(expert.select_action(obs), dtype=np.float32)
                actions.append(action)
                obs, _, success, truncated, _ = env.step(action)
                done = success or truncated
            if success:
                episodes.append(np.stack(actions))
    finally:
        for env in envs.values():
            env.close()
    return episodes
