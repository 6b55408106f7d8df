"""The PyBullet backend against the Physics contract (fast: a few seconds on one core)."""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from sim.physics.pybullet_mesh import box_mesh, cylinder_mesh, sphere_mesh
from sim.physics.pybullet_physics import PyBulletConfig, PyBulletPhysics
from sim.physics.pybullet_scene import ContactConfig, wxyz_to_xyzw, xyzw_to_wxyz
from sim.scene import COLORS, TABLE_HEIGHT, CameraSpec, GeomSpec, ObjectSpec, SceneSpec
from vla.robot.panda import GRIPPER_MAX_OPENING, HOME_Q, TCP_OFFSET

CUBE_HALF = 0.02
SIZE = {"height": 64, "width": 96}  # non-square on purpose: catches swapped axes


def make_scene(cube_xy=(0.5, 0.0)) -> SceneSpec:
    box = (CUBE_HALF,) * 3
    wall = (0.005, 0.06, 0.025)
    return SceneSpec(
        objects=[
            ObjectSpec("red_cube", "cube", "red", (GeomSpec("box", box, COLORS["red"]),),
                       (*cube_xy, TABLE_HEIGHT + CUBE_HALF)),
            ObjectSpec("blue_cylinder", "cylinder", "blue",
                       (GeomSpec("cylinder", (0.02, 0.03), COLORS["blue"]),),
                       (0.45, 0.25, TABLE_HEIGHT + 0.03)),
            ObjectSpec("green_bin", "bowl", "green", (
                GeomSpec("box", (0.06, 0.06, 0.004), COLORS["green"], (0, 0, 0.004)),
                GeomSpec("box", wall, COLORS["green"], (0.055, 0, 0.025)),
                GeomSpec("box", wall, COLORS["green"], (-0.055, 0, 0.025)),
            ), (0.6, -0.25, TABLE_HEIGHT), movable=False),
            ObjectSpec("yellow_region", "region", "yellow",
                       (GeomSpec("box", (0.05, 0.05, 0.001), COLORS["yellow"], collide=False),),
                       (0.3, -0.2, TABLE_HEIGHT + 0.001), movable=False),
        ],
        cameras=[CameraSpec("scene", **SIZE), CameraSpec("wrist", **SIZE)],
    )  # fmt: skip


@pytest.fixture
def physics():
    phys = PyBulletPhysics(image_size=(64, 96))
    phys.build(make_scene())
    yield phys
    phys.close()


def control_steps(phys: PyBulletPhysics, seconds: float) -> None:
    phys.step(int(round(seconds / phys.timestep)))


def test_home_pose_is_above_table_pointing_down(physics):
    np.testing.assert_allclose(physics.joint_positions(), HOME_Q, atol=1e-9)
    assert physics.gripper_opening() == pytest.approx(GRIPPER_MAX_OPENING)
    pos, quat = physics.ee_pose()
    assert 0.2 < pos[0] < 0.6 and abs(pos[1]) < 0.05 and pos[2] > TABLE_HEIGHT + 0.3
    hand_z = Rotation.from_quat(wxyz_to_xyzw(quat)).as_matrix()[:, 2]
    np.testing.assert_allclose(hand_z, [0, 0, -1], atol=1e-3)
    assert np.linalg.norm(quat) == pytest.approx(1.0)


def test_quaternion_order_round_trip():
    wxyz = np.array([0.5, 0.5, -0.5, 0.5])
    assert wxyz_to_xyzw(wxyz) == [0.5, -0.5, 0.5, 0.5]
    np.testing.assert_allclose(xyzw_to_wxyz(wxyz_to_xyzw(wxyz)), wxyz)


@pytest.mark.parametrize(
    "mesh, half, volume",
    [(box_mesh((0.02, 0.03, 0.04)), (0.02, 0.03, 0.04), 8 * 0.02 * 0.03 * 0.04),
     (cylinder_mesh(0.05, 0.01), (0.05, 0.05, 0.01), np.pi * 0.05**2 * 0.02),
     (sphere_mesh(0.03), (0.03, 0.03, 0.03), 4 / 3 * np.pi * 0.03**3)],
)  # fmt: skip
def test_visual_meshes_are_closed_outward_and_sized(mesh, half, volume):
    verts, norms, tris = mesh
    np.testing.assert_allclose(np.abs(verts).max(axis=0), half, rtol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(norms, axis=1), 1.0, rtol=1e-9)
    a, b, c = (verts[tris[:, k]] for k in range(3))
    face = np.cross(b - a, c - a)
    keep = np.linalg.norm(face, axis=1) > 1e-12  # sphere poles have degenerate triangles
    # counter-clockwise seen from outside: face normals agree with the vertex normals
    assert (np.einsum("ij,ij->i", face, norms[tris[:, 0]])[keep] > 0).all()
    # closed and outward: the signed volume is the solid's (polygonal: a little less)
    signed = np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6
    assert 0.85 * volume < signed <= volume * (1 + 1e-9)


