"""Scene variation (sim/variation.py): identity is a no-op, each field changes what it names, the
draw is deterministic per seed and never changes the task's episode, bad values name the fix."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import sim
from sim.env import EnvConfig
from sim.tasks import get_task
from sim.variation import (
    DISTRACTOR_COLORS,
    MAX_DISTRACTORS,
    SceneVariation,
    resolve,
    sample_variation,
    variation_for_episode,
)
from vla.constants import OBS_IMAGES_PREFIX

SIZE = (48, 48)
SCENE, WRIST = OBS_IMAGES_PREFIX + "scene", OBS_IMAGES_PREFIX + "wrist"
FAMILIES = ("pick", "place", "stack", "push")


@pytest.fixture(scope="module")
def mujoco():
    from sim.physics.mujoco_physics import MuJoCoPhysics

    physics = MuJoCoPhysics(SIZE)
    yield physics
    physics.close()


def _episode(family="place", seed=3):
    return get_task("pick_place", family).sample_episode(np.random.default_rng(seed), "train", SIZE)


def _images(physics, scene):
    physics.build(scene)
    return physics.render("scene"), physics.render("wrist")


def test_identity_variation_renders_bit_identical(mujoco):
    ep = _episode()
    plain = _images(mujoco, ep.scene)
    ident = _images(mujoco, replace(ep.scene, variation=SceneVariation(seed=7)))
    for a, b in zip(plain, ident, strict=True):
        np.testing.assert_array_equal(a, b)
    assert sample_variation(np.random.default_rng(0), 0.0) == SceneVariation()


def test_camera_shift_moves_scene_camera_not_wrist(mujoco):
    ep = _episode()
    scene0, wrist0 = _images(mujoco, ep.scene)
    for v in (SceneVariation(camera_shift_m=(0.05, 0.0, 0.0)),
              SceneVariation(camera_rotate_deg=(4.0, -3.0))):  # fmt: skip
        scene1, wrist1 = _images(mujoco, replace(ep.scene, variation=v))
        assert np.abs(scene1.astype(int) - scene0).mean() > 1.0
        np.testing.assert_array_equal(wrist1, wrist0)
    cam = resolve(replace(ep.scene, variation=SceneVariation(camera_rotate_deg=(0.0, 10.0))))
    before, after = ep.scene.cameras[0], cam.cameras[0]
    assert after.eye == before.eye and after.target[2] > before.target[2]  # + pitch looks up


@pytest.mark.parametrize("scale", [0.6, 1.4])
def test_light_scale_changes_brightness_in_its_direction(mujoco, scale):
    ep = _episode()
    base = _images(mujoco, ep.scene)[0].mean()
    lit = _images(mujoco, replace(ep.scene, variation=SceneVariation(light_scale=scale)))[0]
    assert (lit.mean() - base) * (scale - 1.0) > 2.0


def test_table_colour_and_texture_change_the_table_pixels(mujoco):
    ep = _episode("pick")
    rows = slice(SIZE[0] * 3 // 4, SIZE[0])  # the bottom of the scene image is table
    base = _images(mujoco, ep.scene)[0][rows]
    red = _images(
        mujoco, replace(ep.scene, variation=SceneVariation(table_rgba=(0.8, 0.1, 0.1, 1)))
    )
    assert red[0][rows, :, 0].mean() > base[..., 0].mean() + 5  # redder
    assert red[0][rows, :, 1].mean() < base[..., 1].mean() - 5
    tex = _images(mujoco, replace(ep.scene, variation=SceneVariation(table_texture="checker")))
    assert tex[0][rows].std() > base.std() + 3  # a pattern: more contrast than the plain table
    m = mujoco.model
    assert m.ntex == 1 and m.geom_matid[m.geom("table").id] >= 0


def test_distractors_add_bodies_clear_of_the_task(mujoco):
    ep = _episode("push", seed=11)
    v = SceneVariation(distractors=MAX_DISTRACTORS, seed=4)
    resolved = resolve(replace(ep.scene, variation=v))
    extra = resolved.objects[len(ep.scene.objects) :]
    assert 1 <= len(extra) <= MAX_DISTRACTORS
    for d in extra:  # colours no task object has, and well apart from the task's objects
        assert d.color in DISTRACTOR_COLORS and d.category == "distractor"
        for o in ep.scene.objects:
            assert np.hypot(d.pos[0] - o.pos[0], d.pos[1] - o.pos[1]) > 0.08
    mujoco.build(ep.scene)
    nbody = mujoco.model.nbody
    mujoco.build(replace(ep.scene, variation=v))
    assert mujoco.model.nbody == nbody + len(extra)
    # the success predicate does not see them: the solved state is still solved
    task = get_task("pick_place", "push")
    task.solved_state(mujoco, ep)
    assert task.success(mujoco, ep)


def test_friction_and_mass_scale_the_model(mujoco):
    ep = _episode("pick")
    mujoco.build(ep.scene)
    m = mujoco.model
    target = m.body(ep.target).id
    table_mu, mass = m.geom_friction[m.geom("table").id, 0], m.body_mass[target]
    mujoco.build(replace(ep.scene, variation=SceneVariation(friction_scale=1.2, mass_scale=0.8)))
    m = mujoco.model
    assert m.geom_friction[m.geom("table").id, 0] == pytest.approx(1.2 * table_mu)
    assert m.body_mass[m.body(ep.target).id] == pytest.approx(0.8 * mass)


def test_same_seed_same_variation_and_strength_scales_the_range():
    a = variation_for_episode(123, 1.0, None)
    assert a == variation_for_episode(123, 1.0, None)
    assert a != variation_for_episode(124, 1.0, None)
    fixed = SceneVariation(camera_shift_m=(0.05, 0.0, 0.0))
    assert variation_for_episode(123, 0.0, fixed) is fixed
    assert variation_for_episode(123, 0.0, None) is None
    for seed in range(30):
        v = sample_variation(np.random.default_rng(seed), 1.0)
        assert max(abs(x) for x in v.camera_shift_m) <= 0.03
        assert 0.6 <= v.light_scale <= 1.4 and 0.8 <= v.friction_scale <= 1.2
        assert 0.8 <= v.mass_scale <= 1.25 and 0 <= v.distractors <= 2


@pytest.mark.parametrize("family", FAMILIES)
def test_task_episode_is_the_same_with_and_without_variation(family):
    plain = sim.make(family, render=False)
    varied = sim.make(family, render=False, randomize=1.0)
    for seed in (0, 1):
        _, i0 = plain.reset(seed=seed)
        _, i1 = varied.reset(seed=seed)
        assert i0["task"] == i1["task"] and i1["variation"] is not None
        assert plain.episode.scene.objects == varied.episode.scene.objects  # poses included
        # the built world holds the task's objects at the same (settled) poses, plus distractors
        for o in plain.episode.scene.objects:
            p0, _ = plain.physics.object_pose(o.name)
            p1, _ = varied.physics.object_pose(o.name)
            np.testing.assert_allclose(p0[:2], p1[:2], atol=2e-3)


def test_randomized_env_is_deterministic_per_seed():
    a = sim.make("place", image_size=SIZE, randomize=1.0)
    b = sim.make("place", image_size=SIZE, randomize=1.0)
    oa, _ = a.reset(seed=9)
    ob, _ = b.reset(seed=9)
    np.testing.assert_array_equal(oa[SCENE], ob[SCENE])
    np.testing.assert_array_equal(oa[WRIST], ob[WRIST])
    a.close()
    b.close()


@pytest.mark.parametrize(
    "kwargs, fix",
    [
        ({"camera_shift_m": (0.5, 0.0, 0.0)}, "camera_shift_m must be a tuple of 3 numbers"),
        ({"camera_rotate_deg": (1.0,)}, "(yaw, pitch)"),
        ({"light_scale": 0.0}, "light_scale must be a number in"),
        ({"table_rgba": (1.0, 0.0, 0.0)}, "RGBA in [0, 1], or None"),
        ({"table_texture": "marble"}, "one of ('checker', 'noise', 'stripes')"),
        ({"distractors": 9}, f"int in [0, {MAX_DISTRACTORS}]"),
        ({"friction_scale": -1.0}, "friction_scale must be a number"),
        ({"mass_scale": 100.0}, "mass_scale must be a number"),
    ],
)
def test_bad_values_raise_naming_the_fix(kwargs, fix):
    with pytest.raises(ValueError) as err:
        SceneVariation(**kwargs)
    assert fix in str(err.value)


def test_bad_env_settings_raise_naming_the_fix():
    with pytest.raises(ValueError, match="randomize must be in"):
        EnvConfig(randomize=3.0)
    with pytest.raises(ValueError, match="exclude each other"):
        EnvConfig(variation=SceneVariation(light_scale=0.8), randomize=1.0)
    with pytest.raises(ValueError, match="strength"):
        sample_variation(np.random.default_rng(0), -0.1)


def test_pybullet_applies_cheap_fields_and_names_the_rest():
    pytest.importorskip("pybullet")
    from sim.physics.pybullet_physics import PyBulletPhysics

    ep = _episode()
    physics = PyBulletPhysics(SIZE)
    try:
        physics.build(ep.scene)
        base = physics.render("scene")
        v = SceneVariation(camera_shift_m=(0.04, 0.0, 0.0), light_scale=0.6, distractors=2,
                           table_rgba=(0.2, 0.6, 0.3, 1.0), friction_scale=1.1)  # fmt: skip
        physics.build(replace(ep.scene, variation=v))
        assert physics.render("scene").mean() < base.mean() - 2
        assert "distractor_0" in physics._bodies
        with pytest.raises(NotImplementedError, match="table_texture"):
            physics.build(replace(ep.scene, variation=SceneVariation(table_texture="noise")))
    finally:
        physics.close()
    # a randomised pybullet env leaves the texture out instead of failing mid-run
    env = sim.make("pick", "pybullet", render=False, randomize=1.0)
    for seed in range(6):
        _, info = env.reset(seed=seed)
        assert info["variation"].table_texture is None
    env.close()


def test_generate_with_randomize_is_deterministic(tmp_path, monkeypatch):
    """Two `vla data generate --randomize 1` runs of one seed store identical images, and the
    strength is part of the generation identity (a resume with another value is refused)."""
    from vla.cli.main import main
    from vla.data import LeRobotDatasetReader
    from vla.data.generation_record import load_record
    from vla.rollout.generate import RECORD, GenerateConfig

    frames = []
    for run in ("a", "b"):
        monkeypatch.setattr("vla.rollout.generate._ENVS", {})
        out = tmp_path / run
        argv = ["data", "generate", "--task", "pick", "--episodes", "2", "--workers", "0",
                "--out", str(out), "--seed", "1", "--image-size", "32", "32", "--no-progress",
                "--randomize", "1.0"]  # fmt: skip
        assert main(argv) == 0
        r = LeRobotDatasetReader(out)
        assert r.num_episodes >= 1, "the expert failed both randomised attempts"
        frames.append([r.episode_frames(0, k) for k in r.camera_keys])
    for a, b in zip(*frames, strict=True):
        np.testing.assert_array_equal(a, b)
    assert '"randomize": 1.0' in (tmp_path / "a" / RECORD).read_text()
    with pytest.raises(ValueError, match="randomize=1.0"):
        same_but_randomize = GenerateConfig(out=tmp_path / "a", seed=1, families=("pick",),
                                            image_size=(32, 32))  # fmt: skip
        load_record(tmp_path / "a", same_but_randomize.identity())


def test_randomize_fraction_mixes_plain_and_varied_attempts_deterministically(tmp_path):
    """`--randomize-fraction F` gives a variation to about F of the attempts, the same ones on
    every run, and the rest the default scene; F is part of a resume's identity (F = 1, the old
    behaviour, adds nothing, so datasets made before the option still resume)."""
    from vla.rollout.generate import GenerateConfig, attempt_randomize, make_jobs

    FAMILIES = ["pick", "place", "stack", "push"]
    cfg = GenerateConfig(out=tmp_path / "d", episodes=400, seed=3, randomize=1.0,
                         randomize_fraction=0.5)  # fmt: skip
    strengths = [j.randomize for j in make_jobs(cfg, FAMILIES, 0)]
    assert set(strengths) == {0.0, 1.0}
    assert 160 <= strengths.count(1.0) <= 240
    assert strengths == [j.randomize for j in make_jobs(cfg, FAMILIES, 0)]
    # a resume from attempt 100 draws the same strengths for the attempts it runs
    assert [j.randomize for j in make_jobs(cfg, FAMILIES, 100)] == strengths[100:]
    assert all(
        j.randomize == 1.0 for j in make_jobs(replace(cfg, randomize_fraction=1.0), FAMILIES, 0)
    )
    assert attempt_randomize(0.0, 0.5, 7) == 0.0
    assert cfg.identity()["randomize_fraction"] == 0.5
    assert "randomize_fraction" not in replace(cfg, randomize_fraction=1.0).identity()
    with pytest.raises(ValueError, match="randomize_fraction"):
        replace(cfg, randomize_fraction=1.5)
