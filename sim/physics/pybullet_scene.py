"""Build a :class:`~sim.scene.SceneSpec` in PyBullet from primitive shapes.

Every object becomes one rigid multibody made of the spec's primitives: a single shape for a
cube or cylinder, a compound shape for a container (bowl walls, plate rim), a visual-only body
for a region marker. Sizes, colours, masses and initial poses are exactly those of the spec, so
the scene matches the MuJoCo one built from the same spec.

Quaternions: the spec (and the Physics API) use (w, x, y, z); PyBullet uses (x, y, z, w).
Convert only through :func:`wxyz_to_xyzw` / :func:`xyzw_to_wxyz`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from pybullet_utils.bullet_client import BulletClient

from sim.physics.pybullet_mesh import merged_mesh
from sim.scene import TABLE_CENTER, TABLE_HALF_EXTENTS, TABLE_HEIGHT, GeomSpec, ObjectSpec

# Table slab and floor (purely scenery: only the table top matters to the tasks). Sizes and
# colours are those of the MuJoCo model (sim/robot/panda_mujoco.py) so images look alike.
TABLE_HALF_THICKNESS = 0.02
TABLE_RGBA = (0.62, 0.5, 0.38, 1.0)
FLOOR_Z = TABLE_HEIGHT - 0.75
FLOOR_RGBA = (0.35, 0.37, 0.4, 1.0)
# MuJoCo renders empty space black (no skybox); TinyRenderer clears to white. A black,
# visual-only backdrop past the floor's far edge makes the scene camera's horizon match.
BACKDROP_HALF = (0.01, 8.0, 4.0)
BACKDROP_X = -3.0


Friction = tuple[float, float, float]  # (lateral, spinning, rolling) of one contact pair


@dataclass(frozen=True)
class ContactConfig:
    """Friction of each kind of contact pair, the same values as the MuJoCo model's.

    MuJoCo picks a pair's friction by geom priority; Bullet combines the two bodies'
    coefficients (lateral: f0 * f1; spinning and rolling: s0 * f1 + s1 * f0). So the pairs are
    given here and per-body coefficients are solved from them (:meth:`body_friction`), which
    reproduces every listed pair exactly.

    object_pair: object on object (also fixes the objects' own coefficients).
    table_pair: object on the table (low, so pushed objects slide instead of tipping).
    finger_pair: object in the fingers (high, so grasps hold).
    """

    object_pair: Friction = (1.0, 0.005, 0.0001)
    table_pair: Friction = (0.4, 0.005, 0.0001)
    finger_pair: Friction = (1.5, 0.01, 0.0001)
    restitution: float = 0.0

    def __post_init__(self) -> None:
        for kind in ("object", "table", "finger"):
            self.body_friction(kind)  # raises when a pair cannot be reproduced

    def body_friction(self, kind: str) -> Friction:
        """Per-body (lateral, spinning, rolling) of "object", "table" or "finger" bodies."""
        lat_o = self.object_pair[0] ** 0.5
        spin_o, roll_o = self.object_pair[1] / (2 * lat_o), self.object_pair[2] / (2 * lat_o)
        if kind == "object":
            return lat_o, spin_o, roll_o
        pairs = {"table": self.table_pair, "finger": self.finger_pair}
        if kind not in pairs:
            raise ValueError(f"unknown body kind {kind!r}; valid: object, table, finger")
        lat, spin, roll = pairs[kind]
        body = (lat / lat_o, (spin - spin_o * lat / lat_o) / lat_o,
                (roll - roll_o * lat / lat_o) / lat_o)  # fmt: skip
        if min(self.object_pair) < 0 or body[0] <= 0 or body[1] < 0 or body[2] < 0:
            raise ValueError(
                f"ContactConfig.{kind}_pair={pairs[kind]} cannot be reproduced with "
                f"object_pair={self.object_pair} under Bullet's combination rules; raise its "
                "spinning/rolling values or lower the object pair's"
            )
        return body


def wxyz_to_xyzw(q) -> list[float]:
    """(w, x, y, z) -> PyBullet's (x, y, z, w)."""
    w, x, y, z = (float(v) for v in q)
    return [x, y, z, w]


def xyzw_to_wxyz(q) -> np.ndarray:
    """PyBullet's (x, y, z, w) -> (w, x, y, z)."""
    x, y, z, w = q
    return np.array([w, x, y, z], dtype=np.float64)


_SHAPE_KINDS = ("box", "cylinder", "sphere")


def _shape_kwargs(bc: BulletClient, geom: GeomSpec) -> dict:
    """createCollisionShape/createVisualShape arguments for one primitive."""
    if geom.kind == "box":
        if len(geom.size) != 3:
            raise ValueError(f"box geom needs 3 half extents, got size={geom.size}")
        return {"shapeType": bc.GEOM_BOX, "halfExtents": list(geom.size)}
    if geom.kind == "cylinder":
        if len(geom.size) != 2:
            raise ValueError(f"cylinder geom needs (radius, half_height), got size={geom.size}")
        radius, half_height = geom.size
        # PyBullet cylinders take the full length (MuJoCo takes the half height).
        return {"shapeType": bc.GEOM_CYLINDER, "radius": radius, "height": 2 * half_height}
    if geom.kind == "sphere":
        if len(geom.size) != 1:
            raise ValueError(f"sphere geom needs (radius,), got size={geom.size}")
        return {"shapeType": bc.GEOM_SPHERE, "radius": geom.size[0]}
    raise ValueError(f"unknown geom kind {geom.kind!r}; valid kinds: {_SHAPE_KINDS}")


def _collision_shape(bc: BulletClient, geoms: tuple[GeomSpec, ...]) -> int:
    """One collision shape for the colliding geoms (compound when several), -1 when none."""
    colliding = [g for g in geoms if g.collide]
    if not colliding:
        return -1
    if len(colliding) == 1:
        kw = _shape_kwargs(bc, colliding[0])
        return bc.createCollisionShape(**kw, collisionFramePosition=list(colliding[0].pos))
    kws = [_shape_kwargs(bc, g) for g in colliding]
    # createCollisionShapeArray wants one list per argument; `lengths` is the cylinder length.
    return bc.createCollisionShapeArray(
        shapeTypes=[k["shapeType"] for k in kws],
        radii=[k.get("radius", 0.0) for k in kws],
        halfExtents=[k.get("halfExtents", [0.0, 0.0, 0.0]) for k in kws],
        lengths=[k.get("height", 0.0) for k in kws],
        collisionFramePositions=[list(g.pos) for g in colliding],
    )


def _visual_shape(bc: BulletClient, geoms: tuple[GeomSpec, ...], meshes: bool) -> int:
    """One visual shape for all geoms (colliding or not).

    With `meshes`, single-coloured bodies (every object the tasks make) get one flat-shaded
    mesh (see pybullet_mesh); otherwise, and for bodies with several colours, PyBullet's
    primitives are used, coloured per shape by the caller. (The eglRenderer plugin cannot draw
    meshes given as vertex data, so the EGL path uses primitives.)
    """
    if meshes and len({g.rgba for g in geoms}) == 1:
        verts, norms, tris = merged_mesh(geoms)
        return bc.createVisualShape(
            bc.GEOM_MESH,
            vertices=verts.tolist(),
            indices=tris.ravel().tolist(),
            normals=norms.tolist(),
            rgbaColor=list(geoms[0].rgba),
        )
    kws = [_shape_kwargs(bc, g) for g in geoms]
    return bc.createVisualShapeArray(
        shapeTypes=[k["shapeType"] for k in kws],
        radii=[k.get("radius", 0.0) for k in kws],
        halfExtents=[k.get("halfExtents", [0.0, 0.0, 0.0]) for k in kws],
        lengths=[k.get("height", 0.0) for k in kws],
        visualFramePositions=[list(g.pos) for g in geoms],
    )


def set_friction(
    bc: BulletClient, body: int, link: int, friction: Friction, restitution: float = 0.0
) -> None:
    """Set one link's (lateral, spinning, rolling) friction coefficients and restitution."""
    lateral, spinning, rolling = friction
    bc.changeDynamics(body, link, lateralFriction=lateral, spinningFriction=spinning,
                      rollingFriction=rolling, restitution=restitution)  # fmt: skip


def add_object(
    bc: BulletClient, obj: ObjectSpec, contact: ContactConfig, meshes: bool = True
) -> int:
    """Create one spec object; returns its PyBullet body id.

    The body's inertial frame is its body frame, so getBasePositionAndOrientation reports the
    spec's body frame (the pose tasks reason about), not a shifted centre of mass.
    """
    if not obj.geoms:
        raise ValueError(f"object {obj.name!r} has no geoms; give it at least one GeomSpec")
    if obj.movable and obj.mass <= 0:
        raise ValueError(f"movable object {obj.name!r} needs mass > 0 (got {obj.mass})")
    col = _collision_shape(bc, obj.geoms)
    vis = _visual_shape(bc, obj.geoms, meshes)
    body = bc.createMultiBody(
        baseMass=obj.mass if (obj.movable and col >= 0) else 0.0,
        baseCollisionShapeIndex=col,
        baseVisualShapeIndex=vis,
        basePosition=list(obj.pos),
        baseOrientation=wxyz_to_xyzw(obj.quat),
    )
    if not (meshes and len({g.rgba for g in obj.geoms}) == 1):  # primitives: colour each
        for i, g in enumerate(obj.geoms):
            bc.changeVisualShape(body, -1, shapeIndex=i, rgbaColor=list(g.rgba))
    if col >= 0:
        set_friction(bc, body, -1, contact.body_friction("object"), contact.restitution)
    return body


def scaled_contact(contact: ContactConfig, scale: float) -> ContactConfig:
    """`contact` with the object and table pairs' friction times `scale` (fingers unchanged), as
    a SceneVariation's friction_scale does in MuJoCo."""
    if scale == 1.0:
        return contact
    return replace(contact, object_pair=tuple(f * scale for f in contact.object_pair),
                   table_pair=tuple(f * scale for f in contact.table_pair))  # fmt: skip


def add_table_and_floor(
    bc: BulletClient, contact: ContactConfig, table_rgba=TABLE_RGBA, floor_rgba=FLOOR_RGBA
) -> tuple[int, int]:
    """Static table slab (top at TABLE_HEIGHT), floor plane and backdrop; returns (table, floor)."""
    half = [TABLE_HALF_EXTENTS[0], TABLE_HALF_EXTENTS[1], TABLE_HALF_THICKNESS]
    table = bc.createMultiBody(
        baseMass=0.0,
        baseCollisionShapeIndex=bc.createCollisionShape(bc.GEOM_BOX, halfExtents=half),
        baseVisualShapeIndex=bc.createVisualShape(
            bc.GEOM_BOX, halfExtents=half, rgbaColor=list(table_rgba)
        ),
        basePosition=[TABLE_CENTER[0], TABLE_CENTER[1], TABLE_HEIGHT - TABLE_HALF_THICKNESS],
    )
    set_friction(bc, table, -1, contact.body_friction("table"), contact.restitution)
    floor = bc.createMultiBody(
        baseMass=0.0,
        baseCollisionShapeIndex=bc.createCollisionShape(bc.GEOM_PLANE),
        baseVisualShapeIndex=bc.createVisualShape(
            bc.GEOM_BOX, halfExtents=[3.0, 3.0, 0.001], rgbaColor=list(floor_rgba)
        ),
        basePosition=[0.0, 0.0, FLOOR_Z],
    )
    bc.createMultiBody(
        baseMass=0.0,
        baseCollisionShapeIndex=-1,
        baseVisualShapeIndex=bc.createVisualShape(
            bc.GEOM_BOX, halfExtents=list(BACKDROP_HALF), rgbaColor=[0.0, 0.0, 0.0, 1.0]
        ),
        basePosition=[BACKDROP_X, 0.0, FLOOR_Z + BACKDROP_HALF[2]],
    )
    return table, floor
