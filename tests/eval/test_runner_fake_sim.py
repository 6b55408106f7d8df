"""The evaluation runner on a stand-in simulator (in-process): seeds, videos, mismatches.

The real-simulator end-to-end test is ``test_eval_cli.py``; this one pins the runner's own
logic (job seeds, video quota, report wiring, checkpoint/environment checks) in milliseconds.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from vla.constants import IMAGE_KEYS, OBS_STATE, TASK
from vla.eval import runner, sim_adapter
from vla.eval.agents import AgentSource

FAMILIES = ["pick_cube", "stack"]


class FakeEnv:
    metadata = {"render_fps": 10}

    def __init__(self, family: str, image_size, cameras=IMAGE_KEYS) -> None:
        self.family, self.image_size, self.cameras = family, tuple(image_size), cameras
        self.episodes = 0  # outcomes alternate per env: success, failure, success, ...

    def obs(self, rng) -> dict:
        h, w = self.image_size
        o = {k: rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for k in self.cameras}
        o[OBS_STATE] = rng.normal(size=15).astype(np.float32)
        o[TASK] = f"do {self.family}"
        return o


class FakeExpert:
    def reset(self) -> None:
        pass

    def select_action(self, obs: dict) -> np.ndarray:
        return np.zeros(7, np.float32)


def _fake_episode(env: FakeEnv, agent, seed: int, record: bool):
    rng = np.random.default_rng(seed)
    agent.reset()
    steps = int(rng.integers(3, 6))
    frames = []
    for _ in range(steps):
        obs = env.obs(rng)
        agent.select_action(obs)
        frames.append(np.concatenate([obs[k] for k in env.cameras], axis=1))
    env.episodes += 1
    return SimpleNamespace(
        success=env.episodes % 2 == 1,
        length=steps,
        instruction=f"do {env.family}",
        frames=frames if record else [],
    )


@pytest.fixture
def fake_sim(monkeypatch):
    cams = {"value": IMAGE_KEYS}
    monkeypatch.setattr(sim_adapter, "suite_families", lambda suite: FAMILIES)
    monkeypatch.setattr(
        sim_adapter, "make_env", lambda suite, fam, backend, split, seed, size, ms: FakeEnv(
            fam, size, cams["value"])
    )  # fmt: skip
    monkeypatch.setattr(sim_adapter, "env_interface", lambda env: {
        "action_space": "eef_delta", "camera_keys": list(env.cameras),
        "image_size": env.image_size, "control_hz": 10.0})  # fmt: skip
    monkeypatch.setattr(sim_adapter, "run_episode", _fake_episode)
    monkeypatch.setattr(AgentSource, "agent_for", lambda self, env: self.policy or FakeExpert())
    return cams


def _cfg(tmp_path, **kw) -> runner.EvalConfig:
    base = dict(
        checkpoint="expert",
        episodes_per_task=4,
        workers=0,
        progress=False,
        video_dir=tmp_path / "videos",
        videos_per_outcome=1,
        image_size=(16, 16),
    )
    return runner.EvalConfig(**{**base, **kw})  # fmt: skip


def test_jobs_seeds_and_video_quota(fake_sim, tmp_path) -> None:
    cfg = _cfg(tmp_path, splits=("train", "heldout"))
    results, timing = runner.evaluate(cfg)
    assert len(results) == 2 * 2 * 4 and timing["workers"] == 0
    assert [(r.split, r.family) for r in results[:5]] == [("train", "pick_cube")] * 4 + [
        ("train", "stack")
    ]
    seeds = [r.seed for r in results]
    assert len(set(seeds)) == len(seeds)  # independent per (split, family, episode)
    again, _ = runner.evaluate(_cfg(tmp_path, splits=("train", "heldout"), video_dir=None))
    assert [r.seed for r in again] == seeds and [r.success for r in again] == [
        r.success for r in results
    ]
    # one success and one failure video per (split, family), named by outcome
    videos = sorted(Path(r.video).name for r in results if r.video)
    for split in ("train", "heldout"):
        for fam in FAMILIES:
            for tag in ("success", "failure"):
                assert sum(v.startswith(f"{split}_{fam}_") and tag in v for v in videos) == 1
    first = next(Path(r.video) for r in results if r.video)
    assert first.stat().st_size > 0


def test_policy_checkpoint_and_camera_mismatch(fake_sim, tmp_path, tiny_ckpt) -> None:
    ckpt = tiny_ckpt
    results, _ = runner.evaluate(_cfg(tmp_path, checkpoint=str(ckpt), image_size=None,
                                      episodes_per_task=1))  # fmt: skip
    assert len(results) == 2 and all(r.length >= 3 for r in results)
    with pytest.raises(ValueError, match=r"checkpoint expects \(32, 32\).*render \(64, 64\)"):
        runner.evaluate(_cfg(tmp_path, checkpoint=str(ckpt), image_size=(64, 64)))
    fake_sim["value"] = ("observation.images.scene",)  # an environment with one camera
    with pytest.raises(ValueError, match="camera mismatch.*checkpoint expects.*environment"):
        runner.evaluate(_cfg(tmp_path, checkpoint=str(ckpt), image_size=None))


def test_bad_config_and_unknown_family(fake_sim, tmp_path) -> None:
    with pytest.raises(ValueError, match="unknown task families"):
        runner.evaluate(_cfg(tmp_path, families=("juggle",)))
    with pytest.raises(ValueError, match="backend"):
        _cfg(tmp_path, backend="gazebo")
    with pytest.raises(ValueError, match="splits"):
        _cfg(tmp_path, splits=("test",))
    with pytest.raises(FileNotFoundError, match="not a policy checkpoint"):
        runner.evaluate(_cfg(tmp_path, checkpoint=str(tmp_path / "nope"), image_size=None))
