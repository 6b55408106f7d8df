"""The `pick_place` suite: pick, place (in/on a container), stack, push (to a named region).

Every episode: a target, a goal (container / base cube / region), 1-3 distractor objects (plus a
distractor container or region where it applies), random positions and yaws, one instruction
generated from the sampled scene. Success predicates read only Physics queries.
"""

from __future__ import annotations

import numpy as np

from sim.physics.base import Physics
from sim.scene import COLORS, TABLE_HEIGHT, CameraSpec, ObjectSpec, SceneSpec
from sim.tasks import objects as ob
from sim.tasks.base import SPLITS, Episode, Task
from sim.tasks.language import HELDOUT_OBJECTS, describe, instruction

OBJ_X, OBJ_Y = (0.38, 0.64), (-0.2, 0.2)  # where graspable objects are sampled
CONT_X, CONT_Y = (0.42, 0.62), (0.06, 0.2)  # containers: one on each side (y sign random)
LIFT_HEIGHT = 0.05  # pick: lifted this far above the resting height
HOLD_DISTANCE = 0.04  # pick: object centre this close to the TCP counts as held
# Scene camera: in front of the table, looking back at the robot (the same in every engine).
SCENE_EYE, SCENE_TARGET, SCENE_FOVY = (1.05, 0.0, 0.62), (0.42, 0.0, 0.04), 55.0
# Push regions: named by where they lie as seen from the robot ("left" = robot's left, +y).
REGION_SITES: dict[str, tuple[float, float]] = {
    "left": (0.52, 0.2), "right": (0.52, -0.2), "front": (0.64, 0.0), "back": (0.38, 0.0),
}  # fmt: skip
# Direction (unit xy) in which a push towards each region goes.
PUSH_DIRECTION = {"left": (0.0, 1.0), "right": (0.0, -1.0), "front": (1.0, 0.0),
                  "back": (-1.0, 0.0)}  # fmt: skip


def _pairs(split: str, shapes=ob.SHAPES, heldout: bool = False) -> list[tuple[str, str]]:
    pairs = [(c, s) for s in shapes for c in COLORS]
    if heldout:
        return [p for p in pairs if p in HELDOUT_OBJECTS]
    return [p for p in pairs if p not in HELDOUT_OBJECTS]


class LayoutFull(RuntimeError):
    """A scene's earlier objects left no free spot for the next one."""


# fresh layouts drawn (from the same stream) before a scene is declared unplaceable
SCENE_TRIES = 20


