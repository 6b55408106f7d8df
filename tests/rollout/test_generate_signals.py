"""D5: generation's worker processes (and the multiprocessing resource tracker) die with their
parent, whether it is SIGKILLed or SIGTERMed; SIGTERM exits as cleanly as Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).parent
REPO = HERE.parents[1]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")


def _children(pid: int) -> set[int]:
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.add(int(entry.name))
    return out


def _descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        kids = _children(todo.pop())
        found |= kids
        todo.extend(kids)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited (only its parent's reaping is left)


def _start(cmd: list[str], ready: str, timeout: float = 240) -> tuple[subprocess.Popen, set]:
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        if ready in line:
            break
        assert time.monotonic() < deadline, "generation did not start"
    else:
        pytest.fail(f"generation exited early ({proc.wait()})")
    kids = _descendants(proc.pid)
    assert len(kids) >= 3, kids  # 2 workers + the resource tracker
    return proc, kids


def _assert_all_gone(pids: set[int], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    left = {p: Path(f"/proc/{p}/cmdline").read_bytes()[:80] for p in pids if _alive(p)}
    for p in left:  # leave nothing behind for the next test, then fail
        os.kill(p, signal.SIGKILL)
    assert not left, f"orphaned processes: {left}"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_die_with_the_parent(tmp_path, sig):
    cmd = [sys.executable, str(HERE / "generation_kill_target.py"), str(tmp_path / "ds")]
    proc, kids = _start(cmd, "READY")
    proc.send_signal(sig)
    code = proc.wait(timeout=60)
    assert code == (-signal.SIGKILL if sig == signal.SIGKILL else 130)
    _assert_all_gone(kids)


@pytest.mark.slow
def test_sigkill_of_vla_data_generate_leaves_no_orphan(tmp_path):
    """The real command with simulator workers (spawn + MuJoCo imports: slow)."""
    cmd = [sys.executable, "-m", "vla", "data", "generate", "--episodes", "200", "--workers",
           "2", "--out", str(tmp_path / "ds"), "--image-size", "32", "32"]  # fmt: skip
    proc, kids = _start(cmd, "generate pick_place")  # tqdm's first line: the pool is running
    time.sleep(5)  # workers are simulating
    kids |= _descendants(proc.pid)
    proc.kill()
    proc.wait(timeout=60)
    _assert_all_gone(kids)
