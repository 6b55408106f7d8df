"""A barrage of malformed requests: each gets an error reply, and the server keeps serving."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest
from fake_policy import FakePolicy, make_obs
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from vla.constants import OBS_IMAGE_SCENE, OBS_IMAGE_WRIST, OBS_STATE
from vla.serving import codec
from vla.serving.client import PolicyClient


def _obs(**changes) -> dict:
    obs = make_obs(7)
    for key, value in changes.items():
        key = {"scene": OBS_IMAGE_SCENE, "wrist": OBS_IMAGE_WRIST, "state": OBS_STATE}.get(key, key)
        if value is None:
            del obs[key]
        else:
            obs[key] = value
    return obs


def _act(obs) -> bytes:
    return codec.encode({"op": "act", "obs": obs})


GOOD_STATE = make_obs(7)[OBS_STATE]
NAN_STATE = GOOD_STATE.copy()
NAN_STATE[3] = np.nan
INF_STATE = GOOD_STATE.copy()
INF_STATE[0] = np.inf

BARRAGE: list[tuple[str, bytes | str, str]] = [
    ("garbage bytes", b"\x00\xff\xfe garbage \xc1", "malformed msgpack"),
    ("text frame", "hello", "binary msgpack"),
    ("not a map", codec.encode([1, 2, 3]), "must be a map"),
    ("unknown op", codec.encode({"op": "explode"}), "unknown op"),
    ("no op", codec.encode({"obs": {}}), "unknown op"),
    ("extra field", codec.encode({"op": "reset", "x": 1}), "unknown request fields"),
    ("act without obs", codec.encode({"op": "act"}), "needs an 'obs'"),
    ("obs not a map", _act([1, 2]), "'obs' must be a map"),
    ("missing image", _act(_obs(wrist=None)), "missing observation keys"),
    ("unknown key", _act(_obs(**{"observation.images.top": np.zeros((32, 32, 3), np.uint8)})),
     "unknown observation keys"),
    ("image wrong shape", _act(_obs(scene=np.zeros((64, 64, 3), np.uint8))), "must have shape"),
    ("image wrong channels", _act(_obs(scene=np.zeros((32, 32, 4), np.uint8))), "must have shape"),
    ("image wrong dtype", _act(_obs(scene=np.zeros((32, 32, 3), np.float32))), "dtype uint8"),
    ("image as list", _act(_obs(scene=[[1, 2], [3, 4]])), "must be a uint8 array"),
    ("state wrong shape", _act(_obs(state=np.zeros(3, np.float32))), "must have shape"),
    ("state float64", _act(_obs(state=GOOD_STATE.astype(np.float64))), "dtype float32"),
    ("state as string", _act(_obs(state="1,2,3")), "must be a float32 array"),
    ("state NaN", _act(_obs(state=NAN_STATE)), "NaN or infinite"),
    ("state inf", _act(_obs(state=INF_STATE)), "NaN or infinite"),
    ("empty task", _act(_obs(task="   ")), "is empty"),
    ("task too long", _act(_obs(task="x" * 10_000)), "at most 512"),
    ("task not a string", _act(_obs(task=42)), "must be a string"),
    ("array with lying size", msgpack.packb({"op": "act", "obs": msgpack.ExtType(
        codec.NDARRAY_EXT, msgpack.packb(["<f4", [1000], b"\x00" * 8]))}), "needs 4000 bytes"),
    ("object dtype array", msgpack.packb({"op": "act", "obs": msgpack.ExtType(
        codec.NDARRAY_EXT, msgpack.packb(["|O", [1], b"\x00" * 8]))}), "not allowed"),
    ("unknown extension", msgpack.packb(msgpack.ExtType(99, b"\x80")), "unknown msgpack extension"),
    ("truncated message", _act(_obs())[:-20], "malformed msgpack"),
]  # fmt: skip


def _reply(ws, frame: bytes | str) -> dict:
    ws.send(frame)
    return codec.decode(ws.recv(timeout=10))


def test_barrage_gets_error_replies_and_the_connection_survives(
    server, fake_policy: FakePolicy
) -> None:
    good = make_obs(7)
    with connect(f"ws://127.0.0.1:{server.port}", compression=None) as ws:
        for name, frame, match in BARRAGE:
            reply = _reply(ws, frame)
            assert reply["ok"] is False, name
            assert reply["code"] == "bad_request", name
            assert match in reply["error"], (name, reply["error"])
        # the same connection still answers a good request correctly
        reply = _reply(ws, _act(good))
        assert reply["ok"] is True
        np.testing.assert_array_equal(reply["actions"], fake_policy.act(good))


def test_huge_payload_closes_only_that_connection(server, fake_policy: FakePolicy) -> None:
    good = make_obs(8)
    with PolicyClient(port=server.port) as bystander:
        with connect(f"ws://127.0.0.1:{server.port}", compression=None) as ws:
            ws.send(b"\x00" * (300 * 1024))  # above the fixture's 256 KiB limit
            with pytest.raises(ConnectionClosed) as info:
                ws.recv(timeout=10)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1009
        # other robots are unaffected, and a new connection works
        np.testing.assert_array_equal(bystander.act(good), fake_policy.act(good))
    with PolicyClient(port=server.port) as fresh:
        np.testing.assert_array_equal(fresh.act(good), fake_policy.act(good))


def test_oversized_observation_through_the_client_raises_cleanly(server) -> None:
    huge = make_obs(9)
    huge[OBS_IMAGE_SCENE] = np.zeros((512, 512, 3), np.uint8)  # 768 KiB > 256 KiB
    with PolicyClient(port=server.port) as client:
        with pytest.raises(Exception, match="too big"):
            client.act(huge)


def test_policy_failure_is_reported_and_serving_continues(server, fake_policy) -> None:
    calls = {"n": 0}
    original = fake_policy.predict_batch

    def flaky(observations):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("CUDA out of memory (simulated)")
        return original(observations)

    fake_policy.predict_batch = flaky  # the batcher captured the bound method: patch via server
    server.server.batcher._predict_batch = flaky
    with PolicyClient(port=server.port) as client:
        with pytest.raises(Exception, match="out of memory") as info:
            client.act(make_obs(1))
        assert info.value.code == "internal"
        assert client.act(make_obs(1)).shape == (4, 7)