class _Layout:
    """Rejection sampler of non-overlapping footprints on the table."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.taken: list[tuple[float, float, float]] = []  # x, y, radius

    def free(self, x: float, y: float, r: float) -> bool:
        return all(np.hypot(x - tx, y - ty) >= r + tr for tx, ty, tr in self.taken)

    def add(self, x: float, y: float, r: float) -> tuple[float, float]:
        self.taken.append((x, y, r))
        return x, y

    def sample(self, r: float, xr=OBJ_X, yr=OBJ_Y, avoid=lambda x, y: False) -> tuple[float, float]:
        for _ in range(2000):
            x, y = self.rng.uniform(*xr), self.rng.uniform(*yr)
            if self.free(x, y, r) and not avoid(x, y):
                return self.add(x, y, r)
        raise LayoutFull("could not place an object without overlap; loosen the layout")


class PickPlaceTask(Task):
    """Shared sampling for the four families; subclasses add the goal and the predicate."""

    family = ""
    max_steps = 100
    target_shapes: tuple[str, ...] = ob.SHAPES

    def sample_episode(self, rng, split="train", image_size=(128, 128)) -> Episode:
        """Draw a scene; one whose layout runs out of room (about 1 in 14,000 attempts) is
        redrawn from where the stream stands, so every seed gives an episode and seeds that
        never ran out draw what they always drew."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose from {SPLITS}")
        for _ in range(SCENE_TRIES - 1):
            try:
                return self._sample_scene(rng, split, image_size)
            except LayoutFull:
                continue
        return self._sample_scene(rng, split, image_size)

    def _sample_scene(self, rng, split, image_size) -> Episode:
        heldout_obj = split in ("heldout", "heldout_object")
        heldout_phr = split in ("heldout", "heldout_phrasing")
        color, shape = _choice(rng, _pairs(split, self.target_shapes, heldout=heldout_obj))
        layout = _Layout(rng)
        cams = [
            CameraSpec("scene", image_size[0], image_size[1], SCENE_FOVY, SCENE_EYE, SCENE_TARGET),
            CameraSpec("wrist", image_size[0], image_size[1]),
        ]
        objs, goal, slots, avoid = self.sample_goal(rng, layout, color, shape)
        used = {(o.color, o.category) for o in objs if o.category in ob.SHAPES}
        n_distractors = int(rng.integers(1, 4))
        for dc, ds in _distinct(rng, _pairs(split), used, n_distractors):
            x, y = layout.sample(ob.FOOTPRINT[ds], avoid=avoid)
            objs.append(ob.graspable(ds, dc, x, y, rng.uniform(-np.pi / 4, np.pi / 4)))
        target = ob.object_name(color, shape)
        text = instruction(self.family, rng, heldout_phr, obj=describe(color, shape), **slots)
        rest_z = TABLE_HEIGHT + ob.half_height(shape)
        return Episode(self.family, SceneSpec(objs, cams), text, target, goal, rest_z,
                       split, heldout_obj, heldout_phr)  # fmt: skip

    def sample_goal(self, rng, layout, color, shape):
        """(objects incl. the target, goal name, template slots, distractor keep-out test)."""
        raise NotImplementedError

    def solved_state(self, physics: Physics, episode: Episode) -> None:
        """Teleport objects (and the arm) into a state where the goal holds (for tests)."""
        raise NotImplementedError

    @staticmethod
    def _target(rng, layout, color, shape, **kw) -> ObjectSpec:
        x, y = layout.sample(ob.FOOTPRINT[shape], **kw)
        return ob.graspable(shape, color, x, y, rng.uniform(-np.pi / 4, np.pi / 4))


def _choice(rng, items):
    return items[int(rng.integers(len(items)))]


def _distinct(rng, pairs, used, n):
    pool = [p for p in pairs if p not in used]
    idx = rng.permutation(len(pool))[:n]
    return [pool[i] for i in idx]


def _released(physics: Physics, name: str) -> bool:
    return not any(physics.finger_contacts(name))


class PickTask(PickPlaceTask):
    """Pick up the target: lifted LIFT_HEIGHT above its rest height and held near the TCP."""

    family, max_steps = "pick", 80

    def sample_goal(self, rng, layout, color, shape):
        return [self._target(rng, layout, color, shape)], None, {}, lambda x, y: False

    def success(self, physics, episode):
        pos, _ = physics.object_pose(episode.target)
        tcp, _ = physics.ee_pose()
        lifted = pos[2] - episode.target_rest_z > LIFT_HEIGHT
        return bool(lifted and np.linalg.norm(pos - tcp) < HOLD_DISTANCE)

    def solved_state(self, physics, episode):
        tcp, _ = physics.ee_pose()  # the home TCP is ~0.49 m above the table
        physics.set_object_pose(episode.target, tcp)


