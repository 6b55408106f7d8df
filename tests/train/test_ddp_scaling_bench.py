"""benchmarks/ddp_scaling.py: throughput from logged intervals, loss-curve verdict both ways."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("ddp_scaling", ROOT / "benchmarks/ddp_scaling.py")
ddp_scaling = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ddp_scaling)


def write_log(run: Path, rate: float, world: int, loss_shift: float, seed: int,
              startup_s: float = 5.0) -> None:  # fmt: skip
    """A train_log.jsonl of 40 records every 25 steps: a decaying loss + per-batch noise, a
    constant rate after a slow start (the first interval carries ``startup_s`` extra)."""
    rng = np.random.default_rng(seed)
    run.mkdir(parents=True)
    rows = []
    for i in range(1, 41):
        step = 25 * i
        elapsed = startup_s + step * 256 / rate
        loss = 3.0 * np.exp(-step / 400) + 1.0 + loss_shift + rng.normal(0, 0.03)
        rows.append({"step": step, "loss": float(loss), "accuracy": 0.5, "elapsed_s": elapsed,
                     "samples_per_s": step * 256 / elapsed, "world": world,
                     "global_batch": 256})  # fmt: skip
    (run / "train_log.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def test_same_curve_is_within_noise_and_speedup_is_the_steady_rate(tmp_path):
    write_log(tmp_path / "a", rate=4000, world=1, loss_shift=0.0, seed=1)
    write_log(tmp_path / "b", rate=7600, world=2, loss_shift=0.0, seed=2)
    out = tmp_path / "r.json"
    assert ddp_scaling.main(["--single", str(tmp_path / "a"), "--multi", str(tmp_path / "b"),
                             "--json", str(out), "--plot", str(tmp_path / "r.png")]) == 0  # fmt: skip
    res = json.loads(out.read_text())
    # the start-up interval is left out: the medians are the steady rates exactly
    assert res["single"]["samples_per_s_median"] == pytest.approx(4000)
    assert res["multi"]["samples_per_s_median"] == pytest.approx(7600)
    assert res["speedup_median"] == pytest.approx(1.9)
    assert res["loss_curve"]["common_steps"] == 40
    assert res["loss_curve"]["within_noise"] is True
    assert (tmp_path / "r.png").stat().st_size > 0


def test_shifted_curve_is_not_within_noise(tmp_path):
    write_log(tmp_path / "a", rate=4000, world=1, loss_shift=0.0, seed=1)
    write_log(tmp_path / "b", rate=7600, world=2, loss_shift=0.15, seed=2)
    res = ddp_scaling.compare(ddp_scaling.read_log(tmp_path / "a"),
                              ddp_scaling.read_log(tmp_path / "b"))  # fmt: skip
    assert res["loss_curve"]["within_noise"] is False
    assert res["loss_curve"]["mean_diff_second_half"] == pytest.approx(0.15, abs=0.03)


def test_missing_log_names_what_to_pass(tmp_path):
    with pytest.raises(SystemExit, match="output_dir of a `vla train` run"):
        ddp_scaling.read_log(tmp_path)


def test_rank_batch_run_splits_the_shortfall(tmp_path):
    """1 GPU: 4000/s at 256, 3200/s at 128; 2 GPUs at 2 x 128: 6080/s. Speed-up 1.52 = 2 x 0.8
    (GPU efficiency at 128) x 0.95 (DDP efficiency)."""
    write_log(tmp_path / "a", rate=4000, world=1, loss_shift=0.0, seed=1)
    write_log(tmp_path / "b", rate=6080, world=2, loss_shift=0.0, seed=2)
    write_log(tmp_path / "c", rate=3200, world=1, loss_shift=0.0, seed=3)
    out = tmp_path / "r.json"
    assert ddp_scaling.main(["--single", str(tmp_path / "a"), "--multi", str(tmp_path / "b"),
                             "--single-rank-batch", str(tmp_path / "c"), "--json", str(out)]) == 0  # fmt: skip
    res = json.loads(out.read_text())
    rb = res["rank_batch"]
    assert rb["gpu_efficiency_at_rank_batch"] == pytest.approx(0.8)
    assert rb["ddp_efficiency_same_per_gpu_batch"] == pytest.approx(0.95)
    assert res["speedup_median"] == pytest.approx(2 * 0.8 * 0.95)
