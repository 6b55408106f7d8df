"""Contract tests of the gymnasium environment, parametrised over engine x task family
(after dm_control's suite tests): determinism per seed, randomised initial states, observations
in their space, check_env, bad actions, unknown names."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from sim_test_params import BACKENDS, FAMILIES, SMALL

import sim
from vla.constants import IMAGE_KEYS, OBS_STATE, STATE_DIM, TASK


@pytest.fixture(scope="module")
def envs():
    cache: dict = {}
    yield cache
    for env in cache.values():
        env.close()


def _env(envs, backend, family, **kw):
    key = (backend, family, tuple(sorted(kw.items())))
    if key not in envs:
        envs[key] = sim.make(family, backend, image_size=SMALL, **kw)
    return envs[key]


def _snapshot(env) -> dict:
    p = env.unwrapped.physics
    snap = {"q": p.joint_positions(), "grip": p.gripper_opening(), "ee": p.ee_pose()[0],
            "steps": env.unwrapped.env.steps}  # fmt: skip
    for obj in env.unwrapped.episode.scene.objects:
        snap[obj.name] = np.concatenate(p.object_pose(obj.name))
    return snap


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_same_seed_same_first_observation(envs, backend, family):
    env = _env(envs, backend, family)
    a, info_a = env.reset(seed=11)
    env.step(env.action_space.sample())  # disturb the state in between
    b, info_b = env.reset(seed=11)
    assert a[TASK] == b[TASK] == info_a["task"] == info_b["task"]
    assert info_a["family"] == family
    np.testing.assert_array_equal(a[OBS_STATE], b[OBS_STATE])
    for key in IMAGE_KEYS:
        np.testing.assert_array_equal(a[key], b[key])


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_different_seeds_different_scenes(envs, backend, family):
    env = _env(envs, backend, family)
    scenes = []
    for seed in range(4):
        env.reset(seed=seed)
        ep = env.unwrapped.episode
        scenes.append(
            (ep.instruction, tuple(np.round(o.pos, 4).tobytes() for o in ep.scene.objects))
        )
    assert len(set(scenes)) == 4
    assert len({s[1] for s in scenes}) == 4  # the layout itself is randomised


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_observation_matches_space(envs, backend, family):
    env = _env(envs, backend, family)
    obs, _ = env.reset(seed=5)
    assert env.observation_space.contains(obs)
    assert obs[OBS_STATE].shape == (STATE_DIM,) and obs[OBS_STATE].dtype == np.float32
    assert obs[OBS_STATE][3] >= 0  # canonical quaternion sign
    for key in IMAGE_KEYS:
        assert obs[key].shape == (*SMALL, 3) and obs[key].dtype == np.uint8
        assert obs[key].std() > 5  # a real picture, not a blank buffer
    obs, reward, terminated, truncated, info = env.step(np.zeros(7, np.float32))
    assert env.observation_space.contains(obs)
    assert reward == 0.0 and not terminated and not truncated and info["is_success"] is False


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_check_env(backend, family):
    env = sim.make(family, backend, image_size=SMALL)
    try:
        check_env(env, skip_render_check=True)
    finally:
        env.close()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bad", [np.zeros(6), np.zeros((7, 1)), np.zeros(8),
                                 np.array([0, 0, np.nan, 0, 0, 0, 1.0]),
                                 np.array([0, np.inf, 0, 0, 0, 0, 1.0]), "left", None])  # fmt: skip
def test_bad_actions_raise_and_leave_state_unchanged(envs, backend, bad):
    env = _env(envs, backend, "pick")
    env.reset(seed=2)
    before = _snapshot(env)
    with pytest.raises(ValueError, match="action"):
        env.step(bad)
    after = _snapshot(env)
    for key, value in before.items():
        np.testing.assert_array_equal(after[key], value, err_msg=key)


@pytest.mark.parametrize("backend", BACKENDS)
def test_actions_are_clipped_to_limits(envs, backend):
    env = _env(envs, backend, "pick")
    env.reset(seed=3)
    z0 = env.unwrapped.physics.ee_pose()[0][2]
    applied = env.unwrapped.env.controller.step(np.array([0, 0, -1.0, 0, 0, 0, -5.0]))
    np.testing.assert_allclose(applied, [0, 0, -0.05, 0, 0, 0, -1.0])
    dz = env.unwrapped.physics.ee_pose()[0][2] - z0
    assert -0.055 < dz < -0.03  # moved by (about) the clipped 5 cm, not 1 m


@pytest.mark.parametrize("backend", BACKENDS)
def test_joint_position_action_space(backend):
    env = sim.make("pick", backend, image_size=SMALL, render=False, action_space="joint_pos")
    try:
        obs, _ = env.reset(seed=0)
        assert env.action_space.shape == (8,)
        target = obs[OBS_STATE][8:] + np.array([0.2, -0.1, 0, 0.1, 0, 0.1, 0.2])
        for _ in range(5):
            obs, *_ = env.step(np.append(target, -1.0).astype(np.float32))
        np.testing.assert_allclose(obs[OBS_STATE][8:], target, atol=0.02)
    finally:
        env.close()


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="valid tasks: .*pick.*place.*stack.*push"):
        sim.make("juggle")
    with pytest.raises(ValueError, match="valid backends: .*mujoco.*pybullet"):
        sim.make("pick", "gazebo")
    with pytest.raises(ValueError, match="valid suites"):
        sim.make("pick", suite="kitchen")
    with pytest.raises(ValueError, match="valid splits"):
        sim.make("pick", split="test")


def test_gymnasium_ids_are_registered():
    ids = sim.register_envs()
    assert "sim/PickPlace-stack-mujoco-v0" in ids and ids == sim.register_envs()  # idempotent
    env = gym.make("sim/PickPlace-push-mujoco-v0", image_size=SMALL, render=False)
    try:
        obs, info = env.reset(seed=0)
        assert info["family"] == "push" and isinstance(obs[TASK], str)
    finally:
        env.close()


def test_render_returns_both_cameras_side_by_side():
    env = sim.make("pick", image_size=SMALL, render_mode="rgb_array")
    try:
        obs, _ = env.reset(seed=0)
        frame = env.render()
        assert frame.shape == (SMALL[0], 2 * SMALL[1], 3)
        np.testing.assert_array_equal(frame[:, SMALL[1] :], obs[IMAGE_KEYS[1]])
    finally:
        env.close()
