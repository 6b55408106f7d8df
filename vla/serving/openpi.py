"""openpi's websocket client protocol, so openpi clients (``openpi_client.WebsocketClientPolicy``)
and the evaluation harnesses built on it can drive our policies.

    openpi client                                   server
    connect (no subprotocol), waits            <-   metadata map (msgpack), sent on connect
    obs map (msgpack, numpy as openpi maps)    ->   validate -> batched forward
                                               <-   {"actions": f32[H, A], "server_timing": {...}}
    anything malformed                         <-   a text frame with the error (the openpi
                                                    client raises it); the connection stays open

openpi encodes a numpy array as the map ``{b"__ndarray__": True, b"data": raw bytes,
b"dtype": dtype.str, b"shape": [...]}`` and a numpy scalar as ``{b"__npgeneric__": True,
b"data": value, b"dtype": dtype.str}``; both are rebuilt here with the same checks as our own
codec (allowed dtypes, at most ``MAX_NDIM`` sizes, byte count equal to the shape's). The
observation uses our keys (``observation.images.<camera>``, ``observation.state``); openpi's
``prompt`` is the instruction, and ``/`` may stand for ``.`` in keys (``observation/state``).
Imports numpy and msgpack only. From a robot with ``openpi-client`` installed::

    from openpi_client.websocket_client_policy import WebsocketClientPolicy

    policy = WebsocketClientPolicy("127.0.0.1", 8000, api_key=TOKEN)  # api_key: --token-file
    policy.get_server_metadata()["camera_names"]     # what to send
    chunk = policy.infer({"observation/images/scene": scene, "observation/images/wrist": wrist,
                          "observation/state": state, "prompt": "put the red cube in the bowl"})
    chunk["actions"]                                 # (H, 7) float32
"""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np

from vla.serving.codec import ALLOWED_DTYPES, MAX_NDIM, CodecError
from vla.serving.protocol import TASK, RequestError

PROMPT = "prompt"  # openpi's name for the instruction
_ND, _NG = b"__ndarray__", b"__npgeneric__"


def _array(m: dict) -> np.ndarray:
    dtype_str, shape, raw = m.get(b"dtype"), m.get(b"shape"), m.get(b"data")
    if not isinstance(dtype_str, str) or dtype_str not in ALLOWED_DTYPES:
        raise RequestError(f"array dtype {dtype_str!r} is not allowed; send a numeric dtype")
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_NDIM
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise RequestError(f"array shape {shape!r} is not a list of at most {MAX_NDIM} sizes")
    if not isinstance(raw, bytes):
        raise RequestError("array data must be msgpack bin bytes")
    dtype = np.dtype(dtype_str)
    need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if need != len(raw):
        raise RequestError(f"array of shape {tuple(shape)} and dtype {dtype} needs {need} bytes, "
                           f"got {len(raw)}")  # fmt: skip
    arr = np.frombuffer(raw, dtype=dtype).reshape(tuple(shape))
    return arr.astype(dtype.newbyteorder("="), copy=False)


def _scalar(m: dict) -> Any:
    dtype_str, value = m.get(b"dtype"), m.get(b"data")
    if not isinstance(dtype_str, str) or dtype_str not in ALLOWED_DTYPES:
        raise RequestError(f"scalar dtype {dtype_str!r} is not allowed")
    if not isinstance(value, (bool, int, float)):
        raise RequestError(f"scalar data must be a number, got {type(value).__name__}")
    try:
        return np.dtype(dtype_str).type(value)
    except (OverflowError, ValueError) as exc:
        raise RequestError(f"scalar {value!r} does not fit {dtype_str}: {exc}") from None


def observation(msg: Any) -> dict[str, Any]:
    """An openpi request (decoded msgpack) -> our observation dict (not yet validated)."""
    if not isinstance(msg, dict):
        raise RequestError(f"an openpi request must be a map of observations, got "
                           f"{type(msg).__name__}")  # fmt: skip
    obs: dict[str, Any] = {}
    for key, value in msg.items():
        if not isinstance(key, str):
            raise RequestError(f"observation keys must be strings, got {key!r:.60}")
        name = TASK if key == PROMPT else key.replace("/", ".")
        if name in obs:
            raise RequestError(f"observation key {name!r} given twice ({key!r})")
        if isinstance(value, dict) and value.get(_ND) is True:
            value = _array(value)
        elif isinstance(value, dict) and value.get(_NG) is True:
            value = _scalar(value)
        obs[name] = value
    return obs


def _pack_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        if obj.dtype.str not in ALLOWED_DTYPES:
            raise TypeError(f"cannot send a numpy array of dtype {obj.dtype}")
        arr = obj if obj.flags.c_contiguous else obj.copy(order="C")
        return {_ND: True, b"data": arr.tobytes(), b"dtype": arr.dtype.str, b"shape": arr.shape}
    if isinstance(obj, np.generic):
        return {_NG: True, b"data": obj.item(), b"dtype": obj.dtype.str}
    raise TypeError(f"cannot encode an object of type {type(obj).__name__}")


def encode(message: Any) -> bytes:
    """A message in openpi's msgpack form (numpy arrays and scalars as openpi maps)."""
    return msgpack.packb(message, default=_pack_default, use_bin_type=True)


def decode_arrays(obj: Any) -> Any:
    """openpi maps -> numpy, recursively (for clients written to the openpi protocol)."""
    if isinstance(obj, dict):
        if obj.get(_ND) is True:
            return _array(obj)
        if obj.get(_NG) is True:
            return _scalar(obj)
        return {k: decode_arrays(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode_arrays(v) for v in obj]
    return obj


__all__ = ["PROMPT", "CodecError", "decode_arrays", "encode", "observation"]
