"""LeRobotTorchDataset: the sample contract the model depends on, padding, caching."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from synthetic_dataset import write_episodes

from vla.data import DatasetWriter
from vla.data.torch_dataset import EpisodeChunkSampler, LeRobotTorchDataset

LENGTHS = [6, 9, 4]


@pytest.fixture
def dataset_root(tmp_path, features):
    w = DatasetWriter(tmp_path / "ds", fps=10, features=features, robot_type="panda")
    write_episodes(w, LENGTHS)
    w.finalize()
    return tmp_path / "ds"


def test_sample_contract(dataset_root):
    ds = LeRobotTorchDataset(dataset_root, chunk_size=5)
    assert len(ds) == sum(LENGTHS)
    s = ds[LENGTHS[0] + 2]  # episode 1, frame 2
    assert s["observation.images.scene"].dtype == torch.uint8
    assert s["observation.images.scene"].shape == (32, 48, 3)
    assert s["observation.images.wrist"].shape == (32, 48, 3)
    assert s["observation.state"].dtype == torch.float32 and s["observation.state"].shape == (15,)
    assert s["action"].dtype == torch.float32 and s["action"].shape == (5, 7)
    assert s["action_is_pad"].dtype == torch.bool and s["action_is_pad"].shape == (5,)
    assert s["task"] == "put the blue cube in the green bowl"
    assert (s["episode_index"], s["frame_index"]) == (1, 2)
    np.testing.assert_allclose(s["observation.state"].numpy(), 1.02, atol=1e-6)
    np.testing.assert_allclose(s["action"][:, 0].numpy(), np.arange(2, 7) / 9, atol=1e-6)
    assert not s["action_is_pad"].any()
    # scene channel 1 = int(255 * 2 / 9) within video tolerance
    assert abs(s["observation.images.scene"][..., 1].float().mean().item() - 56) < 4


def test_padding_repeats_last_action(dataset_root):
    ds = LeRobotTorchDataset(dataset_root, chunk_size=5)
    s = ds[LENGTHS[0] - 2]  # episode 0, frame 4 of 6
    assert s["action_is_pad"].tolist() == [False, False, True, True, True]
    np.testing.assert_allclose(s["action"][:, 0].numpy(), [4 / 6, 5 / 6, 5 / 6, 5 / 6, 5 / 6], 1e-6)


def test_episode_subset_and_decode_once(dataset_root):
    ds = LeRobotTorchDataset(dataset_root, chunk_size=3, episodes=[2, 0])
    assert len(ds) == LENGTHS[2] + LENGTHS[0]
    assert ds[0]["episode_index"] == 2 and ds[LENGTHS[2]]["episode_index"] == 0
    for i in range(len(ds)):
        ds[i]
    assert ds._cache.misses == 2  # one decode per episode, not per frame
    with pytest.raises(IndexError, match="out of range"):
        LeRobotTorchDataset(dataset_root, episodes=[7])


def test_cache_is_bounded(dataset_root):
    one_episode = 9 * 32 * 48 * 3 * 2
    ds = LeRobotTorchDataset(dataset_root, chunk_size=2, cache_bytes=one_episode)
    for i in range(len(ds)):
        ds[i]
    assert ds._cache.bytes <= one_episode and len(ds._cache._items) == 1


@pytest.mark.timeout(120)
def test_dataloader_with_workers_and_sampler(dataset_root):
    ds = LeRobotTorchDataset(dataset_root, chunk_size=4)
    # The parent decodes first, as a training script looking at a sample does: with PyAV's
    # shared converter, forked workers then blocked forever in their first frame conversion.
    assert ds[0]["observation.images.scene"].shape == (32, 48, 3)
    ds._cache = None
    sampler = EpisodeChunkSampler(ds, episodes_per_block=2, seed=0)
    assert sorted(sampler) == list(range(len(ds)))
    loader = torch.utils.data.DataLoader(ds, batch_size=8, sampler=sampler, num_workers=2)
    batches = list(loader)
    assert sum(len(b["task"]) for b in batches) == len(ds)
    assert batches[0]["action"].shape[1:] == (4, 7)


def test_reads_lerobot_fixture(fixture_root):
    ds = LeRobotTorchDataset(fixture_root, chunk_size=4)
    s = ds[14]  # last frame of episode 0 (15 frames)
    assert s["action_is_pad"].tolist() == [False, True, True, True]
    assert s["observation.images.scene"].shape == (96, 128, 3)
    assert s["task"] == "pick up the red cube"
