"""`vla eval` end to end: the scripted expert in MuJoCo writes JSON, PNG and MP4; bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _vla(capsys, *args: str) -> tuple[int, str, str]:
    """Run `vla eval ...` in this process (the workers it spawns are real processes)."""
    from vla.cli.main import main

    code = main(["eval", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_checkpoint_environment_image_size_mismatch_is_a_clean_error(
    tmp_path, capsys, tiny_ckpt
) -> None:
    ckpt = tiny_ckpt
    code, _, err = _vla(capsys, "--checkpoint", str(ckpt), "--image-size", "64",
                        "--json", str(tmp_path / "r.json"))  # fmt: skip
    assert code == 2, err
    assert "image size mismatch: the checkpoint expects (32, 32)" in err
    assert "render (64, 64)" in err and err.startswith("vla eval: ")
    assert not (tmp_path / "r.json").exists()


def test_missing_checkpoint_is_a_clean_error(tmp_path, capsys) -> None:
    code, _, err = _vla(capsys, "--checkpoint", str(tmp_path / "nowhere"))
    assert code == 2 and "not a policy checkpoint" in err and err.startswith("vla eval: ")


def test_expert_in_mujoco_writes_json_chart_and_videos(tmp_path, capsys) -> None:
    pytest.importorskip("sim.env", reason="the simulator (sim.env) has not landed yet")
    from sim.tasks import SUITES

    family = list(SUITES["pick_place"])[0]
    out_json, videos = tmp_path / "eval.json", tmp_path / "videos"
    code, stdout, err = _vla(capsys, "--checkpoint", "expert", "--suite", "pick_place", "--task", family,
               "--backend", "mujoco", "--episodes-per-task", "2", "--seed", "0",
               "--workers", "1", "--video-dir", str(videos), "--json", str(out_json),
               "--no-progress")  # fmt: skip
    assert code == 0, err[-3000:]
    report = json.loads(out_json.read_text())
    block = report["per_task"][family]
    assert block["episodes"] == 2 and 0.0 <= block["success_rate"] <= 1.0
    assert len(block["ci95"]) == 2 and block["ci95"][0] <= block["success_rate"] <= block["ci95"][1]
    assert block["mean_length"] > 0
    assert report["backend"] == "mujoco" and report["seed"] == 0 and report["split"] == "train"
    assert report["checkpoint"] == "expert" and report["timing"]["wall_s"] > 0
    assert len(report["episode_log"]) == 2
    assert Path(report["chart"]).read_bytes()[:4] == b"\x89PNG"
    mp4s = sorted(videos.glob("*.mp4"))
    assert mp4s and [str(p) for p in mp4s] == report["videos"]
    import av

    with av.open(str(mp4s[0])) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) > 1
    assert frames[0].shape[1] == 2 * frames[0].shape[0]  # scene | wrist side by side
    assert family in stdout and "ALL" in stdout  # the printed table


def test_tiny_checkpoint_in_mujoco_both_splits(tmp_path, capsys, tiny_ckpt) -> None:
    """A real (random) policy in a spawned worker, checked against the real environment."""
    pytest.importorskip("sim.env", reason="the simulator (sim.env) has not landed yet")
    from sim.tasks.pick_place import OUTCOMES

    out_json = tmp_path / "eval.json"
    code, stdout, err = _vla(capsys, "--checkpoint", str(tiny_ckpt), "--task", "pick",
                             "--episodes-per-task", "1", "--max-steps", "4", "--split", "both",
                             "--workers", "1", "--json", str(out_json), "--no-progress",
                             "--execution-horizon", "1")  # fmt: skip
    assert code == 0, err[-3000:]
    report = json.loads(out_json.read_text())
    assert report["split"] == "both" and list(report["splits"]) == ["train", "heldout"]
    assert report["image_size"] == [32, 32] and report["execution_horizon"] == 1
    for block in report["splits"].values():
        assert block["per_task"]["pick"]["episodes"] == 1
        assert 1 <= block["per_task"]["pick"]["mean_length"] <= 4
        # every pick_place episode is classified by what it moved
        assert sum(block["per_task"]["pick"]["outcomes"].values()) == 1
    assert all(e["outcome"] in OUTCOMES for e in report["episode_log"])
    assert "heldout" in stdout


def test_control_rate_mismatch_with_the_real_env_is_a_clean_error(
    tmp_path, capsys, tiny_ckpt
) -> None:
    """The Policy's own check against the real environment, surfaced by the CLI."""
    pytest.importorskip("sim.env", reason="the simulator (sim.env) has not landed yet")
    import shutil

    ckpt = Path(shutil.copytree(tiny_ckpt, tmp_path / "ckpt_5hz"))
    meta = json.loads((ckpt / "policy_meta.json").read_text())
    (ckpt / "policy_meta.json").write_text(json.dumps({**meta, "control_hz": 5.0}))
    code, _, err = _vla(capsys, "--checkpoint", str(ckpt), "--task", "pick",
                        "--episodes-per-task", "1", "--workers", "0", "--no-progress")  # fmt: skip
    assert code == 2
    assert err.startswith("vla eval: control rate mismatch")
    assert "checkpoint was trained at 5.0 Hz" in err and "environment runs at 10.0 Hz" in err


def test_failure_videos_are_named_by_their_outcome(tmp_path, capsys, tiny_ckpt) -> None:
    from sim.tasks.pick_place import OUTCOMES

    videos = tmp_path / "videos"
    code, _, err = _vla(capsys, "--checkpoint", str(tiny_ckpt), "--task", "pick",
                        "--episodes-per-task", "1", "--max-steps", "2", "--workers", "0",
                        "--video-dir", str(videos), "--no-progress")  # fmt: skip
    assert code == 0, err[-3000:]
    (mp4,) = videos.glob("*.mp4")  # a random policy fails in 2 steps
    outcome = mp4.stem.split("_failure_")[1]
    assert outcome in OUTCOMES and outcome != "success"
