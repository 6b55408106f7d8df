"""The in-memory loader: threads decode every episode into its place, in episode order."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from vla.data import LeRobotDatasetReader
from vla.data.episode_arrays import load_episode_arrays
from vla.data.layout import DatasetFormatError


def test_frames_land_in_episode_order_for_any_thread_count(dataset):
    reader = LeRobotDatasetReader(dataset)
    picked = [3, 0, 2]  # not sorted: rows follow the order asked for
    one = load_episode_arrays(str(dataset), 4, picked, workers=1)
    many = load_episode_arrays(str(dataset), 4, picked, workers=3)
    for key in reader.camera_keys:
        expected = np.concatenate([reader.episode_frames(e, key) for e in picked])
        np.testing.assert_array_equal(one.frames[key], expected)
        np.testing.assert_array_equal(many.frames[key], expected)
    assert len(one.state) == len(one.frames[reader.camera_keys[0]]) == 3 * 16


def test_a_corrupt_video_fails_the_load(dataset, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(dataset, broken)
    video = next((broken / "videos").rglob("*.mp4"))
    video.write_bytes(video.read_bytes()[: len(video.read_bytes()) // 3])
    with pytest.raises(DatasetFormatError, match="truncated|corrupt|expected"):
        load_episode_arrays(str(broken), 4, None, workers=2)
