"""The server speaks openpi's websocket client protocol (issue 32 item 6), tested with a client
written here to that protocol: connect, read the metadata the server sends unasked, send a
msgpack observation whose numpy arrays are openpi maps, read ``{"actions": ...}``; an error is
a text frame. Our own protocol keeps working beside it, also for a raw client of ours that is
slower than the server's openpi probe."""

from __future__ import annotations

import time
from contextlib import ExitStack

import msgpack
import numpy as np
import pytest
from fake_policy import TOKEN, FakePolicy, make_obs
from websockets.sync.client import connect

from vla.constants import TASK
from vla.serving import codec
from vla.serving.client import PolicyClient
from vla.serving.server import PolicyServer, ServerConfig


def _pack_numpy(obj):
    """openpi's numpy convention: arrays and scalars as maps with bytes keys."""
    if isinstance(obj, np.ndarray):
        return {b"__ndarray__": True, b"data": obj.tobytes(), b"dtype": obj.dtype.str,
                b"shape": obj.shape}  # fmt: skip
    if isinstance(obj, np.generic):
        return {b"__npgeneric__": True, b"data": obj.item(), b"dtype": obj.dtype.str}
    return obj


def _unpack_numpy(obj):
    if b"__ndarray__" in obj:
        return np.ndarray(buffer=obj[b"data"], dtype=np.dtype(obj[b"dtype"]), shape=obj[b"shape"])
    if b"__npgeneric__" in obj:
        return np.dtype(obj[b"dtype"]).type(obj[b"data"])
    return obj


class OpenpiStyleClient:
    """What ``openpi_client.WebsocketClientPolicy`` does on the wire."""

    def __init__(self, port: int, api_key: str | None = None) -> None:
        headers = {"Authorization": f"Api-Key {api_key}"} if api_key else None
        # openpi's client calls connect() plainly; websockets 17 wants a context for that
        self._stack = ExitStack()
        self.ws = self._stack.enter_context(connect(
            f"ws://127.0.0.1:{port}", compression=None, max_size=None, additional_headers=headers
        ))  # fmt: skip
        self.metadata = msgpack.unpackb(self.ws.recv(timeout=10), object_hook=_unpack_numpy)

    def infer(self, obs: dict) -> dict:
        self.ws.send(msgpack.packb(obs, default=_pack_numpy, use_bin_type=True))
        reply = self.ws.recv(timeout=10)
        if isinstance(reply, str):
            raise RuntimeError(f"Error in inference server:\n{reply}")
        return msgpack.unpackb(reply, object_hook=_unpack_numpy)

    def close(self) -> None:
        self._stack.close()


def _openpi_obs(seed: int) -> dict:
    """Our observation with openpi's habits: ``prompt`` and ``/`` in keys."""
    obs = make_obs(seed)
    out = {k.replace(".", "/"): v for k, v in obs.items() if k != TASK}
    out["prompt"] = obs[TASK]
    return out


@pytest.fixture
def served():
    policy = FakePolicy()
    handle = PolicyServer(policy, ServerConfig(port=0, token=TOKEN)).start_in_thread()
    yield policy, handle.port
    handle.stop()


def test_openpi_client_gets_metadata_and_exact_actions(served) -> None:
    policy, port = served
    client = OpenpiStyleClient(port, api_key=TOKEN)
    try:
        assert client.metadata["camera_names"] == ["scene", "wrist"]
        assert client.metadata["chunk_size"] == 4 and client.metadata["action_dim"] == 7
        for seed in range(3):
            reply = client.infer(_openpi_obs(seed))
            assert reply["actions"].dtype == np.float32 and reply["actions"].shape == (4, 7)
            np.testing.assert_array_equal(reply["actions"], policy.act(make_obs(seed)))
            assert reply["server_timing"]["infer_ms"] >= 0
        # our own keys work too
        reply = client.infer({**make_obs(5)})
        np.testing.assert_array_equal(reply["actions"], policy.act(make_obs(5)))
    finally:
        client.close()


def test_openpi_errors_are_text_frames_and_the_connection_survives(served) -> None:
    policy, port = served
    client = OpenpiStyleClient(port, api_key=TOKEN)
    try:
        bad = _openpi_obs(1)
        bad["observation/state"] = bad["observation/state"][:3]
        with pytest.raises(RuntimeError, match=r"bad_request: 'observation.state' must have shape"):
            client.infer(bad)
        nan = _openpi_obs(1)
        nan["observation/state"] = np.full(15, np.nan, dtype=np.float32)
        with pytest.raises(RuntimeError, match="NaN"):
            client.infer(nan)
        lying = msgpack.packb({"observation/state": {b"__ndarray__": True, b"data": b"\x00" * 8,
                               b"dtype": "<f4", b"shape": [10**6]}}, use_bin_type=True)  # fmt: skip
        client.ws.send(lying)
        assert "needs 4000000 bytes, got 8" in client.ws.recv(timeout=10)
        client.ws.send(msgpack.packb({"x": {b"__ndarray__": True, b"data": b"", b"dtype": "|O",
                                            b"shape": [0]}}))  # fmt: skip
        assert "not allowed" in client.ws.recv(timeout=10)
        np.testing.assert_array_equal(
            client.infer(_openpi_obs(2))["actions"], policy.act(make_obs(2))
        )
    finally:
        client.close()


def test_openpi_client_needs_the_token(served) -> None:
    _, port = served
    with pytest.raises(Exception, match="401"):
        OpenpiStyleClient(port, api_key="wrong-token-0123456789")


def test_our_protocol_beside_openpi(served) -> None:
    """Our client (it offers our subprotocol) and a raw client of ours that waits longer than
    the openpi probe before its first request both stay in step."""
    policy, port = served
    openpi_client = OpenpiStyleClient(port, api_key=TOKEN)
    with PolicyClient(port=port, token=TOKEN) as ours:
        np.testing.assert_array_equal(ours.act(make_obs(4)), policy.act(make_obs(4)))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with connect(f"ws://127.0.0.1:{port}", additional_headers=headers) as raw:
        time.sleep(0.6)  # the server has taken it for openpi and sent the metadata
        raw.send(codec.encode({"op": "metadata"}))
        first = codec.decode(raw.recv(timeout=10))
        assert first["ok"] and first["metadata"]["state_dim"] == 15
        raw.send(codec.encode({"op": "act", "obs": make_obs(6)}))
        reply = codec.decode(raw.recv(timeout=10))
        np.testing.assert_array_equal(reply["actions"], policy.act(make_obs(6)))
    with connect(f"ws://127.0.0.1:{port}", additional_headers=headers) as quick:  # no wait
        quick.send(codec.encode({"op": "act", "obs": make_obs(7)}))
        reply = codec.decode(quick.recv(timeout=10))
        np.testing.assert_array_equal(reply["actions"], policy.act(make_obs(7)))
    np.testing.assert_array_equal(
        openpi_client.infer(_openpi_obs(8))["actions"], policy.act(make_obs(8))
    )
    openpi_client.close()
