"""MuJoCo implementation of the Physics interface (named state queries + offscreen rendering).

Rendering runs offscreen through MuJoCo's own GL back ends, chosen by MUJOCO_GL before mujoco is
imported: `egl` (default here; Mesa's EGL renders in software with nothing to install) or
`osmesa` (needs Debian's libosmesa6). Shadows and reflections are off: in Mesa's software
rasteriser they cost ~15x per frame.
"""

from __future__ import annotations

import atexit
import os
import warnings
import weakref

from sim.physics.gl import GL_HELP, default_mujoco_gl

default_mujoco_gl()  # this module renders: choose the back end before mujoco is imported

try:  # mujoco picks its GL back end at import; a missing libOSMesa breaks the import itself
    import mujoco
except (ImportError, AttributeError, RuntimeError) as _err:
    raise RuntimeError(GL_HELP.format(gl=os.environ.get("MUJOCO_GL"), err=_err)) from _err
import numpy as np  # noqa: E402

from sim.physics.base import Physics  # noqa: E402
from sim.robot import panda_mujoco  # noqa: E402
from sim.scene import SceneSpec  # noqa: E402
from sim.variation import resolve  # noqa: E402
from vla.robot.panda import ARM_JOINT_NAMES, FINGER_JOINT_NAMES, GRIPPER_MAX_OPENING  # noqa: E402


def _gl_context_class():
    """The GL context class MUJOCO_GL names *now*. mujoco.gl_context picks one when mujoco is
    first imported; if that happened before this module set its EGL default (e.g. a bare
    `import mujoco` first), it holds GLFW, which fails on headless machines."""
    backend = os.environ.get("MUJOCO_GL", "").lower()
    if backend == "egl":
        from mujoco.egl import GLContext
    elif backend == "osmesa":
        from mujoco.osmesa import GLContext
    else:
        from mujoco.gl_context import GLContext
    if GLContext is None:
        raise RuntimeError("no GL back end available")
    return GLContext


class OffscreenRenderer:
    """One GL context for the life of the physics; the MuJoCo render context is rebuilt per
    model (the scene's objects change every episode, the GL context does not need to)."""

    def __init__(self, width: int, height: int):
        try:
            gl_class = _gl_context_class()
            with warnings.catch_warnings():
                # GLFW reports "no display" as a warning and hands back a dead context
                warnings.simplefilter("error")
                self._gl = gl_class(width, height)
                self._gl.make_current()
            _register_exit_hook()
        except Exception as err:  # ImportError (missing libOSMesa), EGL or GLFW errors
            msg = GL_HELP.format(gl=os.environ.get("MUJOCO_GL"), err=err)
            raise RuntimeError(msg + " Or run without cameras: render=False.") from err
        self.width, self.height = width, height
        self._rect = mujoco.MjrRect(0, 0, width, height)
        self._ctx: mujoco.MjrContext | None = None
        self._scene: mujoco.MjvScene | None = None
        self._option = mujoco.MjvOption()
        self._camera = mujoco.MjvCamera()
        self._buf = np.empty((height, width, 3), dtype=np.uint8)

    def set_model(self, model: mujoco.MjModel) -> None:
        self._gl.make_current()
        if self._ctx is not None:
            self._ctx.free()
        self._ctx = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_100)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._ctx)
        self._scene = mujoco.MjvScene(model, maxgeom=500)
        self._scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
        self._scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
        self._scene.flags[mujoco.mjtRndFlag.mjRND_SKYBOX] = False

    def render(self, model: mujoco.MjModel, data: mujoco.MjData, camera_id: int) -> np.ndarray:
        self._gl.make_current()
        self._camera.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self._camera.fixedcamid = camera_id
        mujoco.mjv_updateScene(model, data, self._option, None, self._camera,
                               mujoco.mjtCatBit.mjCAT_ALL, self._scene)  # fmt: skip
        mujoco.mjr_render(self._rect, self._scene, self._ctx)
        mujoco.mjr_readPixels(self._buf, None, self._rect, self._ctx)
        return np.flipud(self._buf).copy()  # GL rows start at the bottom

    def close(self) -> None:
        if self._gl is None:
            return
        self._gl.make_current()
        if self._ctx is not None:
            self._ctx.free()
        self._ctx = None
        self._gl.free()
        self._gl = None


