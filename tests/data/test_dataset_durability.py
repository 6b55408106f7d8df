"""Durability: SIGKILL a real writer process; the dataset loads and resume appends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from synthetic_dataset import write_episodes

from vla.constants import ACTION, IMAGE_KEYS, OBS_STATE
from vla.data import DatasetWriter, LeRobotDatasetReader
from vla.data import consolidate as cons

TARGET = Path(__file__).with_name("kill_target_writer.py")
REPO = Path(__file__).resolve().parents[2]


def _start(root: Path, mode: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, str(TARGET), str(root), mode],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def _wait_for(proc: subprocess.Popen, word: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if line.strip() == word:
            return
        if not line and proc.poll() is not None:
            raise RuntimeError(f"writer exited with {proc.returncode} before {word!r}")
    raise TimeoutError(word)


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def check_dataset(root: Path) -> LeRobotDatasetReader:
    """Every episode present is complete and has the content its index dictates."""
    r = LeRobotDatasetReader(root)
    index = 0
    for e in range(r.num_episodes):
        arrays = r.episode_arrays(e)
        length = r.episode_length(e)
        t = np.arange(length)
        np.testing.assert_allclose(arrays[OBS_STATE][:, 0], e + t / 100, atol=1e-5)
        np.testing.assert_allclose(arrays[ACTION][:, 0], t / length, atol=1e-6)
        assert arrays["index"].tolist() == list(range(index, index + length))
        index += length
        for key in IMAGE_KEYS:
            assert len(r.episode_frames(e, key)) == length
    return r


def test_sigkill_mid_episode_then_resume(tmp_path):
    root = tmp_path / "ds"
    proc = _start(root, "pause")
    _wait_for(proc, "MID")
    _kill(proc)
    r = check_dataset(root)
    assert r.num_episodes == 3  # the half-buffered fourth episode is lost, nothing else
    w = DatasetWriter.resume(root)
    write_episodes(w, [4, 6], first=w.num_episodes)
    w.finalize()
    r = check_dataset(root)
    assert r.num_episodes == 5 and r.info["total_episodes"] == 5
    assert r.info["total_frames"] == 6 + 8 + 5 + 4 + 6


@pytest.mark.parametrize("delay", [1.3, 2.1, 2.9])
def test_sigkill_at_random_moments(tmp_path, delay):
    root = tmp_path / "ds"
    proc = _start(root, "loop")
    _wait_for(proc, "0")
    time.sleep(delay)  # lands anywhere: in a save, a merge, or between episodes
    _kill(proc)
    before = check_dataset(root).num_episodes
    assert before >= 1
    w = DatasetWriter.resume(root)
    write_episodes(w, [5, 6], first=w.num_episodes)
    w.finalize()
    r = check_dataset(root)
    assert r.num_episodes == before + 2
    # after resume/finalize no file is left over: all data files hold exactly the frames
    rows = sum(pq.read_metadata(p).num_rows for p in root.glob("data/*/*.parquet"))
    assert rows == r.num_frames == r.info["total_frames"]


def test_crash_between_merge_and_commit_is_repaired(tmp_path, features, monkeypatch):
    root = tmp_path / "ds"
    w = DatasetWriter(root, 10, features, "panda", consolidate_every=0)
    write_episodes(w, [5, 6, 7])
    real = cons.atomic_write_table

    def crash_on_commit(path, table):
        if "episodes" in str(path):
            raise KeyboardInterrupt("simulated crash before the episode table commit")
        real(path, table)

    monkeypatch.setattr(cons, "atomic_write_table", crash_on_commit)
    with pytest.raises(KeyboardInterrupt):
        w.consolidate()
    monkeypatch.undo()
    w.close()  # as if the process died: the OS releases its lock
    # the merged first file now has extra frames; readers still see exactly 3 episodes
    assert pq.read_metadata(root / "data/chunk-000/file-000.parquet").num_rows == 18
    check_dataset(root)
    w = DatasetWriter.resume(root)
    assert pq.read_metadata(root / "data/chunk-000/file-000.parquet").num_rows == 5  # trimmed
    write_episodes(w, [4], first=3)
    with pytest.raises(RuntimeError, match="being written by another DatasetWriter"):
        DatasetWriter.resume(root)
    w.finalize()
    assert check_dataset(root).num_episodes == 4
    assert len(list(root.glob("videos/*/*/*.mp4"))) == 2
