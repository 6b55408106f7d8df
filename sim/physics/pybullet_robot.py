"""The Panda URDF as PyBullet loads it: pybullet_data's ``franka_panda/panda.urdf``.

By default the links are drawn with their collision meshes (about 3.4k triangles in all instead
of about 100k for the visual meshes), exactly as the MuJoCo model draws them, so the two engines'
pictures match and PyBullet's CPU TinyRenderer is about 2x faster per frame. The derived URDF
only swaps mesh file names; kinematics, inertias and collision geometry are the file's own.
"""

from __future__ import annotations

import hashlib
import os
import tempfile

import pybullet_data

PANDA_URDF = os.path.join(pybullet_data.getDataPath(), "franka_panda", "panda.urdf")
ROBOT_MESHES = ("collision", "visual")


def panda_urdf(meshes: str = "collision") -> str:
    """Path of the Panda URDF to load, drawing its links with `meshes` ("collision"/"visual")."""
    if meshes not in ROBOT_MESHES:
        raise ValueError(f"unknown robot meshes {meshes!r}; valid: {ROBOT_MESHES}")
    if meshes == "visual":
        return PANDA_URDF
    with open(PANDA_URDF) as f:
        text = f.read()
    root = os.path.dirname(PANDA_URDF)
    text = text.replace("package://meshes/visual/", "package://meshes/collision/")
    text = text.replace("package://", root + "/")
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    path = os.path.join(tempfile.gettempdir(), f"vla_panda_collision_visuals_{digest}.urdf")
    if not os.path.exists(path):  # content-addressed: concurrent writers write the same bytes
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    return path
