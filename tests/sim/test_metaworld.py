"""The Meta-World MT50 adapter (sim/metaworld_env.py) against our environment contract: keys,
shapes, dtypes, instruction, seeding, bad input, Meta-World's experts, the dataset writer and a
policy trained on the result acting in the env. Skipped without the metaworld package.

Rendering is slow on a CPU (Mesa llvmpipe spends ~0.1-0.25 s per frame on Meta-World's 4096
shadow map, whatever the image size), so only a few rendered steps run by default; the full
generate -> train -> eval path is the slow test at the end.
"""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.physics.gl import default_mujoco_gl

default_mujoco_gl()  # metaworld imports mujoco, whose GL back end the env's renderer takes
metaworld = pytest.importorskip(
    "metaworld", reason="needs the metaworld extra: pip install -e '.[metaworld]'"
)

from sim.experts import make_expert  # noqa: E402
from sim.metaworld_env import POLICY_CLASSES, MetaWorldExpert  # noqa: E402
from sim.tasks.metaworld_tasks import MT50  # noqa: E402
from vla.constants import (  # noqa: E402
    ACTION,
    ACTION_SPACE_METAWORLD,
    IMAGE_KEYS,
    OBS_STATE,
    TASK,
)
from vla.rollout.episode import run_episode  # noqa: E402

SIZE = (32, 32)


def test_task_names_and_experts_are_meta_worlds_own():
    import metaworld.policies
    from metaworld.env_dict import MT50_V3

    assert sorted(MT50) == sorted(MT50_V3) and sorted(POLICY_CLASSES) == sorted(MT50)
    for name in POLICY_CLASSES.values():
        assert hasattr(metaworld.policies, name), name


def test_observation_contract_and_instruction():
    env = sim.make("pick-place-v3", suite="mt50", image_size=SIZE, render_mode="rgb_array")
    try:
        obs, info = env.reset(seed=3)
        assert set(obs) == {*IMAGE_KEYS, OBS_STATE, TASK}
        for key in IMAGE_KEYS:
            assert obs[key].shape == (*SIZE, 3) and obs[key].dtype == np.uint8
            assert obs[key].std() > 5  # a rendered scene, not a blank buffer
        assert not np.array_equal(obs[IMAGE_KEYS[0]], obs[IMAGE_KEYS[1]])  # two cameras
        assert obs[OBS_STATE].shape == (4,) and obs[OBS_STATE].dtype == np.float32
        assert obs[TASK] == MT50["pick-place-v3"].instruction == info["task"]
        assert env.observation_space.contains(obs)
        assert env.action_space.shape == (4,) and env.unwrapped.config.action_space == (
            ACTION_SPACE_METAWORLD
        )
        assert info["family"] == "pick-place-v3" and info["difficulty"] == "hard"
        # the state is Meta-World's own proprioception: hand position + finger opening
        np.testing.assert_allclose(obs[OBS_STATE], env.unwrapped.raw_observation[:4], atol=1e-6)
        obs2, reward, terminated, truncated, info = env.step(np.array([0, 0, 1, -1], np.float32))
        assert obs2[OBS_STATE][2] > obs[OBS_STATE][2]  # +z moved the hand up
        assert (reward, terminated, truncated) == (0.0, False, False) and info["steps"] == 1
        assert env.render().shape == (SIZE[0], 2 * SIZE[1], 3)
        assert env.metadata["render_fps"] == 80
    finally:
        env.close()


def test_seeded_placement_is_reproducible_and_varies():
    env = sim.make("push-v3", suite="mt50", render=False)
    first = [env.reset(seed=s)[0] and env.unwrapped.raw_observation.copy() for s in (5, 6, 5)]
    env.close()
    other = sim.make("push-v3", suite="mt50", render=False)  # another process would match too
    other.reset(seed=5)
    assert np.array_equal(first[0], first[2]) and np.array_equal(first[0], other.raw_observation)
    assert not np.allclose(first[0][4:7], first[1][4:7])  # the puck moved between seeds
    other.close()


def test_registered_with_gymnasium():
    import gymnasium as gym

    ids = sim.register_envs()
    assert "sim/Mt50-reach-v3-mujoco-v0" in ids
    assert not any(i.startswith("sim/Mt50") and "pybullet" in i for i in ids)
    env = gym.make("sim/Mt50-reach-v3-mujoco-v0", render=False)
    try:
        obs, info = env.reset(seed=1)  # through gymnasium's env checker
        assert obs[TASK] == MT50["reach-v3"].instruction and obs[OBS_STATE].shape == (4,)
    finally:
        env.close()


def test_bad_input_names_the_fix():
    with pytest.raises(ValueError, match="MuJoCo only"):
        sim.make("reach-v3", "pybullet", suite="mt50")
    with pytest.raises(ValueError, match="valid"):
        sim.make("reach-v2", suite="mt50")
    with pytest.raises(ValueError, match="one split"):
        sim.make("reach-v3", suite="mt50", split="heldout")
    with pytest.raises(ValueError, match="action space"):
        sim.make("reach-v3", suite="mt50", action_space="eef_delta")
    env = sim.make("reach-v3", suite="mt50", render=False)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(4))
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        env.step(np.zeros(7))
    with pytest.raises(ValueError, match="non-finite"):
        env.step(np.array([0, np.nan, 0, 0]))
    env.close()


