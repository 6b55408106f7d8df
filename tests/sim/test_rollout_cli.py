"""run_episode / run_episodes (worker processes) and `vla sim run` (table, JSON, videos)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sim_test_params import SMALL

import sim
from sim.report import format_table, summarize
from vla.cli.main import main
from vla.constants import IMAGE_KEYS, OBS_STATE
from vla.rollout.episode import run_episode
from vla.rollout.suite_run import EpisodeJob, expert_policy, run_episodes


def test_run_episode_records_aligned_steps():
    env = sim.make("pick", image_size=SMALL)
    try:
        result = run_episode(env, expert_policy(env), seed=3)
    finally:
        env.close()
    assert result.success and result.family == "pick" and result.seed == 3
    assert result.length == len(result.actions) == len(result.observations)
    assert len(result.frames) == result.length + 1  # incl. the final observation
    assert result.frames[0].shape == (SMALL[0], 2 * SMALL[1], 3)
    first = result.observations[0]
    assert set(IMAGE_KEYS) <= set(first) and first[OBS_STATE].shape == (15,)
    assert result.instruction == first["task"]
    assert result.final_observation is not None and result.info["is_success"]


def test_run_episodes_in_workers_matches_in_process():
    jobs = [EpisodeJob("push", s, render=False) for s in (0, 1)]
    serial = [r.summary() for r in run_episodes(jobs, expert_policy, workers=1)]
    parallel = [r.summary() for r in run_episodes(jobs, expert_policy, workers=2)]
    assert serial == parallel
    assert [r["seed"] for r in serial] == [0, 1]


def test_summary_and_table():
    rows = [{"family": "pick", "seed": i, "success": i != 1, "length": 10, "instruction": "x"}
            for i in range(4)]  # fmt: skip
    summary = summarize(rows, backend="mujoco")
    assert summary["per_task"]["pick"]["success_rate"] == 0.75
    assert summary["per_task"]["pick"]["failed_seeds"] == [1]
    assert summary["episodes"] == 4 and summary["backend"] == "mujoco"
    assert "pick" in format_table(summary) and "75.0%" in format_table(summary)


def test_cli_sim_run_writes_json_and_videos(tmp_path, capsys):
    out = tmp_path / "run.json"
    code = main(["sim", "run", "--task", "pick", "--task", "push", "--episodes", "2",
                 "--seed", "5", "--video-dir", str(tmp_path / "videos"), "--json", str(out),
                 "--image-size", "64", "64", "--no-progress"])  # fmt: skip
    assert code == 0
    summary = json.loads(out.read_text())
    assert set(summary["per_task"]) == {"pick", "push"}
    assert summary["episodes"] == 4 and summary["seed"] == 5 and summary["backend"] == "mujoco"
    assert 0.0 <= summary["success_rate"] <= 1.0
    assert [r["seed"] for r in summary["results"]] == [5, 6, 5, 6]
    videos = sorted(p.name for p in (tmp_path / "videos").glob("*.mp4"))
    assert len(videos) == 2 and videos[0].startswith("pick_seed5")
    import imageio.v3 as iio

    frames = iio.imread(tmp_path / "videos" / videos[0], plugin="pyav")
    assert frames.shape[1:] == (128, 256, 3)  # 64x64 scene | wrist, upscaled 2x
    assert "pick" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["--backend", "gazebo"], "valid backends"),
    (["--task", "juggle"], "valid tasks"),
    (["--policy", "random"], "valid policies"),
])  # fmt: skip
def test_cli_rejects_unknown_names(args, message, capsys):
    assert main(["sim", "run", "--episodes", "1", *args]) == 2
    assert message in capsys.readouterr().err


def test_controller_holds_pose_on_zero_action():
    env = sim.make("pick", image_size=SMALL, render=False)
    try:
        env.reset(seed=0)
        p0 = env.unwrapped.physics.ee_pose()[0]
        for _ in range(10):
            env.step(np.array([0, 0, 0, 0, 0, 0, -1], np.float32))
        np.testing.assert_allclose(env.unwrapped.physics.ee_pose()[0], p0, atol=3e-3)
    finally:
        env.close()
