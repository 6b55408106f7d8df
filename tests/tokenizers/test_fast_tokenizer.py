"""FastActionTokenizer: bounded round trip on smooth chunks, compression, malformed input."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from vla.constants import ACTION_DIM
from vla.tokenizers import (
    FastActionTokenizer,
    FastConfig,
    FastDecodeError,
    MissingStatisticError,
    load_tokenizer,
)
from vla.tokenizers.normalization import compute_action_stats
from vla.tokenizers.synthetic import min_jerk_chunks

H = 10
SCALE = 10.0


@pytest.fixture(scope="module")
def fitted() -> tuple[FastActionTokenizer, np.ndarray]:
    train = min_jerk_chunks(2000, H, seed=0)
    stats = compute_action_stats(train.reshape(-1, ACTION_DIM))
    tok = FastActionTokenizer(stats, FastConfig(scale=SCALE, vocab_size=512, offset=1000))
    return tok.fit(train), min_jerk_chunks(300, H, seed=1)


def _clip(tok: FastActionTokenizer, chunks: np.ndarray) -> np.ndarray:
    st_ = tok.normalizer.stats
    return np.clip(chunks, st_["q01"], st_["q99"])


def test_round_trip_error_bounded_on_smooth_chunks(fitted) -> None:
    tok, test = fitted
    dec = tok.decode(tok.encode(test))
    assert dec.shape == test.shape
    rms = np.sqrt(((dec - _clip(tok, test)) ** 2).mean(axis=1))  # (B, D) per chunk and dim
    half = tok.normalizer.half_range
    # Deterministic bound (module docstring): per chunk and dim RMS <= half_range / (2 scale).
    assert np.all(rms <= half / (2 * SCALE) * (1 + 1e-9))
    # Statistically, rounding errors are ~uniform: mean RMS near half_range / (scale sqrt 12).
    assert np.all(rms.mean(0) <= 1.25 * half / (SCALE * np.sqrt(12)))


def test_compresses_smooth_chunks(fitted) -> None:
    tok, test = fitted
    lengths = [len(ids) for ids in tok.encode(test)]
    assert np.mean(lengths) < H * ACTION_DIM / 3  # binning would use H*D = 70


def test_shapes_dtypes_and_offset(fitted) -> None:
    tok, test = fitted
    one = tok.encode(test[0])
    assert isinstance(one, np.ndarray) and one.ndim == 1 and one.dtype == np.int64
    assert one.min() >= 1000 and one.max() < 1000 + tok.vocab_size
    batch = tok.encode(test[:3])
    assert isinstance(batch, list) and len(batch) == 3 and np.array_equal(batch[0], one)
    assert tok.decode(one).shape == (H, ACTION_DIM)
    assert tok.decode(batch).shape == (3, H, ACTION_DIM)


def test_out_of_range_clips(fitted) -> None:
    tok, _ = fitted
    big = np.tile(tok.normalizer.stats["q99"] * 10, (H, 1))
    dec = tok.decode(tok.encode(big))
    assert np.allclose(
        dec, tok.normalizer.stats["q99"], atol=float(tok.normalizer.half_range.max()) * 0.05
    )


@pytest.mark.parametrize(
    "mangle, match",
    [
        (lambda ids: ids[:-1], "expected H\\*D"),
        (lambda ids: np.concatenate([ids, ids[:1]]), "expected H\\*D"),
        (lambda ids: ids[:0], "expected H\\*D"),
        (lambda ids: np.concatenate([ids, [5]]), "token id 5 at position"),
        (lambda ids: np.concatenate([ids, [1000 + 10**6]]), "not a FAST action token"),
        (lambda ids: ids.astype(np.float64), "must be integers"),
    ],
)
def test_malformed_raises(fitted, mangle, match) -> None:
    tok, test = fitted
    ids = tok.encode(test[0])
    with pytest.raises(FastDecodeError, match=match):
        tok.decode(mangle(ids))


def test_non_strict_flags_bad_rows_with_nan(fitted) -> None:
    tok, test = fitted
    ids = tok.encode(test[:3])
    ids[1] = ids[1][:-1]
    actions, ok = tok.decode(ids, strict=False)
    assert ok.tolist() == [True, False, True]
    assert np.isnan(actions[1]).all() and np.isfinite(actions[[0, 2]]).all()
    assert np.allclose(actions[0], tok.decode(ids[0]))


def test_save_load_identical_ids(fitted, tmp_path: Path) -> None:
    tok, test = fitted
    tok.save_pretrained(tmp_path / "fast")
    loaded = load_tokenizer(tmp_path / "fast")
    assert isinstance(loaded, FastActionTokenizer) and loaded.config == tok.config
    for a, b in zip(tok.encode(test), loaded.encode(test), strict=True):
        assert np.array_equal(a, b)
    assert loaded.vocab_size == tok.vocab_size


def test_usage_errors_name_the_fix(fitted, tmp_path: Path) -> None:
    tok, test = fitted
    fresh = FastActionTokenizer(tok.normalizer.stats)
    with pytest.raises(RuntimeError, match="call fit"):
        fresh.encode(test[0])
    with pytest.raises(ValueError, match="H=10"):
        tok.encode(test[:, :5])
    bad = test[0].copy()
    bad[2, 3] = np.inf
    with pytest.raises(ValueError, match=r"non-finite value at index \(0, 2, 3\)"):
        tok.encode(bad)
    with pytest.raises(ValueError, match="raise vocab_size or lower scale"):
        FastActionTokenizer(tok.normalizer.stats, FastConfig(vocab_size=40)).fit(test)
    with pytest.raises(MissingStatisticError, match="lack 'q99'"):
        FastActionTokenizer({"q01": [0.0] * ACTION_DIM})
    with pytest.raises(RuntimeError, match="fit"):
        fresh.save_pretrained(tmp_path)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_property_any_values_round_trip_within_bound(fitted, data) -> None:
    tok, _ = fitted
    b = data.draw(st.integers(1, 4))
    chunks = data.draw(
        hnp.arrays(np.float64, (b, H, ACTION_DIM), elements=st.floats(-2, 2, allow_nan=False))
    )
    ids = tok.encode(chunks)
    assert len(ids) == b and all(i.dtype == np.int64 and i.size > 0 for i in ids)
    rms = np.sqrt(((tok.decode(ids) - _clip(tok, chunks)) ** 2).mean(axis=1))
    assert np.all(rms <= tok.normalizer.half_range / (2 * SCALE) * (1 + 1e-9) + 1e-12)


@settings(max_examples=60, deadline=None)
@given(ids=hnp.arrays(np.int64, st.integers(0, 40), elements=st.integers(1000, 1511)))
def test_property_random_ids_decode_or_flag(fitted, ids) -> None:
    tok, _ = fitted
    actions, ok = tok.decode(ids, strict=False)
    if ok:
        st_ = tok.normalizer.stats
        assert np.all((actions >= st_["q01"] - 1e-9) & (actions <= st_["q99"] + 1e-9))
        assert np.array_equal(tok.decode(ids), actions)
    else:
        assert np.isnan(actions).all()
        with pytest.raises(FastDecodeError):
            tok.decode(ids)


@settings(max_examples=12, deadline=None)
@given(
    horizon=st.integers(1, 50),
    dim=st.integers(1, 8),
    seed=st.integers(0, 2**16),
    scale=st.sampled_from([2.0, 10.0]),
)
def test_property_any_chunk_shape(horizon: int, dim: int, seed: int, scale: float) -> None:
    rng = np.random.default_rng(seed)
    # Smooth random walks of any shape, fitted and round-tripped end to end.
    chunks = np.cumsum(rng.normal(0, 0.1, (60, horizon, dim)), axis=1)
    stats = compute_action_stats(chunks.reshape(-1, dim))
    tok = FastActionTokenizer(stats, FastConfig(scale=scale, vocab_size=256)).fit(chunks)
    dec = tok.decode(tok.encode(chunks))
    assert dec.shape == chunks.shape
    rms = np.sqrt(((dec - np.clip(chunks, stats["q01"], stats["q99"])) ** 2).mean(axis=1))
    assert np.all(rms <= tok.normalizer.half_range / (2 * scale) * (1 + 1e-9) + 1e-12)


def test_pickles_and_accepts_torch_ids(fitted) -> None:
    # DataLoader workers pickle the transform chain; models hand back CPU torch tensors.
    torch = pytest.importorskip("torch")
    tok, test = fitted
    clone = pickle.loads(pickle.dumps(tok))
    ids = tok.encode(test[:4])
    assert all(np.array_equal(a, b) for a, b in zip(clone.encode(test[:4]), ids, strict=True))
    assert np.array_equal(tok.decode(torch.from_numpy(ids[0])), tok.decode(ids[0]))
    same_len = [i for i in tok.encode(test) if len(i) == len(ids[0])][:3]
    assert tok.decode(np.stack(same_len)).shape == (len(same_len), H, ACTION_DIM)
    assert max(len(i) for i in tok.encode(test)) <= tok.max_tokens(H) == H * ACTION_DIM