def test_contact_pairs_reproduce_mujoco_friction(physics):
    """Per-body coefficients, combined by Bullet's rules, give the configured pair values."""
    contact = ContactConfig()
    bc = physics._bc
    cube, table = physics._bodies["red_cube"], physics.table
    finger = physics._fingers[0]

    def coeffs(body, link):
        info = bc.getDynamicsInfo(body, link)
        return info[1], info[7], info[6]  # lateral, spinning, rolling

    def pair(a, b):  # btManifoldResult::calculateCombined*Friction
        return (a[0] * b[0], a[1] * b[0] + b[1] * a[0], a[2] * b[0] + b[2] * a[0])

    obj = coeffs(cube, -1)
    np.testing.assert_allclose(pair(obj, obj), contact.object_pair, rtol=1e-6)
    np.testing.assert_allclose(pair(obj, coeffs(table, -1)), contact.table_pair, rtol=1e-6)
    np.testing.assert_allclose(pair(obj, coeffs(physics.robot, finger)), contact.finger_pair,
                               rtol=1e-6)  # fmt: skip
    with pytest.raises(ValueError, match="table_pair"):
        ContactConfig(table_pair=(0.4, 0.0, 0.0001))


def test_jacobian_matches_finite_differences(physics):
    q0 = np.array(HOME_Q) + np.array([0.3, 0.2, -0.2, 0.3, 0.4, -0.3, 0.2])
    physics.set_joint_positions(q0)
    jac = physics.ee_jacobian()
    assert jac.shape == (6, 7)
    eps = 1e-3  # central differences; PyBullet's link poses carry ~1e-8 m of rounding noise
    numeric = np.zeros((6, 7))
    for i in range(7):
        dq = np.zeros(7)
        dq[i] = eps
        physics.set_joint_positions(q0 - dq)
        p0, r0 = physics.ee_pose()
        physics.set_joint_positions(q0 + dq)
        p1, r1 = physics.ee_pose()
        numeric[:3, i] = (p1 - p0) / (2 * eps)
        rot = Rotation.from_quat(wxyz_to_xyzw(r1)) * Rotation.from_quat(wxyz_to_xyzw(r0)).inv()
        numeric[3:, i] = rot.as_rotvec() / (2 * eps)
    np.testing.assert_allclose(jac, numeric, atol=1e-4)


def test_tcp_is_offset_along_hand_z(physics):
    pos, quat = physics.ee_pose()
    hand_pos, hand_rot, _ = physics._hand_frame()
    np.testing.assert_allclose(pos, hand_pos + TCP_OFFSET * hand_rot[:, 2], atol=1e-9)
    np.testing.assert_allclose(np.abs(quat), np.abs(xyzw_to_wxyz(_)), atol=1e-9)


def test_joint_targets_are_tracked(physics):
    target = np.array(HOME_Q) + np.array([0.2, 0.15, -0.1, 0.2, 0.3, -0.2, 0.4])
    physics.set_joint_targets(target, gripper_closed=True)
    control_steps(physics, 1.5)
    np.testing.assert_allclose(physics.joint_positions(), target, atol=5e-3)
    assert physics.gripper_opening() < 0.005  # closed on nothing
    physics.set_joint_targets(target, gripper_closed=False)
    control_steps(physics, 1.0)
    assert physics.gripper_opening() == pytest.approx(GRIPPER_MAX_OPENING, abs=2e-3)


def test_objects_rest_still_on_table(physics):
    before = {n: physics.object_pose(n) for n in ("red_cube", "blue_cylinder", "green_bin")}
    control_steps(physics, 2.0)
    for name, (pos, quat) in before.items():
        after_pos, after_quat = physics.object_pose(name)
        np.testing.assert_allclose(after_pos, pos, atol=1e-3, err_msg=name)
        assert abs(np.dot(after_quat, quat)) > 1 - 1e-5, name
    np.testing.assert_allclose(physics.joint_positions(), HOME_Q, atol=2e-3)


