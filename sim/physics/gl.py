"""MuJoCo's offscreen OpenGL back end, defaulted where a MuJoCo renderer is made.

MuJoCo picks its GL back end from MUJOCO_GL when it is first imported. EGL renders offscreen with
Mesa and needs nothing installed; unset, MuJoCo takes GLFW, which fails on headless machines.
``import sim`` leaves the environment alone: the modules that render with MuJoCo call
:func:`default_mujoco_gl` before they import it.
"""

from __future__ import annotations

import os

GL_HELP = (
    "MuJoCo could not create an offscreen OpenGL context (MUJOCO_GL={gl!r}): {err}. "
    "Set MUJOCO_GL=egl (works with Mesa, nothing to install) or MUJOCO_GL=osmesa (needs the "
    "Debian package libosmesa6: `sudo apt-get install libosmesa6`) before starting Python."
)


def default_mujoco_gl() -> str:
    """Set MUJOCO_GL=egl unless the user chose a back end; returns the one in effect."""
    if not os.environ.get("MUJOCO_GL"):
        os.environ["MUJOCO_GL"] = "egl"
    return os.environ["MUJOCO_GL"]
