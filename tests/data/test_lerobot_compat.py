"""Our datasets load in LeRobot itself (optional extra `lerobot`; skipped where absent)."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_dataset import write_episodes

from vla.constants import ACTION, OBS_IMAGE_SCENE, OBS_STATE
from vla.data import DatasetWriter

lerobot_dataset = pytest.importorskip(
    "lerobot.datasets.lerobot_dataset",
    reason="lerobot is not installed (optional extra: pip install '.[lerobot]'; it pins "
    "torch < 2.11, so it is not part of the default environment)",
)


def test_lerobot_loads_our_dataset(tmp_path, features):
    root = tmp_path / "ds"
    w = DatasetWriter(root, 10, features, "panda", consolidate_every=2)
    write_episodes(w, [6, 8, 5])
    w.finalize()
    ds = lerobot_dataset.LeRobotDataset("local/vla_compat", root=root)
    assert ds.num_episodes == 3 and len(ds) == 19
    item = ds[6 + 3]  # episode 1, frame 3
    assert int(item["episode_index"]) == 1 and int(item["frame_index"]) == 3
    np.testing.assert_allclose(item[OBS_STATE].numpy(), 1.03, atol=1e-5)
    np.testing.assert_allclose(item[ACTION].numpy(), 3 / 8, atol=1e-6)
    assert tuple(item[OBS_IMAGE_SCENE].shape) == (3, 32, 48)  # LeRobot returns CHW float
    assert item["task"] == "put the blue cube in the green bowl"
