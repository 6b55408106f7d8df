"""The MuJoCo Panda model: compiles from the URDF, has its actuators/keyframe/cameras, holds the
home pose, and runs without MuJoCo warnings (as mujoco_menagerie's model tests do)."""

from __future__ import annotations

import os

import mujoco
import numpy as np
import pytest

from sim.robot.panda_mujoco import build_model
from sim.tasks import SUITES
from sim.tasks.base import SPLITS
from vla.robot.panda import ARM_JOINT_NAMES, FINGER_JOINT_NAMES, HOME_Q, TCP_OFFSET


@pytest.fixture(scope="module")
def scene():
    return SUITES["pick_place"]["place"].sample_episode(np.random.default_rng(0)).scene


def test_model_has_actuators_keyframe_cameras(scene):
    model = build_model(scene)
    names = [model.actuator(i).name for i in range(model.nu)]
    assert names == list(ARM_JOINT_NAMES) + list(FINGER_JOINT_NAMES)
    assert model.key("home").qpos[: len(HOME_Q)] == pytest.approx(HOME_Q)
    assert {model.camera(i).name for i in range(model.ncam)} == {"scene", "wrist"}
    for obj in scene.objects:
        assert model.body(obj.name).id > 0


@pytest.mark.parametrize("family", list(SUITES["pick_place"]))
def test_every_scene_holds_home_without_warnings(family):
    for split in SPLITS:
        ep = SUITES["pick_place"][family].sample_episode(np.random.default_rng(3), split)
        model = build_model(ep.scene)
        data = mujoco.MjData(model)
        mujoco.mj_resetDataKeyframe(model, data, model.key("home").id)
        mujoco.mj_step(model, data, nstep=500)  # 1 s
        assert [w.number for w in data.warning] == [0] * len(data.warning)
        q = data.qpos[[model.joint(n).qposadr[0] for n in ARM_JOINT_NAMES]]
        np.testing.assert_allclose(q, HOME_Q, atol=2e-3)  # gravity compensation + servos
        for obj in ep.scene.objects:  # nothing falls through the table or flies away
            np.testing.assert_allclose(data.body(obj.name).xpos[:2], obj.pos[:2], atol=5e-3)
            assert data.body(obj.name).xpos[2] > -1e-3


def test_tcp_sits_between_the_fingertips(scene):
    model = build_model(scene)
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, 0)
    mujoco.mj_forward(model, data)
    hand = data.body("panda_hand")
    expected = hand.xpos + hand.xmat.reshape(3, 3)[:, 2] * TCP_OFFSET
    np.testing.assert_allclose(data.site("tcp").xpos, expected, atol=1e-9)
    pads = [data.geom(f"panda_{s}finger_pad").xpos for s in ("left", "right")]
    np.testing.assert_allclose((pads[0] + pads[1]) / 2, expected, atol=3e-3)


def test_missing_gl_error_names_the_fix():
    import subprocess
    import sys

    code = ("from sim.physics.mujoco_physics import MuJoCoPhysics\n"
            "MuJoCoPhysics()")  # fmt: skip
    env = {**os.environ, "MUJOCO_GL": "glfw", "DISPLAY": ""}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert out.returncode != 0
    assert "MUJOCO_GL=egl" in out.stderr and "libosmesa6" in out.stderr


def test_missing_pybullet_data_names_the_fix(monkeypatch):
    import builtins

    from sim.robot import panda_mujoco

    real_import = builtins.__import__

    def no_pybullet_data(name, *args, **kwargs):
        if name == "pybullet_data":
            raise ModuleNotFoundError("No module named 'pybullet_data'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pybullet_data)
    with pytest.raises(ModuleNotFoundError, match="pip install pybullet"):
        panda_mujoco.panda_urdf_path()
