"""DART noise injection: the executed action is perturbed, the recorded one is the expert's."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sim_test_params import SMALL, ExecutedRecorder

import sim
from vla.constants import EEF_ACTION_HIGH
from vla.rollout.episode import NOISE_DIMS, perturb, run_episode
from vla.rollout.generate import RECORD, GenerateConfig, attempt_noise, make_jobs
from vla.rollout.suite_run import expert_policy


def test_perturb_touches_only_noise_dims_within_limits():
    rng = np.random.default_rng(0)
    action = np.array([0.01, -0.02, 0.0, 0.1, -0.1, 0.2, 1.0], dtype=np.float32)
    outs = np.stack([perturb(action, 0.8, rng) for _ in range(2000)])
    still = [i for i in range(7) if i not in NOISE_DIMS]
    assert np.array_equal(outs[:, still], np.broadcast_to(action[still], (2000, len(still))))
    assert (np.abs(outs) <= EEF_ACTION_HIGH + 1e-7).all()
    moved = (outs[:, list(NOISE_DIMS)] != action[list(NOISE_DIMS)]).any(axis=1)
    assert 0.2 < moved.mean() < 0.4  # NOISE_STEP_PROB = 0.3 of the steps are perturbed
    assert np.array_equal(perturb(action, 0.0, rng), action)


def test_run_episode_records_clean_actions_and_executes_noisy_ones():
    env = sim.make("push", image_size=SMALL)
    try:
        rec = ExecutedRecorder(env)
        noisy = run_episode(rec, expert_policy(env), seed=4, action_noise=0.5)
        executed = np.stack(rec.executed)
        recorded = np.stack(noisy.actions)
        assert len(executed) == len(recorded) == noisy.length
        differs = (executed != recorded).any(axis=1)
        assert differs.any() and not differs.all()  # some steps perturbed, others clean
        # the recorded labels are the expert's own actions, never beyond its limits
        assert (np.abs(recorded) <= EEF_ACTION_HIGH + 1e-6).all()
        again = run_episode(env, expert_policy(env), seed=4, action_noise=0.5)
        assert np.array_equal(np.stack(again.actions), recorded)  # seeded: reproducible
        clean = run_episode(env, expert_policy(env), seed=4)
        assert clean.success
        assert len(clean.actions) != len(recorded) or not np.array_equal(
            np.stack(clean.actions), recorded
        )
    finally:
        env.close()
    with pytest.raises(ValueError, match="action_noise"):
        run_episode(env, expert_policy(env), seed=0, action_noise=-1)


def test_generate_config_draws_per_attempt_noise_and_checks_range(tmp_path):
    cfg = GenerateConfig(out=tmp_path / "d", episodes=64, action_noise=0.5)
    noises = [j.action_noise for j in make_jobs(cfg, ["pick", "push"], 0)]
    assert all(0 <= n <= 0.5 for n in noises) and np.std(noises) > 0.05
    assert noises == [j.action_noise for j in make_jobs(cfg, ["pick", "push"], 0)]
    assert attempt_noise(0.0, 123) == 0.0
    assert cfg.identity()["action_noise"] == 0.5
    with pytest.raises(ValueError, match="0..1"):
        GenerateConfig(out=tmp_path / "d", action_noise=2.0)


def test_resume_with_other_noise_is_refused_and_old_records_still_resume(tmp_path):
    from vla.data.generation_record import load_record

    out = tmp_path / "d"
    out.mkdir()
    old = GenerateConfig(out=out).identity()
    old.pop("action_noise")  # a record written before noise injection existed
    (out / RECORD).parent.mkdir(parents=True, exist_ok=True)
    (out / RECORD).write_text(json.dumps({"config": old, "next_index": 0, "successes": [],
                                          "failures": [], "pending": None}))  # fmt: skip
    assert load_record(out, GenerateConfig(out=out).identity())["config"] == old
    with pytest.raises(ValueError, match="action_noise=0.0"):
        load_record(out, GenerateConfig(out=out, action_noise=0.3).identity())


def test_episode_job_runs_its_episode_with_its_action_noise():
    """benchmarks/expert_success.py --action-noise: a job's noise reaches run_episode."""
    from vla.rollout.suite_run import EpisodeJob, run_episodes

    clean, noisy = (EpisodeJob("stack", 3, image_size=SMALL, render=False, action_noise=s)
                    for s in (0.0, 0.8))  # fmt: skip
    got_clean, got_noisy = run_episodes([clean, noisy], expert_policy)
    env = sim.make("stack", image_size=SMALL, render=False)
    try:
        direct = run_episode(env, expert_policy(env), 3, record=False, action_noise=0.8)
    finally:
        env.close()
    assert got_noisy.length == direct.length and got_noisy.success == direct.success
    assert got_noisy.length != got_clean.length  # the noise changed the episode
