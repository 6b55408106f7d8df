"""The MuJoCo model of the Panda + table + scene objects, built programmatically with MjSpec.

    pybullet_data/franka_panda/panda.urdf --(package:// resolved, MjSpec URDF parser)--> robot spec
        + position actuators (7 joints, 2 fingers), gravity compensation, finger pads, TCP site
        + table, floor, lights, scene camera, wrist camera
        + SceneSpec objects (primitives; containers are bases + walls)  --> mujoco.MjModel

Why from the URDF rather than a copied MJCF: PyBullet loads the very same file, so both engines
share kinematics, link masses and joint limits. MuJoCo rejects `package://` paths and makes no
actuators from a URDF, so both are added here. The parsed robot spec is cached and copied per
episode (compiling a scene takes ~15 ms).
"""

from __future__ import annotations

import functools
import os
import re

import mujoco
import numpy as np

from sim.scene import TABLE_CENTER, TABLE_HALF_EXTENTS, TABLE_HEIGHT, CameraSpec, SceneSpec
from sim.variation import SceneVariation, light_factors, resolve, texture_image
from vla.robot.panda import (
    ARM_JOINT_NAMES,
    FINGER_JOINT_NAMES,
    HAND_LINK,
    HOME_Q,
    TCP_OFFSET,
    WRIST_CAMERA_FOVY,
    WRIST_CAMERA_POS,
)

TIMESTEP = 0.004  # s per physics substep
TCP_SITE = "tcp"
LEFT_FINGER, RIGHT_FINGER = "panda_leftfinger", "panda_rightfinger"
FINGER_OPEN_Q = 0.04  # per finger joint: fully open (opening = 2 * q)

# Position servos. Gains are high because the URDF links carry large (0.1 kg m^2) inertias;
# gravity compensation on every robot body removes steady-state sag, so kp only fights motion.
ARM_KP = (4500.0, 4500.0, 3500.0, 3500.0, 2000.0, 2000.0, 2000.0)
ARM_KV = (250.0, 250.0, 180.0, 180.0, 80.0, 80.0, 80.0)
ARM_FORCE = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)  # URDF effort limits (N m)
ARM_ARMATURE = 0.1
FINGER_KP, FINGER_KV, FINGER_FORCE = 1000.0, 20.0, 20.0  # N/m, N s/m, N (URDF effort)

# Contact filtering: bit 1 = world/objects, bit 2 = robot. Robot geoms collide with objects and
# the table, never with each other (the URDF meshes of neighbouring links overlap).
WORLD_CONTYPE, WORLD_CONAFFINITY = 1, 3
ROBOT_CONTYPE, ROBOT_CONAFFINITY = 2, 0
# Only the distal links touch the workspace; the proximal ones never reach the table top.
COLLIDING_LINKS = ("panda_link6", "panda_link7", HAND_LINK)
GRASP_FRICTION = (1.5, 0.01, 0.0001)  # slide, torsion, roll (condim 4 uses slide + torsion)
OBJECT_FRICTION = (1.0, 0.005, 0.0001)
# Objects slide on the table rather than tip over when pushed low: a 5 cm cylinder pushed at
# height h tips when mu * h > radius. Geom priority makes a pair use the higher-priority geom's
# friction (instead of MuJoCo's default element-wise max): table 0.4, finger pads 1.5.
TABLE_FRICTION = (0.4, 0.005, 0.0001)
TABLE_PRIORITY, PAD_PRIORITY = 1, 2
OBJECT_CONDIM = 4


def panda_urdf_path() -> str:
    """Path of pybullet_data's Panda URDF (the single robot description of both engines)."""
    try:
        import pybullet_data
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "the MuJoCo Panda is built from pybullet_data's franka_panda/panda.urdf, and "
            "pybullet_data is not importable: `pip install pybullet` (it ships pybullet_data), "
            "or put a folder holding pybullet_data/franka_panda/ (panda.urdf + meshes) on "
            "PYTHONPATH"
        ) from exc

    return os.path.join(pybullet_data.getDataPath(), "franka_panda", "panda.urdf")