class PlaceTask(PickPlaceTask):
    """Put the target in a bowl/bin or on a plate, released and resting."""

    family, max_steps = "place", 120

    def sample_goal(self, rng, layout, color, shape):
        kinds = list(ob.CONTAINERS)
        kind = _choice(rng, kinds)
        other = _choice(rng, [k for k in kinds if k != kind])
        ccol, ocol = (list(COLORS)[i] for i in rng.permutation(len(COLORS))[:2])
        objs = []
        side = 1.0 if rng.random() < 0.5 else -1.0
        for k, c, sgn in ((kind, ccol, side), (other, ocol, -side)):
            x, y = layout.sample(ob.FOOTPRINT[k], CONT_X, tuple(sorted(sgn * v for v in CONT_Y)))
            objs.append(ob.container(k, c, x, y))
        objs.insert(0, self._target(rng, layout, color, shape))
        prep = "on" if kind == "plate" else "in"
        slots = {"goal": describe(ccol, kind), "prep": prep}
        return objs, ob.object_name(ccol, kind), slots, lambda x, y: False

    def success(self, physics, episode):
        kind = episode.scene.object(episode.goal).category
        shape = episode.scene.object(episode.target).category
        pos, _ = physics.object_pose(episode.target)
        cpos, _ = physics.object_pose(episode.goal)
        inside = np.hypot(*(pos[:2] - cpos[:2])) < ob.CONTAINER_INNER_RADIUS[kind]
        top = cpos[2] + ob.CONTAINER_SUPPORT[kind] + ob.half_height(shape)
        resting = pos[2] < top + 0.015
        return bool(inside and resting and _released(physics, episode.target))

    def solved_state(self, physics, episode):
        kind = episode.scene.object(episode.goal).category
        shape = episode.scene.object(episode.target).category
        cpos, _ = physics.object_pose(episode.goal)
        z = cpos[2] + ob.CONTAINER_SUPPORT[kind] + ob.half_height(shape)
        physics.set_object_pose(episode.target, np.array([cpos[0], cpos[1], z]))


class StackTask(PickPlaceTask):
    """Stack the target cube on another cube, released."""

    family, max_steps = "stack", 120
    target_shapes = ("cube",)

    def sample_goal(self, rng, layout, color, shape):
        base_color = _choice(rng, [c for c, s in _pairs("train", ("cube",)) if c != color])
        top = self._target(rng, layout, color, shape)
        base = self._target(rng, layout, base_color, "cube")
        slots = {"goal": describe(base_color, "cube")}
        return [top, base], base.name, slots, lambda x, y: False

    def success(self, physics, episode):
        pos, _ = physics.object_pose(episode.target)
        bpos, _ = physics.object_pose(episode.goal)
        aligned = np.hypot(*(pos[:2] - bpos[:2])) < ob.CUBE_HALF
        on_top = abs(pos[2] - bpos[2] - 2 * ob.CUBE_HALF) < 0.01
        return bool(aligned and on_top and _released(physics, episode.target))

    def solved_state(self, physics, episode):
        bpos, bquat = physics.object_pose(episode.goal)
        physics.set_object_pose(episode.target, bpos + [0.0, 0.0, 2 * ob.CUBE_HALF], bquat)


class PushTask(PickPlaceTask):
    """Push the target (sliding on the table) into a named region."""

    family, max_steps = "push", 120

    def sample_goal(self, rng, layout, color, shape):
        sites = list(REGION_SITES)
        site = _choice(rng, sites)
        other = _choice(rng, [s for s in sites if s != site])
        rcol, ocol = (list(COLORS)[i] for i in rng.permutation(len(COLORS))[:2])
        goal_name, other_name = f"{rcol}_region", f"{ocol}_region"
        objs = []
        for s, c, n in ((site, rcol, goal_name), (other, ocol, other_name)):
            x, y = REGION_SITES[s]
            layout.add(x, y, ob.FOOTPRINT["region"])
            objs.append(ob.region(c, x, y, n))
        gx, gy = REGION_SITES[site]
        dx, dy = PUSH_DIRECTION[site]
        dist, lateral = rng.uniform(0.13, 0.18), rng.uniform(-0.03, 0.03)
        sx, sy = gx - dx * dist - dy * lateral, gy - dy * dist + dx * lateral
        layout.add(sx, sy, ob.FOOTPRINT[shape])
        objs.insert(0, ob.graspable(shape, color, sx, sy, rng.uniform(-np.pi / 4, np.pi / 4)))
        # Distractors stay clear of the corridor the hand and the object sweep.
        a = np.array([sx - dx * 0.08, sy - dy * 0.08])
        b = np.array([gx, gy])

        def in_corridor(x, y):
            p = np.array([x, y])
            t = np.clip(np.dot(p - a, b - a) / np.dot(b - a, b - a), 0.0, 1.0)
            return bool(np.linalg.norm(p - (a + t * (b - a))) < 0.08)

        name = f"{rcol} zone" if rng.random() < 0.5 else f"{site} area"
        return objs, goal_name, {"goal": name}, in_corridor

    def success(self, physics, episode):
        pos, _ = physics.object_pose(episode.target)
        rpos, _ = physics.object_pose(episode.goal)
        inside = np.all(np.abs(pos[:2] - rpos[:2]) < ob.REGION_HALF)
        on_table = pos[2] < episode.target_rest_z + 0.01
        return bool(inside and on_table)

    def solved_state(self, physics, episode):
        rpos, _ = physics.object_pose(episode.goal)
        physics.set_object_pose(episode.target, np.array([rpos[0], rpos[1],
                                                          episode.target_rest_z]))  # fmt: skip


