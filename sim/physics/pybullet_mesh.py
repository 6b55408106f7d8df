"""Triangle meshes of the scene primitives, for PyBullet visual shapes.

Why: PyBullet's built-in GEOM_CYLINDER visual shares vertex normals between the caps and the
side, so TinyRenderer shades a flat cap like a cone (dark, radially graded) while MuJoCo draws it
flat and bright. These meshes have separate, flat normals per face, so a primitive looks the same
in both engines. Several geoms of one body (a bowl's floor and posts) merge into one mesh.
"""

from __future__ import annotations

import numpy as np

from sim.scene import GeomSpec

CYLINDER_SEGMENTS = 24
SPHERE_RINGS, SPHERE_SEGMENTS = 8, 16

Mesh = tuple[np.ndarray, np.ndarray, np.ndarray]  # vertices (V, 3), normals (V, 3), tris (T, 3)


def box_mesh(half) -> Mesh:
    """Axis-aligned box with half extents `half`: 6 faces x 4 vertices, outward normals."""
    hx, hy, hz = half
    verts, norms, tris = [], [], []
    for axis in range(3):
        for sign in (1.0, -1.0):
            n = np.zeros(3)
            n[axis] = sign
            u, v = np.roll(np.eye(3), -axis - 1, axis=0)[:2]  # the two other axes
            if sign < 0:
                u, v = v, u  # keep counter-clockwise winding seen from outside
            base = len(verts)
            for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
                verts.append((n + a * u + b * v) * (hx, hy, hz))
                norms.append(n)
            tris += [(base, base + 1, base + 2), (base, base + 2, base + 3)]
    return np.array(verts), np.array(norms), np.array(tris)


def cylinder_mesh(radius: float, half_height: float, segments: int = CYLINDER_SEGMENTS) -> Mesh:
    """Cylinder along z: side with radial normals, two flat caps with +-z normals."""
    ang = 2 * np.pi * np.arange(segments) / segments
    ring = np.stack([np.cos(ang), np.sin(ang), np.zeros(segments)], axis=1)
    side_v = np.concatenate([ring * radius + [0, 0, -half_height],
                             ring * radius + [0, 0, half_height]])  # fmt: skip
    side_n = np.concatenate([ring, ring])
    i = np.arange(segments)
    j = (i + 1) % segments
    tris = [np.stack([i, j, segments + j], 1), np.stack([i, segments + j, segments + i], 1)]
    verts, norms = [side_v], [side_n]
    count = 2 * segments
    for z, nz in ((half_height, 1.0), (-half_height, -1.0)):
        cap = np.concatenate([[[0.0, 0.0, z]], ring * radius + [0, 0, z]])
        verts.append(cap)
        norms.append(np.tile([0.0, 0.0, nz], (segments + 1, 1)))
        fan = np.stack([np.zeros(segments, int), 1 + i, 1 + j], 1)
        tris.append(count + (fan if nz > 0 else fan[:, [0, 2, 1]]))
        count += segments + 1
    return np.concatenate(verts), np.concatenate(norms), np.concatenate(tris)


def sphere_mesh(radius: float) -> Mesh:
    """UV sphere (smooth normals: a sphere has no flat faces to preserve)."""
    theta = np.linspace(0, np.pi, SPHERE_RINGS + 1)
    phi = 2 * np.pi * np.arange(SPHERE_SEGMENTS) / SPHERE_SEGMENTS
    t, p = np.meshgrid(theta, phi, indexing="ij")
    norms = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], -1).reshape(-1, 3)
    tris = []
    for r in range(SPHERE_RINGS):
        for s in range(SPHERE_SEGMENTS):
            a, b = r * SPHERE_SEGMENTS + s, r * SPHERE_SEGMENTS + (s + 1) % SPHERE_SEGMENTS
            c, d = a + SPHERE_SEGMENTS, b + SPHERE_SEGMENTS
            tris += [(a, c, d), (a, d, b)]
    return norms * radius, norms, np.array(tris)


def geom_mesh(geom: GeomSpec) -> Mesh:
    """The mesh of one GeomSpec, placed at its offset in the body frame."""
    if geom.kind == "box":
        v, n, t = box_mesh(geom.size)
    elif geom.kind == "cylinder":
        v, n, t = cylinder_mesh(*geom.size)
    elif geom.kind == "sphere":
        v, n, t = sphere_mesh(geom.size[0])
    else:
        raise ValueError(f"unknown geom kind {geom.kind!r}; valid kinds: box, cylinder, sphere")
    return v + np.asarray(geom.pos), n, t


def merged_mesh(geoms) -> Mesh:
    """One mesh of several geoms (all in one body frame)."""
    verts, norms, tris, count = [], [], [], 0
    for g in geoms:
        v, n, t = geom_mesh(g)
        verts.append(v)
        norms.append(n)
        tris.append(t + count)
        count += len(v)
    return np.concatenate(verts), np.concatenate(norms), np.concatenate(tris)
