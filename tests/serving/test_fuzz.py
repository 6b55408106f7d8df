"""Fuzzing the real server on loopback (issue 35 deliverable 3): a bounded barrage of hostile
frames over concurrent connections, valid requests interleaved; no crash, no accepted garbage,
valid answers exact and equal to the policy's own; the server still serves afterwards."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from tiny_checkpoint import make_tiny_checkpoint

from vla.serving.client import PolicyClient
from vla.serving.server import PolicyServer, ServerConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from serve_fuzz import run_fuzz, valid_obs  # noqa: E402

MAX_BYTES = 64 * 1024


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    from vla.policy import Policy

    return Policy.from_pretrained(make_tiny_checkpoint(tmp_path_factory.mktemp("f") / "tiny"))


@pytest.mark.timeout(120)
def test_fuzz_barrage_no_crash_no_wrong_answer(policy) -> None:
    server = PolicyServer(policy, ServerConfig(port=0, max_message_bytes=MAX_BYTES))
    handle = server.start_in_thread()
    try:
        stats = run_fuzz(handle.port, frames=600, connections=3, seed=0, max_bytes=MAX_BYTES,
                         drops=False)  # fmt: skip
        assert stats.requests == 600 and stats.crashes == 0 and stats.wrong == 0
        assert stats.accepted == []  # no hostile frame was answered ok
        hostile = 600 - stats.kinds["valid"]
        assert stats.error_replies + stats.closed_by_limit == hostile
        assert stats.valid_ok == stats.kinds["valid"] == 60 and stats.max_abs_diff == 0.0
        assert stats.closed_by_limit == stats.kinds.get("oversize", 0) > 0
        assert len(stats.kinds) >= 15  # the barrage covers many kinds of attack
        with PolicyClient(port=handle.port) as client:  # still serving, answers exact
            obs = valid_obs(client.metadata, 1)
            np.testing.assert_array_equal(client.act(obs), policy.act(obs))
            assert client.stats()["connections"] == 1
    finally:
        handle.stop()
