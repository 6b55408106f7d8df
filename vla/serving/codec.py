"""msgpack wire format for the policy server: plain msgpack plus an explicit numpy extension.

No pickle anywhere: a numpy array travels as a msgpack extension (type code ``NDARRAY_EXT``)
whose payload is itself msgpack ``[dtype_str, shape, raw_bytes]``. Only plain numeric dtypes are
accepted on decode (no object arrays, no structured dtypes), the byte count must match the
shape exactly, and decoding never executes code from the peer. This module imports only numpy
and msgpack so that the robot-side client stays free of torch.

    >>> import numpy as np
    >>> msg = {"state": np.arange(3, dtype=np.float32)}
    >>> decode(encode(msg))["state"].tolist()
    [0.0, 1.0, 2.0]
"""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np

NDARRAY_EXT = 42  # msgpack extension type code for a numpy array
# dtypes a peer may send; anything else (object, void, strings, ...) is refused on decode
ALLOWED_DTYPES: frozenset[str] = frozenset(
    np.dtype(t).str
    for t in (
        np.bool_, np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32,
        np.uint64, np.int64, np.float16, np.float32, np.float64,
    )
) | frozenset(
    np.dtype(t).newbyteorder(">").str
    for t in (np.uint16, np.int16, np.uint32, np.int32, np.uint64, np.int64,
              np.float16, np.float32, np.float64)
)  # fmt: skip
MAX_NDIM = 8


class CodecError(ValueError):
    """A message that is not valid msgpack or carries a malformed array."""


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        if obj.dtype.str not in ALLOWED_DTYPES:
            raise TypeError(f"cannot send a numpy array of dtype {obj.dtype}; use a numeric dtype")
        # not ascontiguousarray: it turns 0-d arrays into 1-d ones
        arr = obj if obj.flags.c_contiguous else obj.copy(order="C")
        payload = msgpack.packb([arr.dtype.str, list(arr.shape), arr.tobytes()], use_bin_type=True)
        return msgpack.ExtType(NDARRAY_EXT, payload)
    if isinstance(obj, np.generic):  # numpy scalars become plain Python scalars
        return obj.item()
    raise TypeError(f"cannot encode an object of type {type(obj).__name__}")


def _ext_hook(code: int, data: bytes) -> Any:
    if code != NDARRAY_EXT:
        raise CodecError(f"unknown msgpack extension type {code}")
    try:
        dtype_str, shape, raw = msgpack.unpackb(data, raw=False, use_list=True)
    except Exception as exc:  # malformed inner payload: any msgpack or unpacking error
        raise CodecError(f"malformed array payload: {exc}") from None
    if not isinstance(dtype_str, str) or dtype_str not in ALLOWED_DTYPES:
        raise CodecError(f"array dtype {dtype_str!r} is not allowed")
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_NDIM
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise CodecError(f"array shape {shape!r} is not a list of at most {MAX_NDIM} sizes >= 0")
    if not isinstance(raw, bytes):
        raise CodecError("array data must be msgpack bin bytes")
    dtype = np.dtype(dtype_str)
    count = 1
    for d in shape:
        count *= d
    if count * dtype.itemsize != len(raw):
        raise CodecError(
            f"array of shape {tuple(shape)} and dtype {dtype} needs {count * dtype.itemsize} "
            f"bytes, got {len(raw)}"
        )
    # frombuffer is read-only and zero-copy; convert to native byte order for the consumer
    arr = np.frombuffer(raw, dtype=dtype).reshape(tuple(shape))
    return arr.astype(dtype.newbyteorder("="), copy=False)


def encode(message: Any) -> bytes:
    """Serialise a message (dicts, lists, str, numbers, bytes, numpy arrays) to bytes."""
    return msgpack.packb(message, default=_default, use_bin_type=True)


def decode(data: bytes, max_len: int | None = None) -> Any:
    """Parse bytes produced by :func:`encode`; raise :class:`CodecError` on anything malformed.

    ``max_len`` bounds every string, bin, array and map length msgpack will allocate.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CodecError(f"expected a binary message, got {type(data).__name__}")
    limit = max_len if max_len is not None else len(data)
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            ext_hook=_ext_hook,
            strict_map_key=True,
            use_list=True,
            max_str_len=limit,
            max_bin_len=limit,
            max_array_len=limit,
            max_map_len=limit,
            max_ext_len=limit,
        )
    except CodecError:
        raise
    except Exception as exc:  # msgpack raises several unrelated types for malformed input
        raise CodecError(f"malformed msgpack message: {type(exc).__name__}: {exc}") from None
