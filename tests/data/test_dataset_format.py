"""LeRobot v3 format: read LeRobot's own fixture, and hold our writer's layout against it."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from synthetic_dataset import IMAGE_SIZE, TASKS, write_episodes

from vla.constants import ACTION, IMAGE_KEYS, OBS_STATE
from vla.data import DatasetWriter, LeRobotDatasetReader
from vla.data.consolidate import file_episode_counts
from vla.data.stats import QUANTILES

FIXTURE_LENGTHS = [15, 22, 9]
LENGTHS = [7, 12, 5, 9]


def test_reads_lerobot_fixture_values(fixture_root):
    r = LeRobotDatasetReader(fixture_root)
    assert (r.num_episodes, r.num_frames, r.fps) == (3, 46, 10)
    assert r.tasks == ["pick up the red cube", "put the blue cube in the green bowl"]
    assert [r.episode_task(e) for e in range(3)] == [r.tasks[0], r.tasks[1], r.tasks[0]]
    for e, length in enumerate(FIXTURE_LENGTHS):
        arrays = r.episode_arrays(e)
        t = np.arange(length)
        np.testing.assert_allclose(arrays[OBS_STATE], (e + t / 100)[:, None].repeat(8, 1), 1e-6)
        np.testing.assert_allclose(arrays[ACTION], (t / length)[:, None].repeat(7, 1), 1e-6)
        scene = r.episode_frames(e, IMAGE_KEYS[0]).astype(float)  # AV1, decoded by libdav1d
        wrist = r.episode_frames(e, IMAGE_KEYS[1]).astype(float)
        assert scene.shape == (length, 96, 128, 3)
        expect = (255 * t / length).astype(int)
        # lossy video: compare per-frame means with a tolerance
        assert np.abs(scene[..., e % 3].mean(axis=(1, 2)) - expect).max() < 12
        others = [c for c in range(3) if c != e % 3]
        assert scene[..., others].mean() < 3
        assert np.abs(wrist + scene - 255).mean() < 6


def _write(root, features, lengths=LENGTHS, **kw):
    w = DatasetWriter(root, fps=10, features=features, robot_type="panda", **kw)
    write_episodes(w, lengths)
    w.finalize()
    return w


def test_layout_matches_lerobot_fixture(tmp_path, features, fixture_root):
    _write(tmp_path / "ds", features)
    ours, theirs = tmp_path / "ds", fixture_root
    oi = json.loads((ours / "meta/info.json").read_text())
    ti = json.loads((theirs / "meta/info.json").read_text())
    assert set(oi) == set(ti)
    assert oi["codebase_version"] == "v3.0"
    assert (oi["data_path"], oi["video_path"]) == (ti["data_path"], ti["video_path"])
    assert (oi["total_episodes"], oi["total_frames"], oi["total_tasks"]) == (4, sum(LENGTHS), 2)
    assert oi["splits"] == {"train": "0:4"}
    for key, ft in ti["features"].items():
        assert oi["features"][key]["dtype"] == ft["dtype"], key
        assert set(oi["features"][key]) == set(ft), key
        if ft["dtype"] == "video":
            assert set(oi["features"][key]["info"]) == set(ft["info"])
            assert oi["features"][key]["info"]["video.codec"] == "h264"
            assert oi["features"][key]["shape"] == [*IMAGE_SIZE, 3]
    # the same files exist
    rel = sorted(p.relative_to(theirs).as_posix() for p in theirs.rglob("*") if p.is_file())
    assert rel == sorted(p.relative_to(ours).as_posix() for p in ours.rglob("*") if p.is_file())
    # data parquet: same arrow types as LeRobot writes (vectors are fixed-size lists)
    ds, ts = (pq.read_schema(p / "data/chunk-000/file-000.parquet") for p in (ours, theirs))
    assert ds.names == ts.names
    for name in ts.names:
        assert str(ds.field(name).type).replace("15]", "8]") == str(ts.field(name).type), name
    assert b"huggingface" in ds.metadata
    # episode table and task table columns
    oe, te = (
        pq.read_schema(p / "meta/episodes/chunk-000/file-000.parquet") for p in (ours, theirs)
    )
    assert set(oe.names) == set(te.names)
    assert pq.read_schema(ours / "meta/tasks.parquet").names == ["task_index", "__index_level_0__"]
    # stats.json: same features and statistic names, image stats per channel (3, 1, 1)
    os_, ts_ = (json.loads((p / "meta/stats.json").read_text()) for p in (ours, theirs))
    assert set(os_) == set(ts_)
    for key in ts_:
        assert set(os_[key]) == set(ts_[key]), key
    assert np.asarray(os_[IMAGE_KEYS[0]]["mean"]).shape == (3, 1, 1)


def test_round_trip_and_multi_episode_files(tmp_path, features):
    w = _write(tmp_path / "ds", features, consolidate_every=3)
    assert list(file_episode_counts(w.episode_rows, "data").values()) == [4]
    assert list(file_episode_counts(w.episode_rows, IMAGE_KEYS[0]).values()) == [4]
    r = LeRobotDatasetReader(tmp_path / "ds")
    assert r.num_episodes == len(LENGTHS) and r.tasks == list(TASKS)
    for e, length in enumerate(LENGTHS):
        arrays = r.episode_arrays(e)
        t = np.arange(length)
        np.testing.assert_allclose(arrays[OBS_STATE][:, 3], e + t / 100, atol=1e-6)
        np.testing.assert_allclose(arrays[ACTION][:, 0], t / length, atol=1e-6)
        assert arrays["frame_index"].tolist() == t.tolist()
        assert arrays["index"][0] == sum(LENGTHS[:e])
        np.testing.assert_allclose(arrays["timestamp"], t / 10, atol=1e-6)
        scene = r.episode_frames(e, IMAGE_KEYS[0]).astype(float)
        assert (
            np.abs(scene[..., e % 3].mean(axis=(1, 2)) - (255 * t / length).astype(int)).max() < 4
        )
        assert r.episode_task(e) == TASKS[e % 2]
    video_files = list((tmp_path / "ds/videos").rglob("*.mp4"))
    assert len(video_files) == 2  # every episode of each camera in one file


def test_stats_match_numpy(tmp_path, features):
    _write(tmp_path / "ds", features)
    r = LeRobotDatasetReader(tmp_path / "ds")
    stats = r.stats
    state = np.concatenate([r.episode_arrays(e)[OBS_STATE] for e in range(r.num_episodes)])
    st = stats[OBS_STATE]
    np.testing.assert_allclose(st["min"], state.min(0), rtol=1e-6)
    np.testing.assert_allclose(st["max"], state.max(0), rtol=1e-6)
    np.testing.assert_allclose(st["mean"], state.astype(np.float64).mean(0), rtol=1e-6)
    np.testing.assert_allclose(st["std"], state.astype(np.float64).std(0), rtol=1e-5)
    for name, q in QUANTILES.items():
        np.testing.assert_allclose(st[name], np.quantile(state.astype(np.float64), q, 0), 1e-6)
    assert st["count"].tolist() == [sum(LENGTHS)]
    # images: per channel in [0, 1]; exact mean over all pixels of all frames (small frames)
    img = np.concatenate([r.episode_frames(e, IMAGE_KEYS[1]) for e in range(4)]) / 255.0
    got = stats[IMAGE_KEYS[1]]
    assert got["mean"].shape == (3, 1, 1)
    np.testing.assert_allclose(got["mean"].ravel(), img.mean((0, 1, 2)), atol=0.02)
    np.testing.assert_allclose(got["max"].ravel(), img.max((0, 1, 2)), atol=0.02)


@pytest.mark.parametrize("chunks_size", [2])
def test_chunk_rollover(tmp_path, features, chunks_size):
    _write(tmp_path / "ds", features, consolidate_every=0, chunks_size=chunks_size,
           data_files_size_in_mb=1e-6, video_files_size_in_mb=1e-6)  # fmt: skip
    files = sorted(
        p.relative_to(tmp_path / "ds").as_posix() for p in (tmp_path / "ds/data").rglob("*")
    )
    assert "data/chunk-001/file-001.parquet" in files  # 4 one-episode files, 2 per chunk
    r = LeRobotDatasetReader(tmp_path / "ds")
    assert r.episode_arrays(3)["episode_index"].tolist() == [3] * LENGTHS[3]


def test_resume_appends_to_lerobot_written_dataset(tmp_path, fixture_root):
    import shutil

    root = tmp_path / "fx"
    shutil.copytree(fixture_root, root)
    for p in root.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    w = DatasetWriter.resume(root)
    assert (w.num_episodes, w.codec) == (3, "av1")  # keeps the dataset's codec
    for t in range(6):
        scene = np.zeros((96, 128, 3), np.uint8)
        scene[..., 0] = 40 * t
        w.add_frame({IMAGE_KEYS[0]: scene, IMAGE_KEYS[1]: 255 - scene,
                     OBS_STATE: np.full(8, 3 + t / 100, np.float32),
                     ACTION: np.full(7, t / 6, np.float32), "task": "stack the cubes"})  # fmt: skip
    assert w.save_episode() == 3
    w.finalize()
    r = LeRobotDatasetReader(root)
    assert r.num_episodes == 4 and r.tasks[-1] == "stack the cubes"
    assert (
        np.abs(
            r.episode_frames(3, IMAGE_KEYS[0])[:, :, :, 0].mean((1, 2)) - 40 * np.arange(6)
        ).max()
        < 12
    )
    assert abs(r.episode_frames(1, IMAGE_KEYS[0])[5, ..., 1].mean() - int(255 * 5 / 22)) < 12
    np.testing.assert_allclose(r.episode_arrays(3)[OBS_STATE][:, 0], 3 + np.arange(6) / 100, 1e-6)
    assert r.episode_arrays(3)["index"][0] == 46
