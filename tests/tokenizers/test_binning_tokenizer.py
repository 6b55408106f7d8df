"""BinningActionTokenizer: round trip within half a bin, clipping, bad ids, save/load, gripper."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from vla.constants import ACTION_DIM
from vla.tokenizers import (
    BinningActionTokenizer,
    BinningConfig,
    MissingStatisticError,
    load_tokenizer,
)
from vla.tokenizers.normalization import compute_action_stats
from vla.tokenizers.synthetic import min_jerk_chunks

# Written by LeRobot itself (see its README); lives beside the repository in ../shared.
FIXTURE_STATS = (
    Path(__file__).resolve().parents[3] / "shared/fixtures/lerobot_v3_sample/meta/stats.json"
)
LOW = np.array([-0.05, -0.04, -0.03, -0.2, -0.25, -0.1, -1.0])
HIGH = np.array([0.05, 0.06, 0.03, 0.25, 0.2, 0.3, 1.0])
STATS = {
    "min": LOW - 0.01,
    "max": HIGH + 0.01,
    "mean": (LOW + HIGH) / 2,
    "std": (HIGH - LOW) / 4,
    "q01": LOW,
    "q99": HIGH,
}
MODES = {"quantile": (LOW, HIGH), "minmax": (LOW - 0.01, HIGH + 0.01)}


def _in_range(rng: np.random.Generator, shape: tuple[int, ...], lo, hi) -> np.ndarray:
    return rng.uniform(lo, hi, size=shape + (ACTION_DIM,))


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("shape", [(), (10,), (4, 10)])
def test_round_trip_within_half_bin(mode: str, shape: tuple[int, ...]) -> None:
    tok = BinningActionTokenizer(STATS, BinningConfig(norm_mode=mode))
    lo, hi = MODES[mode]
    actions = _in_range(np.random.default_rng(0), shape, lo, hi)
    ids = tok.encode(actions)
    assert ids.shape == actions.shape and ids.dtype == np.int64
    err = np.abs(tok.decode(ids) - actions).reshape(-1, ACTION_DIM).max(0)
    half_bin = (hi - lo) / 2 / 256
    assert np.all(err <= half_bin * (1 + 1e-9)), (err, half_bin)
    assert np.allclose(tok.bin_width / 2, half_bin)


def test_meanstd_round_trip_and_clip() -> None:
    tok = BinningActionTokenizer(STATS, BinningConfig(norm_mode="meanstd", std_k=2.0))
    mean, std = STATS["mean"], STATS["std"]
    actions = _in_range(np.random.default_rng(1), (50,), mean - 2 * std, mean + 2 * std)
    err = np.abs(tok.decode(tok.encode(actions)) - actions).max(0)
    assert np.all(err <= 2 * std / 256 * (1 + 1e-9))
    far = tok.decode(tok.encode(mean + 10 * std))
    assert np.allclose(far, mean + 2 * std - 2 * std / 256)


def test_out_of_range_clips_to_edge_bins() -> None:
    tok = BinningActionTokenizer(STATS, BinningConfig(offset=1000))
    ids = tok.encode(np.stack([HIGH * 5 + 1, LOW * 5 - 1]))
    assert np.all(ids[0] == 1000 + 255) and np.all(ids[1] == 1000)
    dec = tok.decode(ids)
    half_bin = (HIGH - LOW) / 512
    assert np.allclose(dec[0], HIGH - half_bin) and np.allclose(dec[1], LOW + half_bin)


def test_offset_places_ids() -> None:
    tok = BinningActionTokenizer(STATS, BinningConfig(offset=31744))
    ids = tok.encode(min_jerk_chunks(8, 10))
    assert ids.min() >= 31744 and ids.max() < 31744 + 256
    assert tok.vocab_size == 256 and tok.offset == 31744


@pytest.mark.parametrize("bad", [-1, 255 + 1 + 100, 50, 99])
def test_bad_ids_raise_naming_the_id(bad: int) -> None:
    tok = BinningActionTokenizer(STATS, BinningConfig(offset=100))
    ids = np.full((3, ACTION_DIM), 150, dtype=np.int64)
    ids[1, 2] = bad
    with pytest.raises(ValueError, match=rf"token id {bad} at index \(1, 2\)"):
        tok.decode(ids)


def test_nan_and_bad_shapes_raise() -> None:
    tok = BinningActionTokenizer(STATS)
    a = np.zeros((5, ACTION_DIM))
    a[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"non-finite value at index \(3, 1\)"):
        tok.encode(a)
    with pytest.raises(ValueError, match="D=7"):
        tok.encode(np.zeros((5, 6)))
    with pytest.raises(TypeError, match="integers"):
        tok.decode(np.zeros(ACTION_DIM))


def test_missing_statistic_names_the_fix() -> None:
    stats = {k: v for k, v in STATS.items() if k != "q01"}
    with pytest.raises(MissingStatisticError, match=r"lack 'q01'.*recompute the dataset stat"):
        BinningActionTokenizer(stats)
    BinningActionTokenizer(stats, BinningConfig(norm_mode="minmax"))  # minmax does not need q01


@pytest.mark.skipif(not FIXTURE_STATS.is_file(), reason=f"LeRobot fixture {FIXTURE_STATS} absent")
def test_reads_lerobot_stats_json() -> None:
    # The fixture written by LeRobot itself: the whole stats.json, "action" picked from it.
    tok = BinningActionTokenizer(FIXTURE_STATS)
    stats = json.loads(FIXTURE_STATS.read_text())["action"]
    assert tok.action_dim == len(stats["q99"])
    assert np.allclose(tok.normalizer.half_range, (np.array(stats["q99"]) - stats["q01"]) / 2)


@pytest.mark.parametrize("gripper_binary", [False, True])
def test_save_load_round_trip_identical_ids(tmp_path: Path, gripper_binary: bool) -> None:
    cfg = BinningConfig(n_bins=128, offset=7, norm_mode="minmax", gripper_binary=gripper_binary)
    tok = BinningActionTokenizer(STATS, cfg)
    tok.save_pretrained(tmp_path / "tok")
    loaded = load_tokenizer(tmp_path / "tok")
    assert isinstance(loaded, BinningActionTokenizer) and loaded.config == cfg
    chunks = min_jerk_chunks(16, 10, seed=3)
    assert np.array_equal(loaded.encode(chunks), tok.encode(chunks))
    saved = json.loads((tmp_path / "tok" / "action_stats.json").read_text())["action"]
    assert np.allclose(saved["q99"], HIGH)


def test_load_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a saved action tokenizer"):
        load_tokenizer(tmp_path)
    BinningActionTokenizer(STATS).save_pretrained(tmp_path)
    (tmp_path / "action_stats.json").unlink()
    with pytest.raises(FileNotFoundError, match="normalisation statistics"):
        load_tokenizer(tmp_path)


def test_binary_gripper() -> None:
    tok = BinningActionTokenizer(STATS, BinningConfig(gripper_binary=True, gripper_index=6))
    a = np.zeros((6, ACTION_DIM))
    a[:, 6] = [-1.0, -0.2, 0.0, 0.01, 0.7, 1.0]
    ids = tok.encode(a)
    assert ids[:, 6].tolist() == [0, 0, 0, 255, 255, 255]
    assert tok.decode(ids)[:, 6].tolist() == [-1.0, -1.0, -1.0, 1.0, 1.0, 1.0]
    # Any in-range id decodes to exactly open or close (threshold at the middle of the range).
    ids = np.tile(np.arange(256)[:, None], (1, ACTION_DIM))
    assert set(tok.decode(ids)[:, 6].tolist()) == {-1.0, 1.0}
    with pytest.raises(ValueError, match="gripper_index 7"):
        BinningActionTokenizer(STATS, BinningConfig(gripper_binary=True, gripper_index=7))


def test_degenerate_dimension_decodes_to_constant() -> None:
    actions = min_jerk_chunks(20, 10).reshape(-1, ACTION_DIM)
    actions[:, 2] = 0.125
    tok = BinningActionTokenizer(compute_action_stats(actions))
    assert np.allclose(tok.decode(tok.encode(actions))[:, 2], 0.125)


@settings(max_examples=60, deadline=None)
@given(
    data=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6).map(
            lambda s: s[:-1] + (ACTION_DIM,)
        ),
        elements=st.floats(-10, 10, allow_nan=False),
    ),
    n_bins=st.integers(2, 512),
)
def test_property_round_trip_any_shape(data: np.ndarray, n_bins: int) -> None:
    tok = BinningActionTokenizer(STATS, BinningConfig(n_bins=n_bins, offset=3))
    ids = tok.encode(data)
    assert ids.shape == data.shape and ids.dtype == np.int64
    assert ids.min() >= 3 and ids.max() < 3 + n_bins
    dec = tok.decode(ids)
    clipped = np.clip(data, LOW, HIGH)
    assert np.all(np.abs(dec - clipped) <= (HIGH - LOW) / 2 / n_bins * (1 + 1e-9) + 1e-12)
    assert np.array_equal(tok.encode(dec), ids)  # bin centres re-encode to the same bins


def test_decode_positions_matches_decode_and_interpolates_between_centres() -> None:
    tok = BinningActionTokenizer(STATS, BinningConfig(gripper_binary=False))
    ids = np.array([[0, 5, 100, 128, 200, 254, 255]])
    np.testing.assert_allclose(tok.decode_positions(ids.astype(float)), tok.decode(ids))
    lo, hi = tok.decode(ids), tok.decode(ids + np.array([1, 1, 1, 1, 1, 1, 0]))
    mid = tok.decode_positions(ids + np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.0]))
    np.testing.assert_allclose(mid[0, :6], (lo[0, :6] + hi[0, :6]) / 2)


def test_decode_positions_gripper_and_range() -> None:
    tok = BinningActionTokenizer(STATS, BinningConfig(gripper_binary=True))
    pos = np.full((2, ACTION_DIM), 128.0)
    pos[0, -1], pos[1, -1] = 127.4, 127.6
    grip = tok.decode_positions(pos)[:, -1]
    np.testing.assert_array_equal(
        grip, tok.decode(np.array([[0] * ACTION_DIM, [255] * ACTION_DIM]))[:, -1]
    )
    for bad in (-0.1, 255.5, np.nan):
        pos = np.full((ACTION_DIM,), 10.0)
        pos[2] = bad
        with pytest.raises(ValueError, match="positions must be finite"):
            tok.decode_positions(pos)
