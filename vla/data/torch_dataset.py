"""PyTorch Dataset over LeRobot v3 folders: one sample per frame, with the next H actions.

Sample contract (keys from vla.constants)::

    "observation.images.scene"  uint8   (H, W, 3)   frame t of each camera in the dataset
    "observation.images.wrist"  uint8   (H, W, 3)
    "observation.state"         float32 (S,)        state at t
    "task"                      str                 the episode's instruction
    "action"                    float32 (chunk_size, D)   actions t .. t+chunk_size-1
    "action_is_pad"             bool    (chunk_size,)     True past the episode end, where the
                                                          last action is repeated
    "episode_index", "frame_index"  int

Delta options (LeRobot's ``delta_timestamps`` in frames): ``chunk_size`` H gives action
offsets 0..H-1, i.e. ``delta_timestamps={"action": [k / fps for k in range(H)]}``; images and
state are taken at offset 0 only.

Video is decoded once per episode (all its frames, every camera) and kept in an LRU cache bounded
by ``cache_bytes``; low-dimensional columns of the selected episodes are loaded into memory at
construction. Each DataLoader worker holds its own cache. Random sampling over many episodes
with a small cache re-decodes often; :class:`EpisodeChunkSampler` shuffles blocks of episodes
so each decoded episode serves many samples.

Throughput (``nice .venv/bin/python benchmarks/dataset_bench.py``: 40 episodes x 100 frames,
two 128x128 H.264 cameras, chunk 16, batch 32, on this 2-core CPU shared with other jobs, so
+-30%)::

    sampler / DataLoader workers     cold epoch (decoding)   warm epoch (cached)
    random, num_workers=0             970 samples/s          28,500 samples/s
    random, num_workers=2             690 samples/s           5,900 samples/s
    episode blocks, num_workers=0     860 samples/s          30,100 samples/s
    episode blocks, num_workers=2     730 samples/s           4,500 samples/s
    cache of 8 episodes: random 18 samples/s, episode blocks 390 samples/s (first 8 batches)

Decoding one 100-frame episode (both cameras) takes 70-150 ms. Worker processes pay for
shipping images between processes (slower once warm on 2 cores) and each holds its own
cache; they pay off when decoding dominates and cores are free. With a cache smaller than
the dataset use ``EpisodeChunkSampler``: random order re-decodes an episode per sample.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from vla.constants import ACTION, OBS_STATE, TASK
from vla.data.reader import LeRobotDatasetReader


class EpisodeFrameCache:
    """LRU cache of decoded episodes ``{camera: uint8 (T, H, W, 3)}`` bounded by bytes."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._items: OrderedDict[int, dict[str, np.ndarray]] = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: int) -> dict[str, np.ndarray] | None:
        item = self._items.get(key)
        if item is None:
            self.misses += 1
            return None
        self.hits += 1
        self._items.move_to_end(key)
        return item

    def put(self, key: int, item: dict[str, np.ndarray]) -> None:
        size = sum(a.nbytes for a in item.values())
        self._items[key] = item
        self.bytes += size
        while self.bytes > self.max_bytes and len(self._items) > 1:
            _, old = self._items.popitem(last=False)
            self.bytes -= sum(a.nbytes for a in old.values())


class LeRobotTorchDataset(Dataset):
    """Training samples from a LeRobot v3 dataset (ours or LeRobot's); see module docstring.

    Args:
        root: dataset folder.
        chunk_size: number of future actions per sample (H).
        episodes: optional subset of episode indices (kept in the given order).
        cache_bytes: bound of the decoded-episode LRU cache per process (default 1 GiB).
    """

    def __init__(
        self,
        root: str | Path,
        chunk_size: int = 16,
        episodes: Sequence[int] | None = None,
        cache_bytes: int = 1 << 30,
    ):
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self.root = Path(root)
        self.chunk_size = chunk_size
        self.cache_bytes = cache_bytes
        self.meta = LeRobotDatasetReader(self.root)
        for key in (OBS_STATE, ACTION):
            if key not in self.meta.features:
                raise KeyError(f"{self.root}: dataset has no {key!r} feature; it cannot train")
        n = self.meta.num_episodes
        self.episodes = list(range(n)) if episodes is None else [int(e) for e in episodes]
        bad = [e for e in self.episodes if not 0 <= e < n]
        if bad:
            raise IndexError(f"episodes {bad} out of range: dataset has {n} episodes")
        self.camera_keys = self.meta.camera_keys
        self._state: dict[int, np.ndarray] = {}
        self._action: dict[int, np.ndarray] = {}
        lengths = []
        for e in self.episodes:
            arrays = self.meta.episode_arrays(e)
            self._state[e] = arrays[OBS_STATE].astype(np.float32)
            self._action[e] = arrays[ACTION].astype(np.float32)
            lengths.append(len(self._action[e]))
        self.meta._tables.clear()  # arrays are copied out; drop the parquet tables
        self._lengths = np.array(lengths, dtype=np.int64)
        self._starts = np.concatenate([[0], np.cumsum(self._lengths)])
        self._cache: EpisodeFrameCache | None = None  # made lazily: one per worker process

    def __len__(self) -> int:
        return int(self._starts[-1])

    def locate(self, idx: int) -> tuple[int, int]:
        """(episode index, frame index) of sample ``idx``."""
        if not 0 <= idx < len(self):
            raise IndexError(f"sample {idx} out of range [0, {len(self)})")
        pos = int(np.searchsorted(self._starts, idx, side="right") - 1)
        return self.episodes[pos], idx - int(self._starts[pos])

    def episode_frames(self, episode: int) -> dict[str, np.ndarray]:
        """Decoded frames of every camera for an episode, through the LRU cache."""
        if self._cache is None:
            self._cache = EpisodeFrameCache(self.cache_bytes)
        item = self._cache.get(episode)
        if item is None:
            item = {k: self.meta.episode_frames(episode, k) for k in self.camera_keys}
            self._cache.put(episode, item)
        return item

    def __getitem__(self, idx: int) -> dict:
        ep, t = self.locate(int(idx))
        actions = self._action[ep]
        length = len(actions)
        steps = np.arange(t, t + self.chunk_size)
        is_pad = steps >= length
        chunk = actions[np.minimum(steps, length - 1)]  # pad by repeating the last action
        frames = self.episode_frames(ep)
        sample = {k: torch.from_numpy(frames[k][t]) for k in self.camera_keys}
        sample[OBS_STATE] = torch.from_numpy(self._state[ep][t])
        sample[TASK] = self.meta.episode_task(ep)
        sample[ACTION] = torch.from_numpy(np.ascontiguousarray(chunk))
        sample["action_is_pad"] = torch.from_numpy(is_pad)
        sample["episode_index"] = ep
        sample["frame_index"] = t
        return sample


class EpisodeChunkSampler(Sampler[int]):
    """Shuffle episodes in blocks of ``episodes_per_block`` and frames within each block.

    Keeps decoding to about once per episode per epoch while still mixing several episodes in
    every batch; pair it with a cache that holds a block (``cache_bytes``).
    """

    def __init__(self, dataset: LeRobotTorchDataset, episodes_per_block: int = 8, seed: int = 0):
        self.dataset = dataset
        self.block = episodes_per_block
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng((self.seed, self.epoch))
        order = rng.permutation(len(self.dataset.episodes))
        starts, lengths = self.dataset._starts, self.dataset._lengths
        for b in range(0, len(order), self.block):
            idx = np.concatenate(
                [np.arange(starts[p], starts[p] + lengths[p]) for p in order[b : b + self.block]]
            )
            yield from rng.permutation(idx).tolist()
