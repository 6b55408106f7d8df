"""Data-parallel training: the same entry point under torchrun, 2 CPU processes (gloo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from vla_synthetic import overrides

from vla.policy import Policy

REPO = Path(__file__).resolve().parents[2]


def test_torchrun_two_processes_gloo(dataset, tmp_path):
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_port", "29517", "-m", "vla.cli.main", "train",
        "--config", "configs/train/tiny_cpu.yaml",
        *overrides(dataset, tmp_path, "--steps=4", "--batch_size=4", "--log_every=2"),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "world=2" in proc.stdout
    assert proc.stdout.count("final checkpoint:") == 1  # rank 0 reports, not every rank
    # each rank decoded half of the 4 episodes (2 x 16 frames), not all of them
    assert "32 samples (4 episodes, this rank: 1/2" in proc.stdout
    log = [json.loads(x) for x in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 4]  # written once (rank 0), not once per rank
    assert {(r["world"], r["global_batch"]) for r in log} == {(2, 8)}
    policy = Policy.from_pretrained(tmp_path / "final")
    assert policy.metadata["chunk_size"] == 8
