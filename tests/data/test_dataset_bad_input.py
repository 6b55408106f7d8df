"""Bad input: errors name the file or feature and the problem."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from synthetic_dataset import IMAGE_SIZE, synthetic_frame, write_episodes

from vla.constants import ACTION, IMAGE_KEYS, OBS_IMAGE_SCENE, OBS_STATE
from vla.data import DatasetFormatError, DatasetWriter, LeRobotDatasetReader

DATA = "data/chunk-000/file-000.parquet"
VIDEO = f"videos/{OBS_IMAGE_SCENE}/chunk-000/file-000.mp4"


@pytest.fixture
def root(tmp_path, features):
    w = DatasetWriter(tmp_path / "ds", 10, features, "panda")
    write_episodes(w, [6, 8])
    w.finalize()
    return tmp_path / "ds"


def test_truncated_parquet(root):
    path = root / DATA
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(DatasetFormatError, match=r"file-000\.parquet: corrupt or truncated"):
        LeRobotDatasetReader(root).episode_arrays(0)


def test_truncated_and_corrupt_mp4(root):
    path = root / VIDEO
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetFormatError, match=r"file-000\.mp4"):
        LeRobotDatasetReader(root).episode_frames(1, OBS_IMAGE_SCENE)
    path.write_bytes(b"not a video at all" * 10)
    with pytest.raises(DatasetFormatError, match=r"file-000\.mp4: corrupt"):
        LeRobotDatasetReader(root).episode_frames(0, OBS_IMAGE_SCENE)


def test_missing_files_and_metadata(root):
    (root / VIDEO).unlink()
    with pytest.raises(DatasetFormatError, match=r"file-000\.mp4: video file is missing"):
        LeRobotDatasetReader(root).episode_frames(0, OBS_IMAGE_SCENE)
    (root / "meta/info.json").write_text("{ not json")
    with pytest.raises(DatasetFormatError, match=r"info\.json: corrupt JSON"):
        LeRobotDatasetReader(root)
    (root / "meta/info.json").unlink()
    with pytest.raises(DatasetFormatError, match="not a LeRobot v3 dataset"):
        LeRobotDatasetReader(root)


def test_missing_feature_column(root):
    path = root / DATA
    pq.write_table(pq.read_table(path).drop_columns([ACTION]), path)
    with pytest.raises(
        DatasetFormatError, match=r"file-000\.parquet: missing feature column 'action'"
    ):
        LeRobotDatasetReader(root).episode_arrays(0)


def test_camera_size_mismatch_with_info(root):
    info = json.loads((root / "meta/info.json").read_text())
    info["features"][OBS_IMAGE_SCENE]["shape"] = [64, 64, 3]
    (root / "meta/info.json").write_text(json.dumps(info))
    with pytest.raises(
        DatasetFormatError, match=r"file-000\.mp4: camera 'observation.images.scene'"
    ):
        LeRobotDatasetReader(root).episode_frames(0, OBS_IMAGE_SCENE)


def test_add_frame_validation(tmp_path, features):
    w = DatasetWriter(tmp_path / "ds", 10, features, "panda")
    good = synthetic_frame(0, 0, 5)
    with pytest.raises(KeyError, match="lacks feature.*action"):
        w.add_frame({k: v for k, v in good.items() if k != ACTION})
    with pytest.raises(KeyError, match="unknown feature.*'extra'"):
        w.add_frame({**good, "extra": 1.0})
    with pytest.raises(ValueError, match=r"camera 'observation.images.wrist' must be uint8"):
        w.add_frame({**good, IMAGE_KEYS[1]: np.zeros((IMAGE_SIZE[0], 10, 3), np.uint8)})
    with pytest.raises(ValueError, match="must be uint8"):
        w.add_frame({**good, IMAGE_KEYS[0]: good[IMAGE_KEYS[0]].astype(np.float32)})
    with pytest.raises(ValueError, match=r"'observation.state' must have shape \(15,\)"):
        w.add_frame({**good, OBS_STATE: np.zeros(8, np.float32)})
    with pytest.raises(TypeError, match="'action' must be float32"):
        w.add_frame({**good, ACTION: np.array(["a"] * 7)})
    with pytest.raises(ValueError, match="NaN"):
        w.add_frame({**good, ACTION: np.full(7, np.nan, np.float32)})
    with pytest.raises(TypeError, match="'task' must be a non-empty string"):
        w.add_frame({**good, "task": ""})
    assert w.episode_buffer_length == 0  # rejected frames are not buffered
    with pytest.raises(ValueError, match="no frames buffered"):
        w.save_episode()
    w.add_frame(good)
    with pytest.raises(RuntimeError, match="unsaved frames"):
        w.finalize()


def test_writer_refuses_non_empty_folder(root, features):
    with pytest.raises(FileExistsError, match="DatasetWriter.resume"):
        DatasetWriter(root, 10, features, "panda")
    with pytest.raises(ValueError, match="'image'"):
        DatasetWriter(root.parent / "x", 10, {"cam": {"dtype": "image", "shape": [4, 4, 3]}})
