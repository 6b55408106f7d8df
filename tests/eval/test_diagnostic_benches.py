"""benchmarks/failure_modes.py and benchmarks/grounding_probe.py run end to end on a tiny
checkpoint in the real MuJoCo suite and report what they claim to."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.serving.tiny_checkpoint import make_tiny_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_failure_modes_classifies_every_episode_on_the_eval_seeds(tmp_path):
    from sim.tasks.pick_place import OUTCOMES
    from vla.eval.runner import episode_seed

    ckpt = make_tiny_checkpoint(tmp_path / "ckpt", image_size=(32, 32))
    out = tmp_path / "fm.json"
    # as a user runs it (its worker pool re-imports the script by path)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "failure_modes.py"), "--checkpoint",
         str(ckpt), "--episodes", "1", "--max-steps", "3", "--workers", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "wrong_object" in proc.stdout  # the printed table
    report = json.loads(out.read_text())
    assert sum(sum(c.values()) for c in report["counts"].values()) == 4
    for ep in report["episodes"]:
        assert ep["outcome"] in OUTCOMES and ep["length"] <= 3
        assert ep["seed"] == episode_seed(0, "train", ep["family"], 0)  # vla eval's seeds
        assert ep["target"] in ep["moved_m"]
        assert (ep["outcome"] == "success") == ep["success"]


def test_grounding_probe_asks_about_every_object(tmp_path):
    ckpt = make_tiny_checkpoint(tmp_path / "ckpt", image_size=(32, 32))
    out = tmp_path / "gp.json"
    assert (
        _load("grounding_probe").main(
            ["--checkpoint", str(ckpt), "--scenes", "2", "--json", str(out)]
        )
        == 0
    )
    report = json.loads(out.read_text())
    assert report["queries"] == len(report["rows"]) >= 4  # 2 scenes x (target + 1-3 others)
    for row in report["rows"]:
        assert row["asked"] in row["cosines"] and len(row["cosines"]) >= 2
        assert all(-1.0 - 1e-6 <= c <= 1.0 + 1e-6 for c in row["cosines"].values())
    named = [r["cosines"][r["asked"]] for r in report["rows"]]
    assert np.isclose(report["mean_cos_named"], np.mean(named))
    assert 0 <= report["points_at_named"] <= report["queries"]
