"""Chunking episodes for FAST fitting, and a smoke run of benchmarks/tokenizers_bench.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vla.data.reader import dataset_episode_actions
from vla.tokenizers.chunks import sliding_chunks

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT.parent / "shared/fixtures/lerobot_v3_sample"


def test_sliding_chunks_stay_inside_episodes() -> None:
    eps = [np.arange(12.0).reshape(6, 2), np.arange(100.0, 108.0).reshape(4, 2), np.zeros((2, 2))]
    chunks = sliding_chunks(eps, horizon=3, stride=2)
    # 6 rows -> window starts 0..3, every 2nd: 0, 2; 4 rows -> starts 0, 1 -> 0; 2 rows -> none
    assert chunks.shape == (3, 3, 2)
    assert np.array_equal(chunks[0], eps[0][0:3]) and np.array_equal(chunks[1], eps[0][2:5])
    assert np.array_equal(chunks[2], eps[1][0:3])
    with pytest.raises(ValueError, match="lower the chunk horizon"):
        sliding_chunks(eps, horizon=7)


@pytest.mark.skipif(not FIXTURE.is_dir(), reason=f"LeRobot fixture {FIXTURE} absent")
def test_dataset_actions_from_lerobot_fixture() -> None:
    episodes, stats = dataset_episode_actions(FIXTURE)
    assert len(episodes) == 3 and all(e.shape[1] == 7 for e in episodes)
    assert {"q01", "q99", "min", "max", "mean", "std"} <= set(stats)


def test_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    cmd = [sys.executable, str(ROOT / "benchmarks/tokenizers_bench.py"), "--synthetic"]
    cmd += ["--episodes", "30", "--repeats", "1", "--fast-vocab", "256", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    names = [r["name"] for r in report["results"]]
    assert names == ["binning-256", "binning+grip2-256", "fast-s10-v256"]
    fast = report["results"][2]
    assert fast["decode_failures"] == 0 and fast["tokens_per_chunk_mean"] < 70
    assert report["results"][0]["tokens_per_chunk_mean"] == 70
    assert "fast-s10-v256" in proc.stdout
