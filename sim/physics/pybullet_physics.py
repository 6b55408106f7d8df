"""PyBullet implementation of the :class:`~sim.physics.base.Physics` interface.

One DIRECT client per instance (a ``BulletClient``, which passes ``physicsClientId`` on every
call), so several instances in one process never share state (except the EGL renderer, which
PyBullet serves to one client per process: see ``pybullet_camera``). The Panda is pybullet_data's
``franka_panda/panda.urdf`` (pybullet_robot), with a fixed base at the world origin; the table and
every object are built from the SceneSpec's primitives (``pybullet_scene``).

Conventions shared with the MuJoCo backend (so observations mean the same in both engines):
  * world frame == robot base frame, quaternions (w, x, y, z) at this API (PyBullet's own
    order is (x, y, z, w); conversion only in ``pybullet_scene``);
  * tool centre point = ``HAND_LINK`` frame + ``TCP_OFFSET`` along the hand's +z;
  * gripper opening = sum of the two finger joint positions (metres between the pads).

Contacts: no robot self-collision (PyBullet's default without URDF_USE_SELF_COLLISION; the
MuJoCo model likewise never lets robot geoms touch each other, and neighbouring link meshes
overlap). Friction pairs are MuJoCo's (``ContactConfig``).

Control: the 7 arm joints and both fingers are POSITION_CONTROL motors. The fingers are also
coupled by a gear constraint (the URDF's <mimic>, which PyBullet ignores) so they close
symmetrically, as the real gripper's single motor makes them.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pybullet
from pybullet_utils.bullet_client import BulletClient

from sim.physics import pybullet_camera as cam
from sim.physics.base import Physics
from sim.physics.pybullet_config import DirectClient, PyBulletConfig
from sim.physics.pybullet_robot import panda_urdf
from sim.physics.pybullet_scene import (
    FLOOR_RGBA,
    TABLE_RGBA,
    add_object,
    add_table_and_floor,
    scaled_contact,
    set_friction,
    wxyz_to_xyzw,
    xyzw_to_wxyz,
)
from sim.scene import CameraSpec, SceneSpec
from sim.variation import SceneVariation, resolve
from vla.robot.panda import (
    ARM_JOINT_LIMITS,
    ARM_JOINT_NAMES,
    ARM_JOINTS,
    FINGER_JOINT_NAMES,
    GRIPPER_MAX_OPENING,
    HAND_LINK,
    HOME_Q,
    TCP_OFFSET,
    WRIST_CAMERA_FOVY,
)

FINGER_OPEN = GRIPPER_MAX_OPENING / 2  # per-finger joint position when open
LINK_RGBA = (0.9, 0.9, 0.9, 1.0)
FINGER_RGBA = (0.25, 0.25, 0.27, 1.0)


class PyBulletPhysics(Physics):
    """A Panda, a table and the SceneSpec's objects in one private PyBullet DIRECT client.

    Constructed like ``MuJoCoPhysics`` so an environment can build either the same way.

    Args:
        image_size: (height, width) of every camera; scene cameras must match it.
        render: False skips renderer set-up; ``render()`` then raises.
        config: engine settings; defaults to ``PyBulletConfig()``.
        renderer: shortcut overriding ``config.renderer`` ("tiny" or "egl").
    """

    def __init__(
        self,
        image_size: tuple[int, int] = (128, 128),
        render: bool = True,
        *,
        config: PyBulletConfig | None = None,
        renderer: str | None = None,
    ):
        cfg = config or PyBulletConfig()
        if renderer is not None:
            cfg = replace(cfg, renderer=renderer)
        if len(image_size) != 2 or min(image_size) < 1:
            raise ValueError(f"image_size must be (height, width) >= 1, got {image_size}")
        self.config = cfg
        self.timestep = cfg.timestep
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self._render_enabled = render
        self._bc: BulletClient | None = DirectClient()
        use_egl = render and cfg.renderer == "egl"
        self._egl_plugin = cam.load_egl_plugin(self._bc) if use_egl else None
        #: the renderer actually in use ("egl" only when the plugin loaded)
        self.renderer = "egl" if self._egl_plugin is not None else "tiny"
        self._urdf = panda_urdf(cfg.robot_meshes)
        self._scene: SceneSpec | None = None
        self._bodies: dict[str, int] = {}

    # ---- building -----------------------------------------------------------------------
    def build(self, scene: SceneSpec) -> None:
        bc = self._client()
        for spec in scene.cameras:
            if (spec.height, spec.width) != self.image_size:
                raise ValueError(
                    f"camera {spec.name!r} is {spec.height}x{spec.width} but this physics renders "
                    f"{self.image_size[0]}x{self.image_size[1]}; build the SceneSpec with "
                    "the same image_size as the physics"
                )
        # TinyRenderer light arguments; raises on the variation fields this backend lacks
        self._light = cam.light_kwargs(scene.variation, self.renderer)
        scene = resolve(scene)  # the variation's camera move, distractors and masses
        v = scene.variation or SceneVariation()
        contact = scaled_contact(self.config.contact, v.friction_scale)
        names = [o.name for o in scene.objects]
        if len(set(names)) != len(names):
            raise ValueError(f"object names must be unique, got {names}")
        bc.resetSimulation()
        bc.setPhysicsEngineParameter(
            fixedTimeStep=self.timestep,
            numSolverIterations=self.config.solver_iterations,
            numSubSteps=0,
            deterministicOverlappingPairs=1,
        )
        bc.setGravity(0.0, 0.0, -9.81)
        self.robot = bc.loadURDF(
            self._urdf,
            basePosition=[0.0, 0.0, 0.0],
            useFixedBase=True,
            flags=bc.URDF_ENABLE_CACHED_GRAPHICS_SHAPES,
        )
        self._index_robot()
        self._configure_robot()
        self.table, self.floor = add_table_and_floor(
            bc, contact, v.table_rgba or TABLE_RGBA, v.floor_rgba or FLOOR_RGBA
        )
        meshes = self._egl_plugin is None  # the EGL plugin cannot draw vertex-data meshes
        self._bodies = {o.name: add_object(bc, o, contact, meshes) for o in scene.objects}
        self._scene = scene
        self._cameras = {c.name: c for c in scene.cameras}
        home = HOME_Q if scene.robot_home is None else scene.robot_home
        self.set_joint_positions(np.asarray(home, dtype=np.float64), GRIPPER_MAX_OPENING)
        self.set_joint_targets(np.asarray(home, dtype=np.float64), gripper_closed=False)

    def _index_robot(self) -> None:
        bc = self._client()
        joints, links = {}, {}
        for j in range(bc.getNumJoints(self.robot)):
            info = bc.getJointInfo(self.robot, j)
            joints[info[1].decode()] = j
            links[info[12].decode()] = j
        self._arm = [joints[n] for n in ARM_JOINT_NAMES]
        self._fingers = [joints[n] for n in FINGER_JOINT_NAMES]
        self._hand = links[HAND_LINK]
        # calculateJacobian wants positions for every movable joint, in joint-index order.
        self._movable = [
            j for j in range(bc.getNumJoints(self.robot))
            if bc.getJointInfo(self.robot, j)[2] != bc.JOINT_FIXED
        ]  # fmt: skip
        self._arm_cols = [self._movable.index(j) for j in self._arm]

    def _configure_robot(self) -> None:
        bc, cfg = self._client(), self.config
        for j in range(-1, bc.getNumJoints(self.robot)):
            bc.changeDynamics(self.robot, j, linearDamping=0.0, angularDamping=0.0)
            # Same flat colours as the MuJoCo model: light links, dark fingers.
            rgba = FINGER_RGBA if j in self._fingers else LINK_RGBA
            bc.changeVisualShape(self.robot, j, rgbaColor=list(rgba), textureUniqueId=-1)
        for j in self._fingers:
            set_friction(bc, self.robot, j, cfg.contact.body_friction("finger"))
            bc.changeDynamics(self.robot, j, frictionAnchor=True)
        # The URDF's <mimic> is ignored by PyBullet: couple the fingers with a gear constraint.
        gear = bc.createConstraint(
            self.robot, self._fingers[0], self.robot, self._fingers[1],
            jointType=bc.JOINT_GEAR, jointAxis=[1, 0, 0],
            parentFramePosition=[0, 0, 0], childFramePosition=[0, 0, 0],
        )  # fmt: skip
        bc.changeConstraint(gear, gearRatio=-1, erp=0.1, maxForce=50)

    def close(self) -> None:
        if self._bc is None:
            return
        if self._egl_plugin is not None:
            cam.unload_egl_plugin(self._bc, self._egl_plugin)
            self._egl_plugin = None
        self._bc.disconnect()
        self._bc = None

    def __del__(self) -> None:  # best effort; close() is the real API
        try:
            self.close()
        except Exception:  # noqa: BLE001 -- interpreter shutdown may have torn pybullet down
            pass

    def _client(self) -> BulletClient:
        if self._bc is None:
            raise RuntimeError("PyBulletPhysics was closed; create a new instance")
        return self._bc

    def _require_built(self) -> BulletClient:
        if self._scene is None:
            raise RuntimeError("PyBulletPhysics.build(scene) must be called first")
        return self._client()

    # ---- robot state --------------------------------------------------------------------
    def joint_positions(self) -> np.ndarray:
        bc = self._require_built()
        return np.array([s[0] for s in bc.getJointStates(self.robot, self._arm)])

    def gripper_opening(self) -> float:
        bc = self._require_built()
        opening = sum(s[0] for s in bc.getJointStates(self.robot, self._fingers))
        return float(np.clip(opening, 0.0, GRIPPER_MAX_OPENING))

    def _hand_frame(self) -> tuple[np.ndarray, np.ndarray, tuple]:
        """World position, rotation matrix and xyzw quaternion of the hand link (URDF) frame.

        getLinkState's entries 4/5 are the URDF link frame; 0/1 would be its centre of mass.
        """
        state = self._require_built().getLinkState(
            self.robot, self._hand, computeForwardKinematics=True
        )
        rot = np.array(pybullet.getMatrixFromQuaternion(state[5])).reshape(3, 3)
        return np.array(state[4]), rot, state[5]

    def ee_pose(self) -> tuple[np.ndarray, np.ndarray]:
        pos, rot, orn = self._hand_frame()
        return pos + rot[:, 2] * TCP_OFFSET, xyzw_to_wxyz(orn)

    def ee_jacobian(self) -> np.ndarray:
        bc = self._require_built()
        q = [s[0] for s in bc.getJointStates(self.robot, self._movable)]
        # The point is given in the link's URDF frame: PyBullet's docs say "centre of mass frame",
        # but for this link (inertial origin at z = 0.04) only the URDF frame reproduces the
        # finite differences of ee_pose (tests/sim/test_pybullet_physics.py checks it).
        local = [0.0, 0.0, TCP_OFFSET]
        zeros = [0.0] * len(q)
        lin, ang = bc.calculateJacobian(self.robot, self._hand, local, q, zeros, zeros)
        jac = np.vstack([np.asarray(lin), np.asarray(ang)])  # (6, n_movable)
        return jac[:, self._arm_cols]

    def set_joint_positions(self, q: np.ndarray, gripper_opening: float | None = None) -> None:
        bc = self._require_built()
        q = _check_q(q)
        for j, v in zip(self._arm, q, strict=True):
            bc.resetJointState(self.robot, j, float(v), 0.0)
        finger_target = None
        if gripper_opening is not None:
            if not np.isfinite(gripper_opening):
                raise ValueError(f"gripper_opening must be finite, got {gripper_opening}")
            finger_target = float(np.clip(gripper_opening, 0.0, GRIPPER_MAX_OPENING)) / 2
            for j in self._fingers:
                bc.resetJointState(self.robot, j, finger_target, 0.0)
        self._command_arm(q)
        if finger_target is not None:
            self._command_fingers(finger_target)

    # ---- commands -----------------------------------------------------------------------
    def set_joint_targets(self, q: np.ndarray, gripper_closed: bool) -> None:
        self._require_built()
        # Targets past the joint limits would only make the motor fight the limit.
        self._command_arm(np.clip(_check_q(q), _ARM_LOW, _ARM_HIGH))
        self._command_fingers(0.0 if gripper_closed else FINGER_OPEN)

    def _command_arm(self, q: np.ndarray) -> None:
        cfg = self.config
        self._client().setJointMotorControlArray(
            self.robot,
            self._arm,
            pybullet.POSITION_CONTROL,
            targetPositions=q.tolist(),
            targetVelocities=[0.0] * ARM_JOINTS,
            forces=list(cfg.arm_forces),
            positionGains=[cfg.arm_position_gain] * ARM_JOINTS,
            velocityGains=[cfg.arm_velocity_gain] * ARM_JOINTS,
        )

    def _command_fingers(self, target: float) -> None:
        bc, cfg = self._client(), self.config
        for j in self._fingers:
            bc.setJointMotorControl2(
                self.robot,
                j,
                pybullet.POSITION_CONTROL,
                targetPosition=target,
                force=cfg.finger_force,
                positionGain=cfg.finger_position_gain,
                maxVelocity=cfg.finger_max_velocity,
            )

    def step(self, n_substeps: int) -> None:
        bc = self._require_built()
        if n_substeps < 0:
            raise ValueError(f"n_substeps must be >= 0, got {n_substeps}")
        for _ in range(n_substeps):
            bc.stepSimulation()

    # ---- objects ------------------------------------------------------------------------
    def _body(self, name: str) -> int:
        self._require_built()
        try:
            return self._bodies[name]
        except KeyError:
            raise KeyError(f"no object named {name!r}; scene has {sorted(self._bodies)}") from None

    def object_pose(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        pos, orn = self._client().getBasePositionAndOrientation(self._body(name))
        return np.array(pos), xyzw_to_wxyz(orn)

    def set_object_pose(self, name: str, pos: np.ndarray, quat: np.ndarray | None = None) -> None:
        body = self._body(name)
        bc = self._client()
        if not self._scene.object(name).movable:
            raise ValueError(f"object {name!r} is fixed to the world and cannot be moved")
        if quat is None:
            orn = bc.getBasePositionAndOrientation(body)[1]
        else:
            quat = np.asarray(quat, dtype=np.float64)
            if quat.shape != (4,) or not np.isfinite(quat).all() or np.linalg.norm(quat) < 1e-9:
                raise ValueError(f"quat must be a finite nonzero (w, x, y, z), got {quat}")
            orn = wxyz_to_xyzw(quat / np.linalg.norm(quat))
        pos = np.asarray(pos, dtype=np.float64)
        if pos.shape != (3,) or not np.isfinite(pos).all():
            raise ValueError(f"pos must be a finite (3,) array, got {pos}")
        bc.resetBasePositionAndOrientation(body, pos.tolist(), orn)
        bc.resetBaseVelocity(body, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0])

    def finger_contacts(self, name: str) -> tuple[bool, bool]:
        body = self._body(name)
        bc = self._client()
        left, right = (
            len(bc.getContactPoints(self.robot, body, linkIndexA=j)) > 0 for j in self._fingers
        )
        return left, right

    # ---- rendering ----------------------------------------------------------------------
    def camera_spec(self, camera: str) -> CameraSpec:
        """The CameraSpec used for `camera` (the scene's, else the default at image_size).

        Like the MuJoCo backend, a scene without cameras gets both default cameras; a scene
        that lists cameras gets only those.
        """
        self._require_built()
        if self._cameras:
            if camera not in self._cameras:
                raise KeyError(f"no camera named {camera!r}; cameras: {sorted(self._cameras)}")
            return self._cameras[camera]
        if camera not in _CAMERAS:
            raise KeyError(f"no camera named {camera!r}; cameras: {sorted(_CAMERAS)}")
        return CameraSpec(name=camera, height=self.image_size[0], width=self.image_size[1])

    def render(self, camera: str) -> np.ndarray:
        self._require_built()
        if not self._render_enabled:
            raise RuntimeError("rendering is disabled (render=False); create it with render=True")
        spec = self.camera_spec(camera)
        bc = self._client()
        if camera == "scene":
            view = bc.computeViewMatrix(list(spec.eye), list(spec.target), [0.0, 0.0, 1.0])
            fovy = spec.fovy
        else:
            eye, target, up = cam.wrist_view(*self._hand_frame()[:2])
            view = bc.computeViewMatrix(eye, target, up)
            fovy = WRIST_CAMERA_FOVY
        proj = cam.projection_matrix(fovy, spec.width, spec.height)
        return cam.grab(bc, spec.width, spec.height, view, proj, self._egl_plugin is not None,
                        self._light)  # fmt: skip


_ARM_LOW = np.array([lo for lo, _ in ARM_JOINT_LIMITS])
_ARM_HIGH = np.array([hi for _, hi in ARM_JOINT_LIMITS])
_CAMERAS = ("scene", "wrist")


def _check_q(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    if q.shape != (ARM_JOINTS,) or not np.isfinite(q).all():
        raise ValueError(f"q must be a finite ({ARM_JOINTS},) array of joint angles, got {q}")
    return q


__all__ = ["PyBulletConfig", "PyBulletPhysics", "wxyz_to_xyzw"]