def test_set_object_pose_and_queries(physics):
    quat = Rotation.from_euler("z", 0.7).as_quat(scalar_first=True)
    physics.set_object_pose("red_cube", np.array([0.4, 0.1, 0.3]), quat)
    pos, got = physics.object_pose("red_cube")
    np.testing.assert_allclose(pos, [0.4, 0.1, 0.3])
    np.testing.assert_allclose(got, quat, atol=1e-9)  # (w, x, y, z) in, (w, x, y, z) out
    control_steps(physics, 1.0)  # it falls back onto the table, keeping its yaw
    pos, got = physics.object_pose("red_cube")
    assert pos[2] == pytest.approx(TABLE_HEIGHT + CUBE_HALF, abs=2e-3)
    assert abs(np.dot(got, quat)) > 0.999
    with pytest.raises(KeyError, match="red_cube"):
        physics.object_pose("purple_cube")
    with pytest.raises(ValueError, match="finite"):
        physics.set_object_pose("red_cube", np.array([np.nan, 0, 0]))


def test_grasp_contacts_and_hold(physics):
    """Close the fingers on a cube placed at the TCP: both pads touch, the cube is lifted."""
    assert physics.finger_contacts("red_cube") == (False, False)
    # Fingers just wider than the cube, so it is held before it can fall out.
    physics.set_joint_positions(np.array(HOME_Q), gripper_opening=2 * CUBE_HALF + 0.004)
    tcp, quat = physics.ee_pose()
    physics.set_object_pose("red_cube", tcp, quat)
    physics.set_joint_targets(np.array(HOME_Q), gripper_closed=True)
    control_steps(physics, 1.0)
    assert physics.finger_contacts("red_cube") == (True, True)
    assert physics.finger_contacts("blue_cylinder") == (False, False)
    assert physics.gripper_opening() == pytest.approx(2 * CUBE_HALF, abs=3e-3)
    np.testing.assert_allclose(physics.object_pose("red_cube")[0], tcp, atol=5e-3)


def test_render_shapes_and_content(physics):
    scene = physics.render("scene")
    wrist = physics.render("wrist")
    assert scene.shape == (64, 96, 3) and scene.dtype == np.uint8
    assert wrist.shape == (64, 96, 3) and wrist.dtype == np.uint8
    assert scene.std() > 10 and wrist.std() > 10
    # The red cube is in view of both cameras: some pixels are strongly red.
    for img in (scene, wrist):
        rgb = img.astype(int)
        red = rgb[..., 0] - np.maximum(rgb[..., 1], rgb[..., 2]) > 60
        assert red.sum() > 3
    # Moving the arm changes the wrist view; the scene camera sees the cube move.
    physics.set_object_pose("red_cube", np.array([0.75, 0.3, 0.02]))
    assert np.abs(physics.render("scene").astype(int) - scene).sum() > 0
    physics.set_joint_positions(np.array(HOME_Q) + np.array([0.5, 0, 0, 0, 0, 0, 0]))
    assert np.abs(physics.render("wrist").astype(int) - wrist).mean() > 5
    with pytest.raises(KeyError, match="scene"):
        physics.render("overhead")


def test_two_instances_do_not_interfere():
    a, b = PyBulletPhysics(image_size=(64, 96)), PyBulletPhysics(image_size=(64, 96))
    try:
        a.build(make_scene(cube_xy=(0.5, 0.0)))
        b.build(make_scene(cube_xy=(0.4, 0.2)))
        target = np.array(HOME_Q) + 0.3
        a.set_joint_targets(target, gripper_closed=True)
        control_steps(a, 1.0)
        np.testing.assert_allclose(b.joint_positions(), HOME_Q, atol=1e-9)
        assert b.gripper_opening() == pytest.approx(GRIPPER_MAX_OPENING)
        np.testing.assert_allclose(b.object_pose("red_cube")[0], [0.4, 0.2, 0.02], atol=1e-9)
        np.testing.assert_allclose(a.object_pose("red_cube")[0][:2], [0.5, 0.0], atol=1e-3)
        b.close()
        assert np.abs(a.joint_positions() - target).max() < 5e-3  # a survives b's close
    finally:
        a.close()
        b.close()


def test_rebuild_resets_state(physics):
    physics.set_joint_targets(np.array(HOME_Q) + 0.2, gripper_closed=True)
    physics.set_object_pose("red_cube", np.array([0.3, 0.3, 0.02]))
    control_steps(physics, 0.5)
    physics.build(make_scene())
    np.testing.assert_allclose(physics.joint_positions(), HOME_Q, atol=1e-9)
    np.testing.assert_allclose(physics.object_pose("red_cube")[0], [0.5, 0.0, 0.02])
    control_steps(physics, 0.2)
    np.testing.assert_allclose(physics.joint_positions(), HOME_Q, atol=2e-3)


