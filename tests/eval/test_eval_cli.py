"""`vla eval` end to end: the scripted expert in MuJoCo writes JSON, PNG and MP4; bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "serving"))
from tiny_checkpoint import make_tiny_checkpoint  # noqa: E402


def _vla(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "vla.cli.main", "eval", *args]
    env_vars = {"MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env={**os.environ, **env_vars})  # fmt: skip


def test_checkpoint_environment_image_size_mismatch_is_a_clean_error(tmp_path) -> None:
    ckpt = make_tiny_checkpoint(tmp_path / "ckpt", image_size=(32, 32))
    out = _vla("--checkpoint", str(ckpt), "--image-size", "64", "--json", str(tmp_path / "r.json"))
    assert out.returncode == 2, out.stderr
    assert "image size mismatch: the checkpoint expects (32, 32)" in out.stderr
    assert "render (64, 64)" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "r.json").exists()


def test_missing_checkpoint_is_a_clean_error(tmp_path) -> None:
    out = _vla("--checkpoint", str(tmp_path / "nowhere"))
    assert out.returncode == 2 and "not a policy checkpoint" in out.stderr
    assert "Traceback" not in out.stderr


def test_expert_in_mujoco_writes_json_chart_and_videos(tmp_path) -> None:
    pytest.importorskip("sim.rollout", reason="the simulator (sim.rollout) has not landed yet")
    from sim.tasks import SUITES

    family = list(SUITES["pick_place"])[0]
    out_json, videos = tmp_path / "eval.json", tmp_path / "videos"
    out = _vla("--checkpoint", "expert", "--suite", "pick_place", "--task", family,
               "--backend", "mujoco", "--episodes-per-task", "2", "--seed", "0",
               "--workers", "1", "--video-dir", str(videos), "--json", str(out_json),
               "--no-progress")  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
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
    assert family in out.stdout and "ALL" in out.stdout  # the printed table
