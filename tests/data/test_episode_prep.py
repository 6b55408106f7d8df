"""Prepared episodes (encoded + summarised in a worker, written by the parent): the dataset is
byte-for-byte the one ``add_frame`` + ``save_episode`` writes (whatever the worker count:
tests/rollout/test_generate.py)."""

from __future__ import annotations

import numpy as np
import pytest

from vla.constants import ACTION, IMAGE_KEYS, OBS_STATE
from vla.data import DatasetWriter, default_features
from vla.data.episode_prep import prepare_episode
from vla.data.video import encode_video, encode_video_bytes

SIZE = (16, 16)


def _episode(seed: int, length: int = 7) -> tuple[dict, list[str]]:
    rng = np.random.default_rng(seed)
    frames = {k: rng.integers(0, 256, (length, *SIZE, 3), dtype=np.uint8) for k in IMAGE_KEYS}
    frames[OBS_STATE] = rng.normal(size=(length, 15)).astype(np.float32)
    frames[ACTION] = rng.uniform(-1, 1, (length, 7)).astype(np.float32)
    return frames, [f"task {seed % 2}"] * length


def _files(root) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".writer.lock"
    }


def _writer(root, **kw) -> DatasetWriter:
    return DatasetWriter(root, 10, default_features(SIZE, fps=10), "panda", **kw)


@pytest.mark.parametrize("commit_every", [1, 3])
def test_save_prepared_writes_the_same_bytes_as_save_episode(tmp_path, commit_every):
    a, b = _writer(tmp_path / "a", commit_every=commit_every), None
    b = _writer(tmp_path / "b", commit_every=commit_every)
    for seed in range(5):
        frames, tasks = _episode(seed, length=5 + seed)
        for t in range(len(tasks)):
            a.add_frame({**{k: v[t] for k, v in frames.items()}, "task": tasks[t]})
        assert a.save_episode() == b.save_prepared(prepare_episode(b.episode_spec(), frames,
                                                                   tasks[0]))  # fmt: skip
        # mid-run (before consolidation) the one-episode files agree too
        assert _files(tmp_path / "a") == _files(tmp_path / "b")
    a.finalize()
    b.finalize()
    files_a, files_b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert any(k.endswith(".mp4") for k in files_a) and files_a == files_b


def test_video_bytes_equal_the_file_encoder(tmp_path):
    frames, _ = _episode(3)
    encode_video(tmp_path / "x.mp4", frames[IMAGE_KEYS[0]], 10)
    assert encode_video_bytes(frames[IMAGE_KEYS[0]], 10) == (tmp_path / "x.mp4").read_bytes()


def test_bad_prepared_input_names_the_fix(tmp_path):
    w = _writer(tmp_path / "a")
    spec = w.episode_spec()
    frames, tasks = _episode(0)
    with pytest.raises(KeyError, match="lacks"):
        prepare_episode(spec, {k: v for k, v in frames.items() if k != ACTION}, tasks)
    with pytest.raises(ValueError, match="same number"):
        prepare_episode(spec, {**frames, ACTION: frames[ACTION][:-1]}, tasks)
    with pytest.raises(ValueError, match="uint8"):
        prepare_episode(spec, {**frames, IMAGE_KEYS[0]: frames[IMAGE_KEYS[0]] * 1.0}, tasks)
    with pytest.raises(ValueError, match="NaN"):
        prepare_episode(spec, {**frames, OBS_STATE: frames[OBS_STATE] * np.nan}, tasks)
    with pytest.raises(TypeError, match="non-empty strings"):
        prepare_episode(spec, frames, tasks[:-1])
    other = _writer(tmp_path / "b", codec="h264")
    other.fps = 20  # a dataset at another rate: its episodes cannot be mixed in
    with pytest.raises(ValueError, match="episode_spec"):
        other.save_prepared(prepare_episode(spec, frames, tasks))
    w.add_frame({**{k: v[0] for k, v in frames.items()}, "task": tasks[0]})
    with pytest.raises(RuntimeError, match="buffered"):
        w.save_prepared(prepare_episode(spec, frames, tasks))
    w.discard_episode()
    assert w.save_prepared(prepare_episode(spec, frames, tasks)) == 0
    w.finalize()
    other.close()