def test_bad_input_is_rejected(physics):
    with pytest.raises(ValueError, match="7"):
        physics.set_joint_targets(np.zeros(6), gripper_closed=False)
    with pytest.raises(ValueError, match="finite"):
        physics.set_joint_positions(np.full(7, np.inf))
    with pytest.raises(ValueError, match="gripper_opening"):
        physics.set_joint_positions(np.array(HOME_Q), gripper_opening=float("nan"))
    with pytest.raises(ValueError, match="fixed"):
        physics.set_object_pose("green_bin", np.array([0.5, 0.0, 0.0]))
    with pytest.raises(ValueError, match="image_size"):
        PyBulletPhysics(image_size=(128, 128)).build(make_scene())
    no_render = PyBulletPhysics(image_size=(64, 96), render=False)
    no_render.build(make_scene())
    with pytest.raises(RuntimeError, match="render=True"):
        no_render.render("scene")
    no_render.close()
    with pytest.raises(ValueError, match="renderer"):
        PyBulletConfig(renderer="opengl")
    fresh = PyBulletPhysics(image_size=(64, 96))
    with pytest.raises(RuntimeError, match="build"):
        fresh.joint_positions()
    fresh.close()
    with pytest.raises(RuntimeError, match="closed"):
        fresh.build(make_scene())


def test_egl_renderer_renders_or_falls_back_with_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        phys = PyBulletPhysics(image_size=(64, 96), renderer="egl")
    try:
        if phys.renderer == "tiny":  # fell back: the reason must have been said
            assert any("ER_TINY_RENDERER" in str(w.message) for w in caught)
        else:  # the plugin serves one client per process: a second one is refused
            with pytest.raises(RuntimeError, match="one client per process"):
                PyBulletPhysics(image_size=(64, 96), renderer="egl")
        phys.build(make_scene())
        img = phys.render("scene")
        assert img.shape == (64, 96, 3) and img.dtype == np.uint8 and img.std() > 10
    finally:
        phys.close()
    again = PyBulletPhysics(image_size=(64, 96), renderer="egl")  # allowed after close()
    again.close()


@pytest.mark.skipif(
    importlib.util.find_spec("sim.physics.mujoco_physics") is None,
    reason="MuJoCo backend (sim/physics/mujoco_physics.py) not present",
)
def test_ee_pose_matches_mujoco_backend(physics):
    """Both engines load the same URDF: same joint angles -> same TCP pose and Jacobian.

    Measured over 50 random configurations: position <= 5e-8 m, orientation <= 2.2e-7 rad,
    Jacobian <= 2e-15 (PyBullet's link quaternions carry ~2e-8 float rounding).
    """
    from sim.physics.mujoco_physics import MuJoCoPhysics

    mj = MuJoCoPhysics(image_size=(64, 96), render=False)
    mj.build(make_scene())
    rng = np.random.default_rng(0)
    try:
        for _ in range(5):
            q = np.array(HOME_Q) + rng.uniform(-0.4, 0.4, size=7)
            physics.set_joint_positions(q)
            mj.set_joint_positions(q)
            (p_pb, q_pb), (p_mj, q_mj) = physics.ee_pose(), mj.ee_pose()
            np.testing.assert_allclose(p_pb, p_mj, atol=1e-6)
            r_pb, r_mj = (Rotation.from_quat(wxyz_to_xyzw(x)) for x in (q_pb, q_mj))
            assert (r_pb * r_mj.inv()).magnitude() < 1e-6
            np.testing.assert_allclose(physics.ee_jacobian(), mj.ee_jacobian(), atol=1e-9)
    finally:
        mj.close()


def _red_centroid(img: np.ndarray) -> np.ndarray:
    rgb = img.astype(int)
    rows, cols = np.nonzero(rgb[..., 0] - np.maximum(rgb[..., 1], rgb[..., 2]) > 60)
    assert len(rows) > 3, "red cube not visible"
    return np.array([rows.mean(), cols.mean()])


@pytest.mark.skipif(
    importlib.util.find_spec("sim.physics.mujoco_physics") is None,
    reason="MuJoCo backend (sim/physics/mujoco_physics.py) not present",
)
def test_cameras_match_mujoco(physics):
    """Same scene + arm pose: the red cube appears at the same pixel in both engines' scene and
    wrist images (measured: within 1 px; the renderers' lighting differs)."""
    from sim.physics.mujoco_physics import MuJoCoPhysics

    mj = MuJoCoPhysics(image_size=(64, 96))
    try:
        mj.build(make_scene())
        q = np.array(HOME_Q) + np.array([0.3, 0.2, 0.0, 0.1, 0.0, 0.0, 0.3])
        for phys in (physics, mj):
            phys.set_joint_positions(q)
        for camera in ("scene", "wrist"):
            np.testing.assert_allclose(
                _red_centroid(physics.render(camera)), _red_centroid(mj.render(camera)), atol=1.5
            )
    finally:
        mj.close()
