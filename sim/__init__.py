"""sim: simulated Franka Panda pick-and-place in MuJoCo and PyBullet.

Public entry points: :func:`sim.make` (a gymnasium environment for one task family and engine)
and the gymnasium ids ``sim/PickPlace-<family>-<backend>-v0`` registered on import.
"""

import os

# MuJoCo picks its GL back end when first imported. EGL renders offscreen with Mesa and needs
# nothing installed; without this default (unset -> GLFW) rendering fails on headless machines.
if not os.environ.get("MUJOCO_GL"):
    os.environ["MUJOCO_GL"] = "egl"

from sim.env import BACKENDS, make, register_envs  # noqa: E402

#: gymnasium ids registered at import, e.g. "sim/PickPlace-pick-mujoco-v0"
GYM_IDS: list[str] = register_envs()

__all__ = ["BACKENDS", "GYM_IDS", "make", "register_envs"]