@functools.lru_cache(maxsize=1)
def _robot_urdf_text() -> str:
    path = panda_urdf_path()
    with open(path) as f:
        text = f.read()
    root = os.path.dirname(path)
    text = text.replace("package://", root + "/")
    # Unnamed <collision> elements make the parser warn about duplicate names: name them.
    counter = iter(range(10_000))
    text = re.sub(r"<collision>", lambda _: f'<collision name="col{next(counter)}">', text)
    # Keep every link as its own body (no static fusing: we need panda_hand), absolute mesh
    # paths, and render the (lighter) collision meshes instead of the visual ones.
    compiler = (
        '<mujoco><compiler strippath="false" discardvisual="true" fusestatic="false" '
        'balanceinertia="true"/></mujoco>'
    )
    return re.sub(r"<robot ([^>]*)>", lambda m: f"<robot {m.group(1)}>{compiler}", text, count=1)


def _look_at_quat(eye, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Quaternion (wxyz) of a MuJoCo camera at `eye` looking at `target` (camera looks along -z)."""
    f = np.asarray(target, float) - np.asarray(eye, float)
    f /= np.linalg.norm(f)
    x = np.cross(f, up)
    x /= np.linalg.norm(x)
    y = np.cross(x, f)
    mat = np.stack([x, y, -f], axis=1)  # columns: camera x, y, z in the world
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, mat.ravel())
    return quat


@functools.lru_cache(maxsize=1)
def _robot_spec() -> mujoco.MjSpec:
    """The URDF robot + actuators, gravity compensation, collision filtering, finger pads, TCP
    site and wrist camera. Cached: callers copy it."""
    robot = mujoco.MjSpec.from_string(_robot_urdf_text())
    # discardvisual applied while parsing; left on, the compiler would also drop our visual-only
    # geoms (contype = conaffinity = 0: finger meshes, the floor, region patches).
    robot.compiler.discardvisual = False
    for body in robot.bodies:
        if body.name != "world":
            body.gravcomp = 1.0
    for geom in robot.geoms:
        body = geom.parent.name
        geom.rgba = (0.25, 0.25, 0.27, 1.0) if "finger" in body else (0.9, 0.9, 0.9, 1.0)
        if body in COLLIDING_LINKS:
            geom.contype, geom.conaffinity = ROBOT_CONTYPE, ROBOT_CONAFFINITY
        else:  # finger meshes are replaced by boxes below; proximal links never touch anything
            geom.contype, geom.conaffinity = 0, 0
    for name, kp, kv, force in zip(ARM_JOINT_NAMES, ARM_KP, ARM_KV, ARM_FORCE, strict=True):
        joint = robot.joint(name)
        joint.armature = ARM_ARMATURE
        joint.damping = 1.0
        _position_actuator(robot, name, kp, kv, force, tuple(joint.range))
    for name in FINGER_JOINT_NAMES:
        robot.joint(name).armature = 0.01
        _position_actuator(robot, name, FINGER_KP, FINGER_KV, FINGER_FORCE, (0.0, FINGER_OPEN_Q))
    for finger, sign in ((LEFT_FINGER, 1.0), (RIGHT_FINGER, -1.0)):
        body = robot.body(finger)
        # Box pad at the fingertip (inner face at the finger's y = 0) and a box for the finger's
        # outer part, which pushes objects. Boxes give stable, predictable grasps.
        _robot_box(body, f"{finger}_pad", (0.0085, 0.004, 0.009), (0.0, sign * 0.004, 0.0445))
        _robot_box(body, f"{finger}_body", (0.0105, 0.011, 0.018), (0.0, sign * 0.013, 0.018))
    hand = robot.body(HAND_LINK)
    hand.add_site(name=TCP_SITE, pos=(0.0, 0.0, TCP_OFFSET), size=(0.005, 0, 0), group=3)
    # Camera looking along the hand's +z: camera -z = hand +z; image "up" = hand +x.
    cam_mat = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]]).T
    cam_quat = np.zeros(4)
    mujoco.mju_mat2Quat(cam_quat, np.ascontiguousarray(cam_mat).ravel())
    hand.add_camera(name="wrist", pos=WRIST_CAMERA_POS, quat=cam_quat, fovy=WRIST_CAMERA_FOVY)
    return robot


def _robot_box(body, name: str, half, pos) -> None:
    body.add_geom(
        name=name,
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=half,
        pos=pos,
        rgba=(0.2, 0.2, 0.2, 1.0),
        contype=ROBOT_CONTYPE,
        conaffinity=ROBOT_CONAFFINITY,
        condim=OBJECT_CONDIM,
        friction=GRASP_FRICTION,
        priority=PAD_PRIORITY,
        mass=0.0,
        group=3,  # hidden in renders: the finger meshes are drawn instead
    )


def _position_actuator(spec, joint: str, kp: float, kv: float, force: float, rng) -> None:
    act = spec.add_actuator(name=joint, target=joint, trntype=mujoco.mjtTrn.mjTRN_JOINT)
    act.gaintype = mujoco.mjtGain.mjGAIN_FIXED
    act.biastype = mujoco.mjtBias.mjBIAS_AFFINE
    act.gainprm[0] = kp
    act.biasprm[0:3] = [0.0, -kp, -kv]
    act.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
    act.ctrlrange = rng
    act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
    act.forcerange = (-force, force)


def _add_world(spec: mujoco.MjSpec, cameras: list[CameraSpec], v: SceneVariation) -> None:
    spec.option.timestep = TIMESTEP
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.option.impratio = 10.0  # stiffer friction cone: grasped objects do not slip
    spec.visual.quality.shadowsize = 0  # shadows cost ~15x per frame in Mesa's software GL
    spec.visual.quality.offsamples = 0  # 4x MSAA costs ~2x per frame in Mesa (~2 ms at 128 px)
    spec.visual.headlight.ambient = (0.35, 0.35, 0.35)
    spec.visual.headlight.diffuse = (0.5, 0.5, 0.5)
    spec.visual.headlight.specular = (0.05, 0.05, 0.05)  # no glare spot in the wrist camera
    spec.visual.map.znear = 0.005
    spec.stat.extent = 1.5
    spec.stat.center = (0.4, 0.0, 0.2)
    world = spec.worldbody
    hx, hy = TABLE_HALF_EXTENTS
    table = world.add_geom(
        name="table",
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=(hx, hy, 0.02),
        pos=(TABLE_CENTER[0], TABLE_CENTER[1], TABLE_HEIGHT - 0.02),
        rgba=(0.62, 0.5, 0.38, 1.0),
        contype=WORLD_CONTYPE,
        conaffinity=WORLD_CONAFFINITY,
        condim=3,
        friction=TABLE_FRICTION,
        priority=TABLE_PRIORITY,
    )
    floor = world.add_geom(  # a box, not a plane: planes are drawn as a grid of many quads
        name="floor",
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=(3.0, 3.0, 0.01),
        pos=(0.0, 0.0, TABLE_HEIGHT - 0.76),
        rgba=(0.35, 0.37, 0.4, 1.0),
        contype=0,
        conaffinity=0,
    )
    light = world.add_light(pos=(0.5, 0.0, 1.5), dir=(0.0, 0.0, -1.0), castshadow=False,
                            diffuse=(0.6, 0.6, 0.6), specular=(0.1, 0.1, 0.1))  # fmt: skip
    if not v.is_identity:
        _vary_world(spec, table, floor, light, v)
    for cam in cameras:
        if cam.name == "wrist":
            continue  # attached to the hand in _add_robot
        world.add_camera(name=cam.name, pos=cam.eye, quat=_look_at_quat(cam.eye, cam.target),
                         fovy=cam.fovy)  # fmt: skip


def _vary_world(spec: mujoco.MjSpec, table, floor, light, v: SceneVariation) -> None:
    """Light, table/floor look and table friction of a SceneVariation (the rest: resolve())."""
    k = light_factors(v)
    head = spec.visual.headlight
    head.ambient, head.diffuse = np.asarray(head.ambient) * k, np.asarray(head.diffuse) * k
    light.diffuse = np.asarray(light.diffuse) * k
    light.ambient = np.asarray(light.ambient) * k
    if v.light_shift_m != (0.0, 0.0, 0.0):
        light.pos = np.asarray(light.pos) + np.asarray(v.light_shift_m)
        aim = np.array([TABLE_CENTER[0], TABLE_CENTER[1], TABLE_HEIGHT]) - light.pos
        light.dir = aim / np.linalg.norm(aim)
    if v.table_rgba is not None:
        table.rgba = v.table_rgba
    if v.floor_rgba is not None:
        floor.rgba = v.floor_rgba
    if v.table_texture is not None:
        img = texture_image(v, table.rgba)
        tex = spec.add_texture(name="table_tex", type=mujoco.mjtTexture.mjTEXTURE_2D,
                               width=img.shape[1], height=img.shape[0], nchannel=3)  # fmt: skip
        tex.data = img.tobytes()
        mat = spec.add_material(name="table_mat", texrepeat=(4.0, 4.0), texuniform=True)
        mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = "table_tex"
        table.material = "table_mat"
        table.rgba = (1.0, 1.0, 1.0, float(table.rgba[3]))  # the texture carries the colour
    table.friction = np.asarray(table.friction) * v.friction_scale


_GEOM_TYPES = {
    "box": mujoco.mjtGeom.mjGEOM_BOX,
    "cylinder": mujoco.mjtGeom.mjGEOM_CYLINDER,
    "sphere": mujoco.mjtGeom.mjGEOM_SPHERE,
}


def _add_objects(spec: mujoco.MjSpec, scene: SceneSpec) -> None:
    v = scene.variation
    friction = (
        OBJECT_FRICTION if v is None else tuple(f * v.friction_scale for f in OBJECT_FRICTION)
    )
    for obj in scene.objects:
        body = spec.worldbody.add_body(name=obj.name, pos=obj.pos, quat=obj.quat)
        if obj.movable:
            body.add_freejoint(name=f"{obj.name}/free")
        colliding = [g for g in obj.geoms if g.collide]
        for i, g in enumerate(obj.geoms):
            if g.kind not in _GEOM_TYPES:
                raise ValueError(f"{obj.name}: geom kind {g.kind!r} not in {sorted(_GEOM_TYPES)}")
            size = tuple(g.size) + (0.0,) * (3 - len(g.size))
            geom = body.add_geom(name=f"{obj.name}/g{i}", type=_GEOM_TYPES[g.kind], size=size,
                                 pos=g.pos, rgba=g.rgba)  # fmt: skip
            if g.collide:
                geom.contype, geom.conaffinity = WORLD_CONTYPE, WORLD_CONAFFINITY
                geom.condim = OBJECT_CONDIM
                geom.friction = friction
                geom.mass = obj.mass / len(colliding)
            else:  # visual-only marker (e.g. a region patch)
                geom.contype, geom.conaffinity = 0, 0
                geom.mass = 0.0 if colliding else 1e-3
                geom.group = 1


def build_spec(scene: SceneSpec) -> mujoco.MjSpec:
    """MjSpec of the Panda (at its home keyframe), the table, cameras and the scene's objects.
    A scene with a variation must be resolved first (sim.variation.resolve; build_model and
    MuJoCoPhysics.build do it): this applies only the look and friction."""
    spec = _robot_spec().copy()
    spec.modelname = "panda_tabletop"
    cameras = scene.cameras or [CameraSpec("scene"), CameraSpec("wrist")]
    _add_world(spec, cameras, scene.variation or SceneVariation())
    _add_objects(spec, scene)
    return spec


def home_qpos(model: mujoco.MjModel, scene: SceneSpec) -> np.ndarray:
    """Full qpos of the home keyframe: arm at HOME_Q (or the scene's), fingers open, objects at
    their initial poses."""
    qpos = model.qpos0.copy()
    arm = HOME_Q if scene.robot_home is None else scene.robot_home
    for name, q in zip(ARM_JOINT_NAMES, arm, strict=True):
        qpos[model.joint(name).qposadr[0]] = q
    for name in FINGER_JOINT_NAMES:
        qpos[model.joint(name).qposadr[0]] = FINGER_OPEN_Q
    return qpos


def build_model(scene: SceneSpec) -> mujoco.MjModel:
    """Compile the scene; the model carries a `home` keyframe (qpos + actuator targets)."""
    scene = resolve(scene)
    spec = build_spec(scene)
    model = spec.compile()
    qpos = home_qpos(model, scene)
    ctrl = np.array(list(HOME_Q if scene.robot_home is None else scene.robot_home)
                    + [FINGER_OPEN_Q, FINGER_OPEN_Q])  # fmt: skip
    spec.add_key(name="home", qpos=qpos, ctrl=ctrl)
    return spec.compile()
