"""The msgpack wire format: round trips, and refusal of everything malformed or unsafe."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest

from vla.serving import codec


@pytest.mark.parametrize(
    "arr",
    [
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.zeros((0, 7), dtype=np.float64),
        np.full((2, 2, 3), 255, dtype=np.uint8),
        np.array([True, False]),
        np.arange(5, dtype=">i4"),  # big-endian arrives in native order with equal values
        np.array(3.5, dtype=np.float32),  # 0-d
        np.arange(20, dtype=np.int64)[::3],  # non-contiguous
    ],
)
def test_array_round_trip(arr: np.ndarray) -> None:
    out = codec.decode(codec.encode({"a": arr, "n": [1, "x", None]}))
    assert out["n"] == [1, "x", None]
    np.testing.assert_array_equal(out["a"], arr)
    assert out["a"].shape == arr.shape
    assert out["a"].dtype == arr.dtype.newbyteorder("=")


def test_numpy_scalars_become_python() -> None:
    assert codec.decode(codec.encode({"x": np.float32(1.5), "i": np.int64(3)})) == {
        "x": 1.5,
        "i": 3,
    }


def test_object_arrays_are_refused_on_encode() -> None:
    with pytest.raises(TypeError, match="dtype object"):
        codec.encode(np.array([{"a": 1}], dtype=object))
    with pytest.raises(TypeError, match="cannot encode"):
        codec.encode({"x": object()})


def _ext(inner: list) -> bytes:
    payload = msgpack.packb(inner, use_bin_type=True)
    return msgpack.packb({"a": msgpack.ExtType(codec.NDARRAY_EXT, payload)}, use_bin_type=True)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"\xc1\xff\x00garbage", "malformed msgpack"),
        (_ext(["|O", [1], b"\x00" * 8]), "not allowed"),
        (_ext(["<f4", [2, 2], b"\x00" * 4]), "needs 16 bytes"),
        (_ext(["<f4", [-1], b""]), "shape"),
        (_ext(["<f4", [1] * 9, b"\x00" * 4]), "shape"),
        (_ext(["<f4", [1], "text"]), "bin bytes"),
        (_ext(["<f4"]), "malformed array payload"),
        (msgpack.packb(msgpack.ExtType(7, b"xx")), "unknown msgpack extension"),
        (msgpack.packb({1: 2}), "malformed msgpack"),  # non-string map keys
    ],
)
def test_malformed_input_raises_codec_error(data: bytes, match: str) -> None:
    with pytest.raises(codec.CodecError, match=match):
        codec.decode(data)


def test_length_limit_applies_to_every_container() -> None:
    data = codec.encode({"s": "x" * 1000})
    with pytest.raises(codec.CodecError):
        codec.decode(data, max_len=100)
    assert codec.decode(data, max_len=2000)["s"] == "x" * 1000


def test_text_is_refused() -> None:
    with pytest.raises(codec.CodecError, match="binary"):
        codec.decode("not bytes")  # type: ignore[arg-type]
