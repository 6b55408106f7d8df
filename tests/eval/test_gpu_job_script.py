"""scripts/gpu_job.sh: a detached job outlives the command that started it, `wait` follows its
log, returns its exit status and copies what it wrote under its OUT into the caller's OUT, and fails
at once where the job is gone."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gpu_job.sh"


def _job(tmp_path: Path, *args: str, out: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "JOB": str(tmp_path / "job")}
    if out is not None:
        env["OUT"] = str(out)
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          env=env, timeout=60)  # fmt: skip


def test_start_detaches_and_wait_returns_status_log_and_files(tmp_path):
    body = 'echo first; echo part > "$OUT/result.txt"; sleep 2; echo second; exit 3'
    started = _job(tmp_path, "start", "bash", "-c", body)
    assert started.returncode == 0 and "started job" in started.stdout  # returned at once
    again = _job(tmp_path, "start", "true")
    assert again.returncode == 1 and "already running" in again.stderr  # one job at a time
    out = tmp_path / "out"
    out.mkdir()
    waited = _job(tmp_path, "wait", "30", out=out)
    assert waited.returncode == 3  # the job's own exit status
    assert "first" in waited.stdout and "second" in waited.stdout
    assert (out / "result.txt").read_text() == "part\n"


def test_wait_gives_up_after_its_limit_and_a_later_wait_finishes(tmp_path):
    _job(tmp_path, "start", "bash", "-c", "sleep 8; echo done")
    early = _job(tmp_path, "wait", "1", out=tmp_path)
    assert early.returncode == 0 and "still running" in early.stdout
    late = _job(tmp_path, "wait", "30", out=tmp_path)
    assert late.returncode == 0 and "done" in late.stdout and "finished: rc 0" in late.stdout


def test_wait_on_a_machine_without_the_job_fails_at_once(tmp_path):
    # a fresh machine (the one that ran the job was released): no waiting out the limit
    lost = _job(tmp_path, "wait", "50", out=tmp_path)
    assert lost.returncode == 4 and "no job on this machine" in lost.stderr
    assert "start it again" in lost.stderr