_LIVE_RENDERERS: weakref.WeakSet[OffscreenRenderer] = weakref.WeakSet()
_EXIT_HOOK_REGISTERED = False


def _register_exit_hook() -> None:
    # Registered after the first GL context exists, hence after mujoco.egl's own atexit
    # (eglTerminate): atexit runs last-in first-out, so our contexts are freed while the display
    # is still alive (otherwise every process prints EGL errors at exit).
    global _EXIT_HOOK_REGISTERED
    if not _EXIT_HOOK_REGISTERED:
        atexit.register(_close_renderers)
        _EXIT_HOOK_REGISTERED = True


def _close_renderers() -> None:
    for r in list(_LIVE_RENDERERS):
        try:
            r.close()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass


class MuJoCoPhysics(Physics):
    """The Panda tabletop in MuJoCo. `image_size` is (height, width) of every camera."""

    timestep = panda_mujoco.TIMESTEP

    def __init__(self, image_size: tuple[int, int] = (128, 128), render: bool = True):
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self._render_enabled = render
        self._renderer: OffscreenRenderer | None = None
        if render:  # fail at construction, not mid-episode, when GL is missing
            self._renderer = OffscreenRenderer(self.image_size[1], self.image_size[0])
            _LIVE_RENDERERS.add(self._renderer)
        self.model: mujoco.MjModel | None = None
        self.data: mujoco.MjData | None = None
        self.scene: SceneSpec | None = None

    # ---- building -----------------------------------------------------------------------
    def build(self, scene: SceneSpec) -> None:
        for cam in scene.cameras:
            if (cam.height, cam.width) != self.image_size:
                raise ValueError(
                    f"camera {cam.name!r} is {cam.height}x{cam.width} but this physics renders "
                    f"{self.image_size[0]}x{self.image_size[1]}; build the SceneSpec with "
                    "the same image_size as the physics"
                )
        scene = resolve(scene)  # the variation's camera move, distractors and masses
        spec = panda_mujoco.build_spec(scene)
        spec.visual.global_.offwidth = max(self.image_size[1], 64)
        spec.visual.global_.offheight = max(self.image_size[0], 64)
        model = spec.compile()
        self.model, self.data, self.scene = model, mujoco.MjData(model), scene
        m = model
        self._arm_qadr = np.array([m.joint(n).qposadr[0] for n in ARM_JOINT_NAMES])
        self._arm_dadr = np.array([m.joint(n).dofadr[0] for n in ARM_JOINT_NAMES])
        self._finger_qadr = np.array([m.joint(n).qposadr[0] for n in FINGER_JOINT_NAMES])
        self._finger_dadr = np.array([m.joint(n).dofadr[0] for n in FINGER_JOINT_NAMES])
        self._arm_act = np.array([m.actuator(n).id for n in ARM_JOINT_NAMES])
        self._finger_act = np.array([m.actuator(n).id for n in FINGER_JOINT_NAMES])
        self._tcp = m.site(panda_mujoco.TCP_SITE).id
        self._finger_bodies = (m.body(panda_mujoco.LEFT_FINGER).id,
                               m.body(panda_mujoco.RIGHT_FINGER).id)  # fmt: skip
        self._jac = np.zeros((6, m.nv))
        self._arm_range = m.jnt_range[[m.joint(n).id for n in ARM_JOINT_NAMES]].copy()
        d = self.data
        d.qpos[:] = panda_mujoco.home_qpos(m, scene)
        d.ctrl[self._arm_act] = d.qpos[self._arm_qadr]
        d.ctrl[self._finger_act] = panda_mujoco.FINGER_OPEN_Q
        mujoco.mj_forward(m, d)
        if self._renderer is not None:
            self._renderer.set_model(m)
        self._cam_ids = {m.camera(i).name: i for i in range(m.ncam)}

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def _require(self) -> None:
        if self.data is None:
            raise RuntimeError("MuJoCoPhysics.build(scene) must be called first")

    # ---- robot state --------------------------------------------------------------------
    @property
    def arm_joint_range(self) -> np.ndarray:
        """(7, 2) lower/upper joint limits."""
        self._require()
        return self._arm_range

    def joint_positions(self) -> np.ndarray:
        self._require()
        return self.data.qpos[self._arm_qadr].copy()

    def gripper_opening(self) -> float:
        self._require()
        return float(np.clip(self.data.qpos[self._finger_qadr].sum(), 0.0, GRIPPER_MAX_OPENING))

    def ee_pose(self) -> tuple[np.ndarray, np.ndarray]:
        self._require()
        pos = self.data.site_xpos[self._tcp].copy()
        quat = np.zeros(4)
        mujoco.mju_mat2Quat(quat, self.data.site_xmat[self._tcp])
        return pos, quat

    def ee_jacobian(self) -> np.ndarray:
        self._require()
        mujoco.mj_jacSite(self.model, self.data, self._jac[:3], self._jac[3:], self._tcp)
        return self._jac[:, self._arm_dadr].copy()

    def set_joint_positions(self, q: np.ndarray, gripper_opening: float | None = None) -> None:
        self._require()
        d = self.data
        d.qpos[self._arm_qadr] = q
        d.qvel[self._arm_dadr] = 0.0
        d.ctrl[self._arm_act] = q
        if gripper_opening is not None:
            half = float(np.clip(gripper_opening, 0.0, GRIPPER_MAX_OPENING)) / 2.0
            d.qpos[self._finger_qadr] = half
            d.qvel[self._finger_dadr] = 0.0
            d.ctrl[self._finger_act] = half
        mujoco.mj_forward(self.model, d)

    # ---- commands -----------------------------------------------------------------------
    def set_joint_targets(self, q: np.ndarray, gripper_closed: bool) -> None:
        self._require()
        self.data.ctrl[self._arm_act] = np.clip(q, self._arm_range[:, 0], self._arm_range[:, 1])
        self.data.ctrl[self._finger_act] = 0.0 if gripper_closed else panda_mujoco.FINGER_OPEN_Q

    def step(self, n_substeps: int) -> None:
        self._require()
        mujoco.mj_step(self.model, self.data, nstep=int(n_substeps))

    # ---- objects ------------------------------------------------------------------------
    def _body(self, name: str) -> int:
        self._require()
        try:
            return self.model.body(name).id
        except KeyError:
            names = [o.name for o in self.scene.objects]
            raise KeyError(f"no object named {name!r}; scene has {names}") from None

    def object_pose(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        b = self._body(name)
        return self.data.xpos[b].copy(), self.data.xquat[b].copy()

    def set_object_pose(self, name: str, pos: np.ndarray, quat: np.ndarray | None = None) -> None:
        b = self._body(name)
        jnt = self.model.body_jntadr[b]
        if jnt < 0:
            raise ValueError(f"object {name!r} is fixed to the world and cannot be moved")
        qadr, dadr = self.model.jnt_qposadr[jnt], self.model.jnt_dofadr[jnt]
        self.data.qpos[qadr : qadr + 3] = pos
        if quat is not None:
            self.data.qpos[qadr + 3 : qadr + 7] = np.asarray(quat) / np.linalg.norm(quat)
        self.data.qvel[dadr : dadr + 6] = 0.0
        mujoco.mj_forward(self.model, self.data)

    def finger_contacts(self, name: str) -> tuple[bool, bool]:
        b = self._body(name)
        left = right = False
        d, m = self.data, self.model
        for i in range(d.ncon):
            c = d.contact[i]
            b1, b2 = m.geom_bodyid[c.geom1], m.geom_bodyid[c.geom2]
            if b not in (b1, b2):
                continue
            other = b2 if b1 == b else b1
            left |= other == self._finger_bodies[0]
            right |= other == self._finger_bodies[1]
        return bool(left), bool(right)

    # ---- rendering ----------------------------------------------------------------------
    def render(self, camera: str) -> np.ndarray:
        self._require()
        if self._renderer is None:
            raise RuntimeError("rendering is disabled (render=False); create it with render=True")
        if camera not in self._cam_ids:
            raise KeyError(f"no camera named {camera!r}; cameras: {sorted(self._cam_ids)}")
        return self._renderer.render(self.model, self.data, self._cam_ids[camera])

    # ---- MuJoCo extras ------------------------------------------------------------------
    def warnings(self) -> dict[str, int]:
        """Counts of MuJoCo runtime warnings since build (all zero in a healthy scene)."""
        self._require()
        return {mujoco.mjtWarning(i).name: int(w.number)
                for i, w in enumerate(self.data.warning) if w.number}  # fmt: skip
