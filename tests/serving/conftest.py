"""Fixtures: a real policy server on loopback (background thread) around a test policy."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_policy import TOKEN, FakePolicy  # noqa: E402

from vla.serving.server import PolicyServer, ServerConfig, ServerHandle  # noqa: E402


@pytest.fixture
def fake_policy() -> FakePolicy:
    return FakePolicy()


@pytest.fixture
def server(fake_policy: FakePolicy) -> Iterator[ServerHandle]:
    handle = PolicyServer(fake_policy, ServerConfig(port=0, max_message_bytes=256 * 1024))
    running = handle.start_in_thread()
    yield running
    running.stop()


@pytest.fixture
def token_server(fake_policy: FakePolicy) -> Iterator[ServerHandle]:
    running = PolicyServer(fake_policy, ServerConfig(port=0, token=TOKEN)).start_in_thread()
    yield running
    running.stop()
