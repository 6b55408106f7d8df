"""scripts/pipeline.sh, shrunk to the CPU and the tiny model: generation, training and evaluation
run in order, each on the previous stage's output, and a re-run resumes instead of redoing."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, nproc: int = 1) -> subprocess.CompletedProcess:
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{venv_bin}:{os.environ['PATH']}", "MUJOCO_GL": "egl",
           "DATA": str(tmp_path / "data"), "RUN": str(tmp_path / "run"), "SEED": "3",
           "EPISODES": "2", "WORKERS": "1", "DEVICE": "cpu", "MINUTES": "2",
           "CONFIG": "configs/train/tiny_cpu.yaml", "GLOBAL_BATCH": "4", "EVAL_EPISODES": "1",
           "TRAIN_ARGS": "--steps=3 --log_every=1 --warmup_steps=1 --decode_workers=1",
           "EVAL_ARGS": "--task pick --max-steps 5", "NPROC": str(nproc),
           "GEN_ARGS": "--randomize 1.0 --randomize-fraction 0.5"}  # fmt: skip
    return subprocess.run(["bash", "scripts/pipeline.sh"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


@pytest.mark.slow
def test_pipeline_generates_trains_and_evaluates_on_cpu(tmp_path):
    res = _run(tmp_path)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    info = json.loads((tmp_path / "data" / "meta" / "info.json").read_text())
    assert info["total_episodes"] >= 1
    from vla.rollout.generate import RECORD

    assert '"randomize_fraction": 0.5' in (tmp_path / "data" / RECORD).read_text()  # GEN_ARGS
    log = [json.loads(x) for x in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    assert max(rec.get("step", 0) for rec in log) == 3
    report = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert report["checkpoint"].endswith("final")
    assert [(e["task"], e["split"]) for e in report["episode_log"]] == [
        ("pick", "train"), ("pick", "heldout")]  # fmt: skip

    again = _run(tmp_path)  # everything is there: generation and training resume, eval re-runs
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert (tmp_path / "run" / "train_log.jsonl").read_text().count("\n") == len(log)


@pytest.mark.slow
def test_pipeline_trains_under_torchrun_with_nproc(tmp_path):
    """NPROC=2: training runs under torchrun (here gloo on the CPU), each rank on its share."""
    res = _run(tmp_path, nproc=2)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "world=2" in res.stdout and "this rank: 1/2" in res.stdout
    assert (tmp_path / "run" / "final" / "model.safetensors").is_file()
    assert json.loads((tmp_path / "run" / "eval.json").read_text())["split"] == "both"