PICK_PLACE: dict[str, PickPlaceTask] = {
    "pick": PickTask(),
    "place": PlaceTask(),
    "stack": StackTask(),
    "push": PushTask(),
}


# ---- what went wrong: outcome of a finished episode, for failure analysis ---------------------
MOVED = 0.02  # an object counts as handled when it ends this far (m) from where it started
NEAR_GOAL = 0.08  # place/stack: the target ended this close (m, in xy) to a goal candidate
OUTCOMES = (
    "success", "wrong_object", "goal_moved", "not_released", "wrong_goal", "target_moved",
    "nothing_moved",
)  # fmt: skip


def episode_outcome(physics: Physics, episode: Episode, success: bool) -> tuple[str, dict]:
    """Classify a finished pick_place episode from the final object poses.

    ``wrong_object``: a graspable object the instruction did not name moved farthest (over
    MOVED), i.e. the policy acted on a distractor; ``goal_moved`` (stack): the named base cube
    moved farthest, i.e. the policy grasped or pushed the cube it should stack onto, the two
    named cubes' roles confused (counted as ``wrong_object`` before 2026-12-06);
    ``not_released`` (place, stack): the target moved farthest and ends between both fingers,
    carried but never set down (counted as ``target_moved`` before 2026-12-06);
    ``wrong_goal`` (place, stack): the target was taken to another container
    / cube than the named goal (it ends within NEAR_GOAL of one, nearer to it than to the goal);
    ``target_moved``: the target moved farthest but the goal was not reached otherwise (a missed
    grasp, a drop, a bad placement); ``nothing_moved``: no graspable object moved MOVED.
    Returns (outcome, {object name: displacement in m}).
    """
    moved = {}
    for obj in episode.scene.objects:
        if obj.category in ob.SHAPES:
            pos, _ = physics.object_pose(obj.name)
            moved[obj.name] = float(np.linalg.norm(np.asarray(pos) - np.asarray(obj.pos)))
    if success:
        return "success", moved
    top = max(moved, key=moved.get)
    if moved[top] < MOVED:
        return "nothing_moved", moved
    if top != episode.target:
        return ("goal_moved" if top == episode.goal else "wrong_object"), moved
    if episode.family in ("place", "stack"):
        if all(physics.finger_contacts(episode.target)):
            return "not_released", moved
        goal_kinds = ob.CONTAINERS if episode.family == "place" else ("cube",)
        here = np.asarray(physics.object_pose(episode.target)[0][:2])
        dist = {o.name: float(np.linalg.norm(np.asarray(physics.object_pose(o.name)[0][:2]) - here))
                for o in episode.scene.objects
                if o.category in goal_kinds and o.name != episode.target}  # fmt: skip
        nearest = min(dist, key=dist.get)
        if nearest != episode.goal and dist[nearest] < NEAR_GOAL:
            return "wrong_goal", moved
    return "target_moved", moved
