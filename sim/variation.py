"""Scene variation (domain randomisation): camera, light, table/floor look, distractors, physics.

    EnvConfig.variation (fixed)  or  sample_variation(rng([seed, VARIATION_STREAM]), randomize)
        -> SceneVariation --(SceneSpec.variation)--> Physics.build(scene)
            resolve(scene): scene camera moved, distractor objects added, masses scaled (here,
                            engine-free, identical in every backend)
            backend builder: light, table/floor colour and texture, friction

The per-episode variation has its own random stream, so a seed's objects, poses and instruction
are the same with and without variation (paired comparisons rely on it). Every field defaults to
"no change"; an identity variation builds exactly the scene without one. Numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np

from sim.scene import TABLE_HEIGHT, GeomSpec, ObjectSpec, SceneSpec

#: second word of the per-episode variation stream: np.random.default_rng([seed, VARIATION_STREAM])
VARIATION_STREAM = 0x5CE4E
TEXTURES = ("checker", "noise", "stripes")
MAX_DISTRACTORS = 4
DEFAULT_TABLE_RGBA = (0.62, 0.5, 0.38, 1.0)
DEFAULT_FLOOR_RGBA = (0.35, 0.37, 0.4, 1.0)
# Distractors: shapes and colours no task object has ("cube"/"cylinder" in sim.scene.COLORS),
# so they never match an instruction's object and never count in the success predicates.
DISTRACTOR_SHAPES = ("puck", "block")
DISTRACTOR_COLORS: dict[str, tuple[float, float, float, float]] = {
    "pink": (0.95, 0.55, 0.7, 1.0),
    "teal": (0.1, 0.55, 0.55, 1.0),
    "brown": (0.45, 0.3, 0.18, 1.0),
    "grey": (0.55, 0.55, 0.55, 1.0),
}
DISTRACTOR_MASS = 0.02  # light: a brushed distractor slides away instead of blocking the arm
DISTRACTOR_X, DISTRACTOR_Y = (0.3, 0.78), (-0.38, 0.38)  # where distractors may stand
DISTRACTOR_CLEARANCE = 0.06  # free gap (m) to every task object and to every push corridor
# Limits that catch typos (a 5 m camera shift, a light scale of 14) rather than taste.
MAX_SHIFT_M, MAX_ROTATE_DEG = 0.2, 30.0


@dataclass(frozen=True)
class SceneVariation:
    """How one episode's scene differs from the default; every default means "no change".

    camera_shift_m: scene-camera eye offset (x, y, z) in metres; the wrist camera never moves.
    camera_rotate_deg: (yaw, pitch) of the scene camera's view direction, rotating its look-at
        target about the eye (yaw about world z, positive pitch looks up).
    light_scale: multiplies every light's diffuse and ambient; light_rgb: per-channel tint.
    light_shift_m: offset of the overhead light's position (it keeps aiming at the table centre).
    table_rgba / floor_rgba: None keeps the default colour.
    table_texture: None or one of TEXTURES, drawn from `seed` in the table's colour.
    distractors: extra light movable objects (DISTRACTOR_SHAPES x DISTRACTOR_COLORS) placed
        away from the task's objects; the same `seed` gives the same layout for the same scene.
    friction_scale: multiplies the table's and the objects' friction (finger pads keep theirs).
    mass_scale: multiplies every movable object's mass.
    seed: draws the texture pattern and the distractor layout.
    """

    camera_shift_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    camera_rotate_deg: tuple[float, float] = (0.0, 0.0)
    light_scale: float = 1.0
    light_rgb: tuple[float, float, float] = (1.0, 1.0, 1.0)
    light_shift_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    table_rgba: tuple[float, float, float, float] | None = None
    floor_rgba: tuple[float, float, float, float] | None = None
    table_texture: str | None = None
    distractors: int = 0
    friction_scale: float = 1.0
    mass_scale: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        self.validate()
        for f in fields(self):  # lists and numpy scalars -> tuples of floats: equality, hashing
            v = getattr(self, f.name)
            if isinstance(v, (tuple, list)):
                object.__setattr__(self, f.name, tuple(float(x) for x in v))

    def validate(self) -> None:
        """Raise ValueError naming the field and the accepted range."""
        _vec("camera_shift_m", self.camera_shift_m, 3, -MAX_SHIFT_M, MAX_SHIFT_M, "metres")
        _vec("camera_rotate_deg", self.camera_rotate_deg, 2, -MAX_ROTATE_DEG, MAX_ROTATE_DEG,
             "degrees (yaw, pitch)")  # fmt: skip
        _vec("light_shift_m", self.light_shift_m, 3, -1.0, 1.0, "metres")
        _vec("light_rgb", self.light_rgb, 3, 0.0, 2.0, "per-channel factors (1 = white)")
        _scalar("light_scale", self.light_scale, 0.05, 3.0)
        _scalar("friction_scale", self.friction_scale, 0.1, 5.0)
        _scalar("mass_scale", self.mass_scale, 0.1, 10.0)
        for name in ("table_rgba", "floor_rgba"):
            if getattr(self, name) is not None:
                _vec(name, getattr(self, name), 4, 0.0, 1.0, "RGBA in [0, 1], or None")
        if self.table_texture is not None and self.table_texture not in TEXTURES:
            raise ValueError(f"table_texture must be None or one of {TEXTURES}, got "
                             f"{self.table_texture!r}")  # fmt: skip
        if not _is_int(self.distractors) or not 0 <= self.distractors <= MAX_DISTRACTORS:
            raise ValueError(f"distractors must be an int in [0, {MAX_DISTRACTORS}], got "
                             f"{self.distractors!r}")  # fmt: skip
        if not _is_int(self.seed) or self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")

    def changed(self) -> list[str]:
        """Names of the fields that differ from the identity (seed aside)."""
        return [f.name for f in fields(self)
                if f.name != "seed" and getattr(self, f.name) != f.default]  # fmt: skip

    @property
    def is_identity(self) -> bool:
        return not self.changed()


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _scalar(name: str, v, lo: float, hi: float) -> None:
    if not isinstance(v, (int, float, np.number)) or not (lo <= float(v) <= hi):
        raise ValueError(f"{name} must be a number in [{lo}, {hi}] (1.0 = no change), got {v!r}")


def _vec(name: str, v, n: int, lo: float, hi: float, unit: str) -> None:
    ok = isinstance(v, (tuple, list)) and len(v) == n
    ok = ok and all(isinstance(x, (int, float, np.number)) and lo <= float(x) <= hi for x in v)
    if not ok:
        raise ValueError(f"{name} must be a tuple of {n} numbers in [{lo}, {hi}] ({unit}), "
                         f"got {v!r}")  # fmt: skip


def sample_variation(rng: np.random.Generator, strength: float) -> SceneVariation:
    """A random variation; strength 0 is the identity, 1 the default training range (camera
    +-3 cm and +-4 deg, light x0.6..1.4 with a +-10% tint, random muted table/floor colours, a
    texture half the time, 0-2 distractors, friction x0.8..1.2, mass x0.8..1.25); up to 2."""
    if not isinstance(strength, (int, float)) or not 0.0 <= strength <= 2.0:
        raise ValueError(f"strength (--randomize) must be in [0, 2] (0 = off, 1 = the default "
                         f"training range), got {strength!r}")  # fmt: skip
    if strength == 0:
        return SceneVariation()
    s = float(strength)

    def u(n: int | None = None):
        return rng.uniform(-1.0, 1.0, n)

    shift = tuple(float(v) for v in u(3) * 0.03 * s)
    rotate = tuple(float(v) for v in u(2) * 4.0 * s)
    light_scale = float(1.0 + 0.4 * s * u())
    light_rgb = tuple(float(v) for v in 1.0 + 0.1 * s * u(3))
    light_shift = tuple(float(v) for v in u(3) * np.array([0.3, 0.3, 0.2]) * s)
    table = _muted(rng, DEFAULT_TABLE_RGBA, s) if rng.random() < min(s, 1.0) else None
    floor = _muted(rng, DEFAULT_FLOOR_RGBA, s) if rng.random() < min(s, 1.0) else None
    texture = TEXTURES[int(rng.integers(len(TEXTURES)))] if rng.random() < 0.5 * min(s, 1) else None
    distractors = int(rng.integers(0, min(MAX_DISTRACTORS, round(2 * s)) + 1))
    friction = float(1.0 + 0.2 * s * u())
    mass = float(np.exp(s * rng.uniform(np.log(0.8), np.log(1.25))))
    return SceneVariation(shift, rotate, light_scale, light_rgb, light_shift, table, floor,
                          texture, distractors, friction, mass,
                          int(rng.integers(2**31 - 1)))  # fmt: skip


def _muted(rng: np.random.Generator, default, s: float) -> tuple[float, float, float, float]:
    """A low-saturation colour (never one of the task's bright named colours), blended from
    `default` by strength s."""
    rgb = rng.uniform(0.2, 0.85, 3)
    rgb = 0.5 * rgb + 0.5 * rgb.mean()  # halve the saturation
    w = min(s, 1.0)
    mixed = (1 - w) * np.asarray(default[:3]) + w * rgb
    return (*(float(v) for v in mixed), 1.0)


def variation_for_episode(seed: int, randomize: float, fixed: SceneVariation | None):
    """The variation of episode `seed`: `fixed` if given, else a draw of strength `randomize` from
    the episode's own variation stream (None when neither applies)."""
    if fixed is not None:
        return fixed
    if randomize > 0:
        return sample_variation(np.random.default_rng([int(seed), VARIATION_STREAM]), randomize)
    return None


# ---- applied at build: the engine-free part ---------------------------------------------------
def resolve(scene: SceneSpec) -> SceneSpec:
    """The scene with its variation's geometric part applied: scene camera moved, distractors
    added, movable masses scaled. Backends call this first, then apply light, colours, texture and
    friction from ``scene.variation``. No variation (or the identity): the scene itself."""
    v = scene.variation
    if v is None or v.is_identity:
        return scene
    objects = list(scene.objects) + distractor_objects(scene, v)
    if v.mass_scale != 1.0:
        objects = [replace(o, mass=o.mass * v.mass_scale) if o.movable else o for o in objects]
    cameras = [_moved_camera(c, v) if c.name == "scene" else c for c in scene.cameras]
    return replace(scene, objects=objects, cameras=cameras)


def _moved_camera(cam, v: SceneVariation):
    if v.camera_shift_m == (0.0, 0.0, 0.0) and v.camera_rotate_deg == (0.0, 0.0):
        return cam
    eye = np.asarray(cam.eye, float) + np.asarray(v.camera_shift_m, float)
    view = np.asarray(cam.target, float) - np.asarray(cam.eye, float)  # target moves with eye
    yaw, pitch = (math.radians(a) for a in v.camera_rotate_deg)
    c, s = math.cos(yaw), math.sin(yaw)
    view = np.array([c * view[0] - s * view[1], s * view[0] + c * view[1], view[2]])
    right = np.cross(view, (0.0, 0.0, 1.0))
    view = _rotate(view, right / np.linalg.norm(right), pitch)  # right-hand: + pitch looks up
    return replace(cam, eye=tuple(float(x) for x in eye),
                   target=tuple(float(x) for x in eye + view))  # fmt: skip


def _rotate(vec: np.ndarray, axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues' rotation of `vec` about the unit `axis`."""
    c, s = math.cos(angle), math.sin(angle)
    return vec * c + np.cross(axis, vec) * s + axis * np.dot(axis, vec) * (1 - c)


def footprint(obj: ObjectSpec) -> float:
    """Radius (m) of the disc around the body origin that the object's geoms cover."""
    r = 0.0
    for g in obj.geoms:
        extent = math.hypot(*g.size[:2]) if g.kind == "box" else g.size[0]
        r = max(r, math.hypot(*g.pos[:2]) + extent)
    return r


def distractor_objects(scene: SceneSpec, v: SceneVariation) -> list[ObjectSpec]:
    """Up to ``v.distractors`` distractor objects clear of every scene object and of the strip
    between each movable object and each fixed one (push corridors, carry paths), drawn from
    ``v.seed``. On a table with no room left fewer are placed (the same number for the same
    scene and seed)."""
    rng = np.random.default_rng([v.seed, 1])
    taken = [(o.pos[0], o.pos[1], footprint(o)) for o in scene.objects]
    movable = [np.asarray(o.pos[:2]) for o in scene.objects if o.movable]
    fixed = [np.asarray(o.pos[:2]) for o in scene.objects if not o.movable]
    corridors = [(a, b) for a in movable for b in fixed]
    out = []
    for i in range(v.distractors):
        shape = DISTRACTOR_SHAPES[int(rng.integers(len(DISTRACTOR_SHAPES)))]
        color = list(DISTRACTOR_COLORS)[int(rng.integers(len(DISTRACTOR_COLORS)))]
        obj = _distractor(f"distractor_{i}", shape, color, 0.0, 0.0, rng.uniform(-np.pi, np.pi))
        r = footprint(obj)
        for _ in range(300):
            x, y = rng.uniform(*DISTRACTOR_X), rng.uniform(*DISTRACTOR_Y)
            if _clear(x, y, r, taken, corridors):
                taken.append((x, y, r))
                out.append(replace(obj, pos=(float(x), float(y), obj.pos[2])))
                break
    return out


def _clear(x, y, r, taken, corridors) -> bool:
    if any(math.hypot(x - tx, y - ty) < r + tr + DISTRACTOR_CLEARANCE for tx, ty, tr in taken):
        return False
    p = np.array([x, y])
    for a, b in corridors:
        ab = b - a
        t = float(np.clip(np.dot(p - a, ab) / max(np.dot(ab, ab), 1e-9), 0.0, 1.0))
        if np.linalg.norm(p - (a + t * ab)) < r + 0.04 + DISTRACTOR_CLEARANCE:
            return False
    return True


def _distractor(name, shape, color, x, y, yaw) -> ObjectSpec:
    rgba = DISTRACTOR_COLORS[color]
    if shape == "puck":
        geom, half_h = GeomSpec("cylinder", (0.024, 0.008), rgba), 0.008
    else:  # a low block
        geom, half_h = GeomSpec("box", (0.03, 0.016, 0.012), rgba), 0.012
    quat = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
    return ObjectSpec(name, "distractor", color, (geom,), (x, y, TABLE_HEIGHT + half_h), quat,
                      movable=True, mass=DISTRACTOR_MASS)  # fmt: skip


# ---- helpers both backends use --------------------------------------------------------------
def light_factors(v: SceneVariation) -> np.ndarray:
    """(3,) per-channel multiplier of every light's diffuse and ambient."""
    return v.light_scale * np.asarray(v.light_rgb, float)


def texture_image(v: SceneVariation, base_rgba, size: int = 64) -> np.ndarray:
    """uint8 (size, size, 3) pattern ``v.table_texture`` in shades of `base_rgba`, from v.seed."""
    rng = np.random.default_rng([v.seed, 2])
    base = np.asarray(base_rgba[:3], float)
    other = np.clip(base * rng.uniform(0.55, 0.8) + rng.uniform(-0.05, 0.05, 3), 0.0, 1.0)
    yy, xx = np.mgrid[0:size, 0:size]
    if v.table_texture == "checker":
        cell = int(rng.choice([4, 8, 16]))
        w = ((yy // cell + xx // cell) % 2).astype(float)
    elif v.table_texture == "stripes":
        period = int(rng.choice([4, 8]))
        w = ((xx // period) % 2).astype(float)
    else:  # "noise": smooth value noise, an 8x8 grid of random values upsampled
        grid = rng.random((9, 9))
        g = np.linspace(0, 8, size, endpoint=False)
        i, f = g.astype(int), g - g.astype(int)
        rows = grid[i] * (1 - f)[:, None] + grid[i + 1] * f[:, None]
        w = rows[:, i] * (1 - f)[None] + rows[:, i + 1] * f[None]
    img = (1 - w)[..., None] * base + w[..., None] * other
    return np.round(img * 255).astype(np.uint8)
