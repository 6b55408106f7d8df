"""`vla eval --perturb`: one pool of (condition, episode) jobs on the baseline's seeds, the paired
statistics, the JSON section, table and chart, CLI errors; one real MuJoCo run at the end."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest

from sim.perturb import Perturbation, parse_perturbations
from vla.constants import IMAGE_KEYS, OBS_STATE, TASK
from vla.eval import runner, sim_adapter
from vla.eval.agents import AgentSource
from vla.eval.perturb_report import (
    format_perturbation_table,
    pair_results,
    paired_block,
    perturbation_section,
)
from vla.rollout import EpisodeResult

FAMILIES = ["pick", "push"]


class StubEnv(gym.Env):
    """Outcome by seed: the baseline fails one seed in 3; a perturbed environment (a wrapper or
    a scene variation) fails every odd seed."""

    metadata = {"render_fps": 10}
    config = SimpleNamespace(action_space="eef_delta", suite="stub")

    def __init__(self, family: str, variation=None) -> None:
        self.family, self.variation = family, variation
        spaces = {k: gym.spaces.Box(0, 255, (16, 16, 3), np.uint8) for k in IMAGE_KEYS}
        spaces[OBS_STATE] = gym.spaces.Box(-10, 10, (15,), np.float32)
        self.observation_space = gym.spaces.Dict(spaces)
        self.action_space = gym.spaces.Box(-1, 1, (7,), np.float32)

    def reset(self, *, seed=None, options=None):
        obs = {k: np.zeros((16, 16, 3), np.uint8) for k in IMAGE_KEYS}
        obs[OBS_STATE], obs[TASK] = np.zeros(15, np.float32), "pick up the red cube"
        return obs, {"task": obs[TASK], "family": self.family, "episode_seed": seed}


def _stub_episode(env, agent, seed: int, record: bool):
    obs, info = env.reset(seed=seed)
    perturbed = isinstance(env, gym.Wrapper) or env.unwrapped.variation is not None
    success = seed % 2 == 0 if perturbed else seed % 3 != 0
    return SimpleNamespace(success=success, length=5, instruction=obs[TASK], frames=[])


@pytest.fixture
def stub_sim(monkeypatch):
    made = []

    def make_env(suite, family, backend, split, seed, size, max_steps, variation=None):
        made.append(variation)
        return StubEnv(family, variation)

    monkeypatch.setattr(sim_adapter, "suite_families", lambda suite: FAMILIES)
    monkeypatch.setattr(sim_adapter, "make_env", make_env)
    monkeypatch.setattr(sim_adapter, "run_episode", _stub_episode)
    monkeypatch.setattr(AgentSource, "agent_for", lambda self, env: None)
    return made


def _cfg(**kw) -> runner.EvalConfig:
    base = dict(checkpoint="expert", episodes_per_task=6, workers=0, progress=False,
                image_size=(16, 16), perturbations=parse_perturbations(["latency", "color"]))  # fmt: skip
    return runner.EvalConfig(**{**base, **kw})


def test_one_job_list_same_seeds_for_every_condition(stub_sim) -> None:
    cfg = _cfg(splits=("train", "heldout"))
    jobs = runner.make_jobs(cfg, FAMILIES)
    assert len(jobs) == 3 * 2 * 2 * 6 and [j.index for j in jobs] == list(range(len(jobs)))
    by_condition = {}
    for j in jobs:
        by_condition.setdefault(j.perturbation, []).append((j.split, j.family, j.seed))
    assert list(by_condition) == [None, "latency=1", "color=1"]
    assert by_condition["latency=1"] == by_condition[None] == by_condition["color=1"]
    # without perturbations the job list is exactly the old one
    plain = runner.make_jobs(_cfg(perturbations=()), FAMILIES)
    assert [(j.split, j.family, j.seed, j.perturbation) for j in plain] == [
        (j.split, j.family, j.seed, None) for j in jobs if j.perturbation is None
    ][: len(plain)]
    results, _ = runner.evaluate(cfg)
    assert [r.perturbation for r in results] == [j.perturbation for j in jobs]
    assert sum(v is not None for v in stub_sim) == 4  # color: one varied env per family/split
    section = perturbation_section(results, cfg.perturbations)
    train = section["results"]["latency=1"]["splits"]["train"]
    seeds = [r.seed for r in results if r.perturbation is None and r.split == "train"]
    base_ok = [s % 3 != 0 for s in seeds]
    pert_ok = [s % 2 == 0 for s in seeds]
    assert train["successes"] == sum(pert_ok) and train["baseline_successes"] == sum(base_ok)
    assert train["b"] == sum(b and not p for b, p in zip(base_ok, pert_ok, strict=True))
    assert train["c"] == sum(p and not b for b, p in zip(base_ok, pert_ok, strict=True))
    assert set(train["per_task"]) == set(FAMILIES)
    assert section["order"] == ["latency=1", "color=1"]
    assert section["results"]["color=1"]["kind"] == "scene"
    assert len(section["episode_log"]) == 2 * len(seeds) * 2


def test_paired_statistics_on_a_hand_made_pair() -> None:
    # 10 episodes: 5 both succeed, 4 lost under the perturbation, 0 gained, 1 both fail
    pairs = [(True, True)] * 5 + [(True, False)] * 4 + [(False, False)]
    b = paired_block(pairs)
    assert (b["successes"], b["baseline_successes"], b["episodes"]) == (5, 9, 10)
    assert (b["b"], b["c"]) == (4, 0) and b["change_pts"] == pytest.approx(-40.0)
    assert b["mcnemar_p"] == pytest.approx(2 / 16)  # two-sided: 2 x P(X <= 0), X ~ Bin(4, 1/2)
    assert b["retained"] == pytest.approx(5 / 9)
    assert paired_block([(False, False)] * 3)["retained"] is None
    # 8 lost, 1 gained: 2 x (1 + 9) / 2**9
    assert paired_block([(True, False)] * 8 + [(False, True)])["mcnemar_p"] == pytest.approx(
        2 * 10 / 512)  # fmt: skip


def test_pairing_refuses_an_unpaired_episode() -> None:
    base = [EpisodeResult(1, "pick", "", True, 5)]
    other = [EpisodeResult(2, "pick", "", True, 5, perturbation="latency=1")]
    with pytest.raises(ValueError, match="no baseline episode on that seed"):
        pair_results(base, other)


def test_config_rejects_pick_place_only_perturbations_elsewhere() -> None:
    with pytest.raises(ValueError, match="need the pick_place suite"):
        _cfg(suite="mt50", perturbations=(Perturbation("paraphrase"),))
    assert _cfg(suite="mt50", perturbations=(Perturbation("drop_wrist"),)).suite == "mt50"


def _vla(capsys, *args: str) -> tuple[int, str, str]:
    from vla.cli.main import main

    code = main(["eval", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_json_table_and_chart(stub_sim, tmp_path, capsys) -> None:
    out = tmp_path / "r.json"
    code, stdout, err = _vla(capsys, "--checkpoint", "expert", "--episodes-per-task", "4",
                             "--workers", "0", "--image-size", "16", "--no-progress",
                             "--json", str(out), "--perturb", "drop_wrist", "state_noise=0.02")  # fmt: skip
    assert code == 0, err
    report = json.loads(out.read_text())
    assert report["episodes"] == 8 and len(report["episode_log"]) == 8  # the baseline only
    assert all("perturbation" not in e for e in report["episode_log"])
    section = report["perturbations"]
    assert section["order"] == ["drop_wrist", "state_noise=0.02"]
    block = section["results"]["state_noise=0.02"]["splits"]["train"]
    for key in (
        "successes",
        "episodes",
        "success_rate",
        "ci95",
        "baseline_successes",
        "baseline_rate",
        "change_pts",
        "b",
        "c",
        "mcnemar_p",
        "retained",
        "per_task",
    ):
        assert key in block, key  # fmt: skip
    assert section["results"]["state_noise=0.02"]["value"] == 0.02
    assert math.isclose(block["change_pts"], 100 * (block["success_rate"] - block["baseline_rate"]))
    chart = tmp_path / "r_perturbations.png"
    assert report["perturbation_chart"] == str(chart) and chart.read_bytes()[:4] == b"\x89PNG"
    assert "state_noise=0.02" in stdout and "McNemar" in stdout
    assert format_perturbation_table(section) in stdout


@pytest.mark.parametrize(
    "spec, message",
    [("camra_shift", "did you mean 'camera_shift'"), ("latency=0", "in [1, 10]"),
     ("paraphrase=2", "takes no value")],
)  # fmt: skip
def test_cli_bad_perturbation_is_a_clean_error(tmp_path, capsys, spec, message) -> None:
    code, _, err = _vla(capsys, "--checkpoint", "expert", "--perturb", spec,
                        "--json", str(tmp_path / "r.json"))  # fmt: skip
    assert code == 2 and err.startswith("vla eval: ") and message in err
    assert not (tmp_path / "r.json").exists()


def test_help_lists_every_perturbation() -> None:
    from sim.perturb import PERTURBATIONS
    from vla.cli.eval_cmd import PERTURB_NAMES

    assert [n for n in PERTURBATIONS if n not in PERTURB_NAMES] == []
    for name, spec in PERTURBATIONS.items():
        if spec.default is not None:  # the default as the help writes it: 5 for 5.0
            assert Perturbation(name, spec.default).label in PERTURB_NAMES, name


def test_expert_in_mujoco_with_latency_and_paraphrase(tmp_path, capsys) -> None:
    """Real simulator, a spawned worker: the paired section and a paraphrased instruction."""
    out = tmp_path / "r.json"
    code, _, err = _vla(capsys, "--checkpoint", "expert", "--task", "pick",
                        "--episodes-per-task", "2", "--workers", "1", "--no-progress",
                        "--json", str(out), "--perturb", "latency", "paraphrase")  # fmt: skip
    assert code == 0, err[-3000:]
    report = json.loads(out.read_text())
    log = report["perturbations"]["episode_log"]
    base = {e["seed"]: e for e in report["episode_log"]}
    assert sorted({e["seed"] for e in log}) == sorted(base)  # the same seeds
    for e in log:
        if e["perturbation"] == "paraphrase":
            assert e["instruction"] != base[e["seed"]]["instruction"]
    assert report["perturbations"]["results"]["latency=1"]["splits"]["train"]["episodes"] == 2
