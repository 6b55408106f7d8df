"""`vla serve --workers N`: several server processes on one port, counted as one server."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from fake_policy import make_obs
from serve_process import start_serve
from tiny_checkpoint import make_tiny_checkpoint

from vla.serving.client import PolicyClient, PolicyServerError
from vla.serving.worker_slot import SharedStats

ROBOTS = 16  # all on one of two workers: probability 2 * 2**-16


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny")


@pytest.fixture(scope="module")
def policy(checkpoint: Path):
    from vla.policy import Policy

    return Policy.from_pretrained(checkpoint, device="cpu")


def test_shared_stats_sum_the_workers():
    shared = SharedStats(2)
    shared.write(0, {"forwards": 3, "requests": 9, "forward_s": 0.3, "connections": 2, "pid": 11})
    shared.write(1, {"forwards": 1, "requests": 1, "forward_s": 0.1, "connections": 1, "pid": 12})
    total = shared.total()
    assert (total["forwards"], total["requests"], total["connections"]) == (4, 10, 3)
    assert total["mean_batch"] == 2.5 and total["mean_forward_ms"] == pytest.approx(100.0)
    assert [w["pid"] for w in total["workers"]] == [11, 12]
    assert shared.connections() == 3


def test_workers_answer_as_one_server(checkpoint: Path, policy) -> None:
    proc, port, lines = start_serve(checkpoint, "--device", "cpu", "--torch-threads", "1",
                                    "--workers", "2", "--max-connections", "17",
                                    "--evict-idle-s", "600")  # fmt: skip
    try:
        assert any("2 workers" in line for line in lines), "".join(lines)
        clients = [PolicyClient(port=port) for _ in range(ROBOTS)]
        for i, client in enumerate(clients):
            obs = make_obs(i, task="pick up the green cube")
            np.testing.assert_allclose(client.act(obs), policy.act(obs), atol=1e-6)
        time.sleep(0.3)  # every worker publishes its counters within 0.1 s
        stats = clients[0].stats()
        assert stats["requests"] == ROBOTS and stats["connections"] == ROBOTS
        per_worker = stats["workers"]
        assert len(per_worker) == 2 and sum(w["requests"] for w in per_worker) == ROBOTS
        assert all(w["connections"] >= 1 for w in per_worker), per_worker  # the kernel spread them
        # the cap counts every worker's robots: the 17th connects, the 18th is refused (503)
        extra = PolicyClient(port=port)
        with pytest.raises((PolicyServerError, OSError)):
            PolicyClient(port=port, timeout=5.0)
        extra.close()
        for client in clients:
            client.close()
        pids = [w["pid"] for w in per_worker]
        assert proc.poll() is None
    finally:
        proc.terminate()  # what a supervisor does: the parent stops its workers
        proc.wait(30)
    assert proc.returncode == 0
    assert all(_gone(pid, 15) for pid in pids), "a worker outlived `vla serve`"


def test_workers_exit_when_the_parent_is_killed(checkpoint: Path) -> None:
    proc, port, _ = start_serve(checkpoint, "--device", "cpu", "--torch-threads", "1",
                                "--workers", "2")  # fmt: skip
    with PolicyClient(port=port) as client:
        pids = [w["pid"] for w in client.stats()["workers"]]
    os.kill(proc.pid, signal.SIGKILL)  # no chance to stop them
    proc.wait(10)
    assert all(_gone(pid, 15) for pid in pids), "an orphaned worker kept serving"


def test_bad_worker_count_is_named(checkpoint: Path, capsys) -> None:
    from vla.cli.main import main

    assert main(["serve", "--checkpoint", str(checkpoint), "--workers", "0"]) == 2
    assert "--workers must be >= 1" in capsys.readouterr().err
