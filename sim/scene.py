"""Backend-agnostic description of a tabletop scene.

A task samples a :class:`SceneSpec` from a seeded RNG; each physics backend builds exactly this
scene. Nothing here imports an engine, so MuJoCo and PyBullet see the same objects, sizes,
colours and initial poses for the same seed.

Frames: world frame == robot base frame. The Panda base sits at the origin, +x points away from
the robot over the table, +z up. The table top is the plane z = TABLE_HEIGHT.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # sim.variation imports this module
    from sim.variation import SceneVariation

TABLE_HEIGHT = 0.0  # table top at the robot base height
TABLE_CENTER = (0.5, 0.0)  # (x, y) of the table centre
TABLE_HALF_EXTENTS = (0.35, 0.45)  # (x, y) half sizes of the table top

# Named colours (RGBA). Keep names lowercase: instructions use them verbatim.
COLORS: dict[str, tuple[float, float, float, float]] = {
    "red": (0.85, 0.12, 0.12, 1.0),
    "green": (0.15, 0.7, 0.2, 1.0),
    "blue": (0.15, 0.3, 0.85, 1.0),
    "yellow": (0.95, 0.85, 0.1, 1.0),
    "purple": (0.55, 0.2, 0.75, 1.0),
    "orange": (0.95, 0.5, 0.1, 1.0),
    "white": (0.92, 0.92, 0.92, 1.0),
    "black": (0.1, 0.1, 0.1, 1.0),
}


@dataclass(frozen=True)
class GeomSpec:
    """One primitive shape, placed relative to its body.

    kind: "box" (size = half extents, 3 values), "cylinder" (size = (radius, half_height)),
    "sphere" (size = (radius,)).
    """

    kind: str
    size: tuple[float, ...]
    rgba: tuple[float, float, float, float]
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    collide: bool = True  # False: visual only (region markers)


@dataclass(frozen=True)
class ObjectSpec:
    """A rigid body on the table.

    name: unique id used by predicates and physics queries (e.g. "red_cube").
    category: "cube", "cylinder", "bowl", "plate", "region" ...
    movable: True -> free joint; False -> fixed to the world (regions, fixed containers).
    pos/quat: initial pose (quat is w, x, y, z).
    """

    name: str
    category: str
    color: str
    geoms: tuple[GeomSpec, ...]
    pos: tuple[float, float, float]
    quat: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)
    movable: bool = True
    mass: float = 0.05


@dataclass(frozen=True)
class CameraSpec:
    """A camera. "scene" is fixed in the world; "wrist" is attached to the hand."""

    name: str
    height: int = 128
    width: int = 128
    fovy: float = 60.0
    # scene camera: eye position and look-at target in the world frame
    eye: tuple[float, float, float] = (1.15, 0.0, 0.55)
    target: tuple[float, float, float] = (0.45, 0.0, 0.0)


@dataclass
class SceneSpec:
    """Everything a backend needs to build one episode's scene."""

    objects: list[ObjectSpec]
    cameras: list[CameraSpec] = field(default_factory=list)
    robot_home: np.ndarray | None = None  # 7 joint angles; None -> backend's home keyframe
    # applied by Physics.build (sim.variation.resolve + the backend); None: the default scene
    variation: SceneVariation | None = None

    def object(self, name: str) -> ObjectSpec:
        for o in self.objects:
            if o.name == name:
                return o
        raise KeyError(f"no object named {name!r}; scene has {[o.name for o in self.objects]}")