@pytest.mark.parametrize("task", ["reach-v3", "door-open-v3", "pick-place-v3", "stick-push-v3"])
def test_meta_worlds_expert_solves_through_our_interface(task):
    env = sim.make(task, suite="mt50", render=False)
    expert = make_expert(env)  # sim.experts hands over to the env's own expert
    assert isinstance(expert, MetaWorldExpert)
    results = [run_episode(env, expert, seed=s, record=True) for s in (0, 1)]
    env.close()
    for r in results:
        assert r.success and 10 < r.length < 500, (task, r.length)
        actions = np.stack(r.actions)
        assert actions.shape[1] == 4 and np.abs(actions).max() <= 1.0


# ---- dataset writer and a policy on top --------------------------------------------------------
def short_rollout(job):
    """The real env and expert for 6 steps. The attempt is marked successful so the writer keeps
    it: this exercises the dataset format, not the expert (tested above)."""
    from vla.rollout.generate import result_from_rollout

    env = sim.make(job.family, suite=job.suite, image_size=job.image_size)
    try:
        result = run_episode(env, make_expert(env), job.seed, record=True, max_steps=6)
    finally:
        env.close()
    result.success = True
    return result_from_rollout(job.index, result, 0.0)


@pytest.fixture(scope="module")
def mt50_dataset(tmp_path_factory):
    from vla.rollout.generate import GenerateConfig, generate

    out = tmp_path_factory.mktemp("mt50") / "ds"
    cfg = GenerateConfig(out=out, suite="mt50", episodes=2, workers=0, image_size=SIZE,
                         families=("reach-v3", "drawer-open-v3"), progress=False)  # fmt: skip
    summary = generate(cfg, short_rollout)
    assert summary["episodes_in_dataset"] == 2
    return out


def test_generated_dataset_has_the_mt50_format(mt50_dataset):
    from vla.data import LeRobotDatasetReader

    r = LeRobotDatasetReader(mt50_dataset)
    assert r.fps == 80 and r.info["robot_type"] == "sawyer" and r.num_frames == 12
    assert r.features[OBS_STATE]["shape"] == [4] and r.features[ACTION]["shape"] == [4]
    assert r.features[OBS_STATE]["names"] == ["hand_x", "hand_y", "hand_z", "gripper_opening"]
    assert [r.episode_task(e) for e in range(2)] == [
        MT50["reach-v3"].instruction,
        MT50["drawer-open-v3"].instruction,
    ]
    arrays = r.episode_arrays(0)
    assert arrays[ACTION].shape == (6, 4) and np.abs(arrays[ACTION]).max() <= 1.0
    assert r.episode_frames(1, IMAGE_KEYS[0]).shape == (6, *SIZE, 3)


def test_policy_trained_on_mt50_data_acts_in_the_env(mt50_dataset, tmp_path):
    from vla.eval.sim_adapter import env_interface
    from vla.policy import Policy
    from vla.train import load_config, train

    cfg = load_config("configs/train/tiny_cpu.yaml", [
        f"--dataset={mt50_dataset}", f"--output_dir={tmp_path}", "--steps=4", "--warmup_steps=1",
        "--batch_size=4", "--log_every=2", "--save_every=100", "--progress=false",
        "--action_space=metaworld_xyz_gripper", "--gripper_binary=false",
    ])  # fmt: skip
    policy = Policy.from_pretrained(train(cfg)["final_checkpoint"])
    assert policy.metadata["action_space"] == ACTION_SPACE_METAWORLD
    assert policy.metadata["control_hz"] == 80.0 and len(policy.meta.state_names) == 4
    env = sim.make("reach-v3", suite="mt50", image_size=SIZE)
    try:
        policy.check_compatible(**env_interface(env))  # what `vla eval` checks per worker
        obs, _ = env.reset(seed=0)
        policy.reset()
        action = policy.select_action(obs)
        assert action.shape == (4,) and np.all(np.isfinite(action))
        env.step(action)
    finally:
        env.close()


@pytest.mark.slow
def test_cli_generate_train_eval_end_to_end(tmp_path, capsys):
    """`vla data generate --suite mt50` with the real expert, `vla train`, `vla eval` (~3 min)."""
    import json

    from vla.cli.main import main as vla_main

    data, run = tmp_path / "data", tmp_path / "run"
    assert vla_main(["data", "generate", "--suite", "mt50", "--task", "reach-v3", "--episodes",
                     "1", "--workers", "0", "--out", str(data), "--image-size", "32", "32",
                     "--no-progress"]) == 0  # fmt: skip
    assert vla_main(["train", "--config", "configs/train/tiny_cpu.yaml", f"--dataset={data}",
                     f"--output_dir={run}", "--steps=5", "--warmup_steps=1",
                     "--action_space=metaworld_xyz_gripper", "--gripper_binary=false",
                     "--progress=false"]) == 0  # fmt: skip
    report = tmp_path / "eval.json"
    assert vla_main(["eval", "--checkpoint", str(run / "final"), "--suite", "mt50", "--task",
                     "reach-v3", "--episodes-per-task", "1", "--max-steps", "5", "--workers", "0",
                     "--no-progress", "--json", str(report)]) == 0  # fmt: skip
    out = json.loads(report.read_text())
    assert out["suite"] == "mt50" and "easy" in out["splits"]["train"]["per_group"]
    assert "mean over groups" in capsys.readouterr().out
