"""Offscreen cameras for the PyBullet backend: the fixed scene camera and the wrist camera.

Both use the same pinhole conventions as MuJoCo (vertical field of view in degrees, look-at
from an eye point), so the same CameraSpec gives the same picture geometry in both engines.

Renderers (PyBulletConfig.renderer):
  "tiny" -- ER_TINY_RENDERER, PyBullet's built-in CPU rasteriser; works everywhere.
  "egl"  -- the eglRenderer plugin (ER_BULLET_HARDWARE_OPENGL through EGL): a GPU when one is
            present, Mesa's llvmpipe otherwise. If the plugin cannot load, a RuntimeWarning says
            so and the backend renders with "tiny".
"""

from __future__ import annotations

import pkgutil
import warnings

import numpy as np
import pybullet
from pybullet_utils.bullet_client import BulletClient

from sim.variation import SceneVariation, light_factors
from vla.robot.panda import WRIST_CAMERA_POS

RENDERERS = ("tiny", "egl")
NEAR = 0.01  # metres; MuJoCo's default znear for a scene of about 1 m extent
FAR = 10.0
# Wrist camera axes in the hand frame: it looks along the hand's +z (towards the fingertips)
# and the image's "up" is the hand's +x (the side the camera is mounted on), so the fingers
# appear at the bottom of the picture.
WRIST_FORWARD = np.array([0.0, 0.0, 1.0])
WRIST_UP = np.array([1.0, 0.0, 0.0])


_egl_clients = 0  # live clients in this process with the eglRenderer plugin loaded


def load_egl_plugin(bc: BulletClient) -> int | None:
    """Load the eglRenderer plugin into this client; None (with a warning) if unavailable.

    Raises RuntimeError when another live client of this process already uses it: the plugin
    keeps one renderer per process, so a second client silently renders the first one's scene
    (measured: identical images of two different scenes) and rendering after one of them
    closes crashes the process.
    """
    global _egl_clients
    if _egl_clients > 0:
        raise RuntimeError(
            "PyBullet's eglRenderer plugin serves one client per process and another "
            "PyBulletPhysics(renderer='egl') is still open here: close() it first, run parallel "
            "environments in separate worker processes, or use renderer='tiny'."
        )
    loader = pkgutil.get_loader("eglRenderer")
    if loader is None:
        warnings.warn(
            "PyBullet eglRenderer plugin not found (module 'eglRenderer' missing from the "
            "pybullet install); rendering with ER_TINY_RENDERER instead. Reinstall pybullet "
            "from a wheel that ships eglRenderer, or use renderer='tiny'.",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    plugin = bc.loadPlugin(loader.get_filename(), "_eglRendererPlugin")
    if plugin < 0:
        warnings.warn(
            "PyBullet could not start its EGL renderer (no usable EGL display: install "
            "libegl1 / a GPU driver, or Mesa's libegl-mesa0); rendering with "
            "ER_TINY_RENDERER instead.",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    _egl_clients += 1
    return plugin


def unload_egl_plugin(bc: BulletClient, plugin: int) -> None:
    """Unload a plugin loaded by :func:`load_egl_plugin`."""
    global _egl_clients
    bc.unloadPlugin(plugin)
    _egl_clients -= 1


def projection_matrix(fovy: float, width: int, height: int) -> tuple[float, ...]:
    """OpenGL projection for a vertical field of view `fovy` (degrees), as MuJoCo's fovy."""
    return tuple(pybullet.computeProjectionMatrixFOV(fovy, width / height, NEAR, FAR))


def wrist_view(hand_pos: np.ndarray, hand_rot: np.ndarray) -> tuple[list, list, list]:
    """(eye, target, up) of the wrist camera for a hand at `hand_pos` with rotation `hand_rot`."""
    eye = hand_pos + hand_rot @ np.asarray(WRIST_CAMERA_POS)
    target = eye + hand_rot @ WRIST_FORWARD
    up = hand_rot @ WRIST_UP
    return eye.tolist(), target.tolist(), up.tolist()


LIGHT_FIELDS = ("light_scale", "light_rgb", "light_shift_m")
LIGHT_POS = (0.5, 0.0, 1.5)  # the MuJoCo model's overhead light


def light_kwargs(v: SceneVariation | None, renderer: str) -> dict:
    """getCameraImage light arguments of a variation ({}: PyBullet's default light). Raises
    NotImplementedError naming the fields this backend cannot apply: a table texture, and any
    light change with the "egl" renderer (its light is fixed)."""
    if v is None or v.is_identity:
        return {}
    changed = v.changed()
    lacking = [f for f in changed if f == "table_texture"]
    lit = [f for f in changed if f in LIGHT_FIELDS]
    if renderer == "egl":
        lacking += lit
    if lacking:
        raise NotImplementedError(
            f"the PyBullet backend ({renderer} renderer) cannot apply SceneVariation field(s) "
            f"{lacking}; leave them at their defaults or use the mujoco backend"
            + (" (light needs renderer='tiny')" if renderer == "egl" else "")
        )
    if not lit:
        return {}
    k = light_factors(v)
    top = float(k.max())  # the tint becomes the colour, the overall scale the coefficients
    out = {
        "lightColor": list(np.clip(k / max(top, 1e-6), 0.0, 1.0)),
        # TinyRenderer's defaults (ambient 0.6, diffuse 0.35) times the overall scale
        "lightAmbientCoeff": 0.6 * top,
        "lightDiffuseCoeff": 0.35 * top,
    }
    if "light_shift_m" in lit:  # the light's position (PyBullet aims it at the origin)
        out["lightDirection"] = list(np.asarray(LIGHT_POS) + v.light_shift_m)
    return out


def grab(
    bc: BulletClient, width: int, height: int, view, proj, use_egl: bool, light: dict | None = None
) -> np.ndarray:
    """Render one RGB frame: uint8 (height, width, 3), alpha dropped, no shadows. `light`: extra
    TinyRenderer light arguments (lightColor, lightDirection, light*Coeff)."""
    _, _, rgba, _, _ = bc.getCameraImage(
        width,
        height,
        viewMatrix=view,
        projectionMatrix=proj,
        shadow=0,
        renderer=bc.ER_BULLET_HARDWARE_OPENGL if use_egl else bc.ER_TINY_RENDERER,
        flags=bc.ER_NO_SEGMENTATION_MASK,
        **(light or {}),
    )
    rgb = np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)[:, :, :3]
    return np.ascontiguousarray(rgb)


__all__ = [
    "RENDERERS",
    "grab",
    "light_kwargs",
    "load_egl_plugin",
    "unload_egl_plugin",
    "projection_matrix",
    "wrist_view",
]
