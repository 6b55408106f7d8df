"""Object factories: graspable shapes, containers built from primitives, region patches.

Every object is made of axis-aligned primitives (sim.scene.GeomSpec has no per-geom rotation),
so both engines build them identically. Sizes are in metres; z of a pose is the body origin.
"""

from __future__ import annotations

import math

from sim.scene import COLORS, TABLE_HEIGHT, GeomSpec, ObjectSpec

CUBE_HALF = 0.02  # 4 cm cubes: the open gripper (8 cm) clears them with 2 cm per side
CYLINDER_RADIUS, CYLINDER_HALF_HEIGHT = 0.02, 0.025
OBJECT_MASS = 0.05

BOWL_RADIUS = 0.075  # inner radius of the ring of posts
BOWL_POSTS, BOWL_POST_RADIUS, BOWL_WALL_HALF_HEIGHT = 16, 0.012, 0.018
BIN_HALF = 0.075  # inner half width
BIN_WALL_HALF_THICKNESS, BIN_WALL_HALF_HEIGHT = 0.006, 0.018
BASE_HALF_HEIGHT = 0.004  # floor plate of bowl and bin
PLATE_RADIUS, PLATE_HALF_HEIGHT = 0.075, 0.006
REGION_HALF = 0.06  # square patch

SHAPES = ("cube", "cylinder")  # graspable, stackable (cube) shapes
CONTAINERS = ("bowl", "bin", "plate")
# How far the centre of a graspable object may lie from a container's centre and still be "in"
# it, and each container's support height (the top of its floor) above the table.
CONTAINER_INNER_RADIUS = {"bowl": BOWL_RADIUS - 0.02, "bin": BIN_HALF - 0.02, "plate": 0.06}
CONTAINER_SUPPORT = {"bowl": 2 * BASE_HALF_HEIGHT, "bin": 2 * BASE_HALF_HEIGHT,
                     "plate": 2 * PLATE_HALF_HEIGHT}  # fmt: skip
# Radius of the disc each object keeps free of others when scenes are sampled.
FOOTPRINT = {"cube": 0.035, "cylinder": 0.035, "bowl": 0.105, "bin": 0.12, "plate": 0.09,
             "region": 0.075}  # fmt: skip


def object_name(color: str, category: str) -> str:
    return f"{color}_{category}"


def half_height(category: str) -> float:
    """Half height of a graspable shape (its resting centre height above the support)."""
    return {"cube": CUBE_HALF, "cylinder": CYLINDER_HALF_HEIGHT}[category]


def yaw_quat(yaw: float) -> tuple[float, float, float, float]:
    return (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))


def graspable(category: str, color: str, x: float, y: float, yaw: float = 0.0) -> ObjectSpec:
    """A cube or upright cylinder resting on the table."""
    rgba = COLORS[color]
    if category == "cube":
        geom = GeomSpec("box", (CUBE_HALF,) * 3, rgba)
    elif category == "cylinder":
        geom = GeomSpec("cylinder", (CYLINDER_RADIUS, CYLINDER_HALF_HEIGHT), rgba)
    else:
        raise ValueError(f"unknown graspable category {category!r}; choose from {SHAPES}")
    z = TABLE_HEIGHT + half_height(category)
    return ObjectSpec(object_name(color, category), category, color, (geom,), (x, y, z),
                      quat=yaw_quat(yaw), mass=OBJECT_MASS)  # fmt: skip


def container(category: str, color: str, x: float, y: float) -> ObjectSpec:
    """A container fixed to the table: bowl (disc + ring of posts), bin (square floor + 4
    walls) or plate (flat disc)."""
    rgba = COLORS[color]
    floor = GeomSpec("cylinder", (BOWL_RADIUS + BOWL_POST_RADIUS, BASE_HALF_HEIGHT), rgba,
                     pos=(0.0, 0.0, BASE_HALF_HEIGHT))  # fmt: skip
    wall_z = 2 * BASE_HALF_HEIGHT + BIN_WALL_HALF_HEIGHT
    if category == "bowl":
        r = BOWL_RADIUS + BOWL_POST_RADIUS
        posts = tuple(
            GeomSpec(
                "cylinder",
                (BOWL_POST_RADIUS, BOWL_WALL_HALF_HEIGHT),
                rgba,
                pos=(r * math.cos(a), r * math.sin(a), wall_z),
            )  # fmt: skip
            for a in (2 * math.pi * i / BOWL_POSTS for i in range(BOWL_POSTS))
        )
        geoms = (floor, *posts)
    elif category == "bin":
        t, h = BIN_WALL_HALF_THICKNESS, BIN_WALL_HALF_HEIGHT
        out = BIN_HALF + 2 * t
        geoms = (
            GeomSpec("box", (out, out, BASE_HALF_HEIGHT), rgba, pos=(0.0, 0.0, BASE_HALF_HEIGHT)),
            GeomSpec("box", (t, out, h), rgba, pos=(BIN_HALF + t, 0.0, wall_z)),
            GeomSpec("box", (t, out, h), rgba, pos=(-BIN_HALF - t, 0.0, wall_z)),
            GeomSpec("box", (BIN_HALF, t, h), rgba, pos=(0.0, BIN_HALF + t, wall_z)),
            GeomSpec("box", (BIN_HALF, t, h), rgba, pos=(0.0, -BIN_HALF - t, wall_z)),
        )
    elif category == "plate":
        geoms = (GeomSpec("cylinder", (PLATE_RADIUS, PLATE_HALF_HEIGHT), rgba,
                          pos=(0.0, 0.0, PLATE_HALF_HEIGHT)),)  # fmt: skip
    else:
        raise ValueError(f"unknown container {category!r}; choose from {CONTAINERS}")
    return ObjectSpec(object_name(color, category), category, color, geoms,
                      (x, y, TABLE_HEIGHT), movable=False, mass=0.5)  # fmt: skip


def region(color: str, x: float, y: float, name: str) -> ObjectSpec:
    """A flat, visual-only coloured square on the table (push targets)."""
    geom = GeomSpec("box", (REGION_HALF, REGION_HALF, 0.0005), COLORS[color],
                    pos=(0.0, 0.0, 0.0005), collide=False)  # fmt: skip
    return ObjectSpec(name, "region", color, (geom,), (x, y, TABLE_HEIGHT), movable=False)
