"""Training data: the in-memory fast path and the DataLoader path, with action-token targets.

Fast path (``data_mode=memory``)::

    LeRobot v3 folder --decode every episode once (vla.data.episode_arrays)--> uint8 (N, H, W, 3) per camera
      + state (N, S) + targets (N, T) + loss mask (N, T) + task index (N,)
      --> pinned CPU or GPU tensors; a batch = index gather on the device (no per-step decode)

DataLoader path (``data_mode=loader``): ``LeRobotTorchDataset`` + workers; targets are encoded
per batch in the main process.

Either way a step's batch is ``draw_batch(source, ...)``: the indices (memory path) and the
augmentation's random numbers come from the step's generator, so a resumed run repeats them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

from vla.constants import ACTION, OBS_STATE, TASK
from vla.data.episode_arrays import EpisodeArrays
from vla.data.torch_dataset import LeRobotTorchDataset
from vla.policy.action_tokens import encode_targets
from vla.train.config import TrainConfig
from vla.train.instruction_aug import augment_instructions
from vla.train.runtime import DistInfo, batch_generator


class MemoryBatches:
    """Device-resident training set; ``batch(idx)`` gathers a batch by sample index.

    Held as segments: the start-up load, then one per :meth:`extend` (training while the dataset
    grows). Appending a segment copies nothing already held, so growing to N frames needs memory
    for N frames, not the 2N a concatenation would briefly take (~38 GB of 128x128 frames for
    10,000 episodes: 2N would not fit an 80 GB card)."""

    FIELDS = (OBS_STATE, "task_index", "targets", "target_mask")

    def __init__(self, arrays: EpisodeArrays, tokenizer, max_tokens: int, eos_id: int, device):
        self.device = torch.device(device)
        self._pin = self.device.type == "cpu" and torch.cuda.is_available()
        self._tok = (tokenizer, max_tokens, eos_id)
        self.cameras = list(arrays.frames)
        self.parts: dict[str, list[torch.Tensor]] = {k: [] for k in (*self.cameras, *self.FIELDS)}
        self.bounds = [0]  # segment s holds samples [bounds[s], bounds[s + 1])
        self.instructions: list[str] = []
        self.extend(arrays)

    def _put(self, x: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(x))
        return t.pin_memory() if self._pin else t.to(self.device)

    def extend(self, arrays: EpisodeArrays) -> None:
        """Append episodes as a new segment (``vla.train.growing``). Their ``instructions``
        table must start with this one's, so the task indices already stored keep their
        meaning."""
        if arrays.instructions[: len(self.instructions)] != self.instructions:
            raise ValueError("extend: the new instruction table does not extend the current one")
        if list(arrays.frames) != self.cameras:
            raise ValueError(f"extend: cameras {list(arrays.frames)} != {self.cameras}")
        ids, mask = encode_targets(self._tok[0], arrays.chunks, arrays.is_pad, *self._tok[1:])
        new = {**arrays.frames, OBS_STATE: arrays.state, "task_index": arrays.task_index,
               "targets": ids, "target_mask": mask}  # fmt: skip
        for k, v in new.items():
            self.parts[k].append(self._put(v))
        self.bounds.append(self.bounds[-1] + len(arrays.state))
        self.instructions = list(arrays.instructions)

    @property
    def size(self) -> int:
        return self.bounds[-1]

    def __len__(self) -> int:
        return self.size

    def sample(self, g: torch.Generator, batch_size: int, device: torch.device) -> dict:
        """A raw batch of ``batch_size`` samples drawn uniformly (indices from ``g``)."""
        return self.batch(torch.randint(len(self), (batch_size,), generator=g), device)

    def batch(self, idx: torch.Tensor, device: torch.device) -> dict:
        """The raw (untransformed) batch for sample indices ``idx`` (B,), on ``device``."""
        idx = idx.to(self.device)
        if len(self.bounds) == 2:  # one segment: a plain index gather
            return {k: p[0][idx].to(device, non_blocking=True) for k, p in self.parts.items()}
        # several: sort the indices, gather each segment's run of them, restore the order
        order = torch.argsort(idx)
        back = torch.argsort(order)  # the sorted rows, gathered back into the asked order
        sidx = idx[order]
        inner = torch.tensor(self.bounds[1:-1], device=sidx.device, dtype=sidx.dtype)
        cuts = [0, *torch.searchsorted(sidx, inner).tolist(), len(sidx)]  # one sync per batch
        runs = [(s, cuts[s], cuts[s + 1]) for s in range(len(cuts) - 1) if cuts[s + 1] > cuts[s]]
        out = {}
        for k, parts in self.parts.items():
            got = torch.cat([parts[s][sidx[a:b] - self.bounds[s]] for s, a, b in runs])
            out[k] = got[back].to(device, non_blocking=True)
        return out


def loader_batch(raw: dict, tokenizer, max_tokens: int, eos_id: int, cams, device) -> dict:
    """A DataLoader batch (from ``LeRobotTorchDataset``) -> the raw training batch on device."""
    ids, mask = encode_targets(
        tokenizer, raw[ACTION].numpy(), raw["action_is_pad"].numpy(), max_tokens, eos_id
    )
    out = {k: raw[k].to(device, non_blocking=True) for k in cams}
    out[OBS_STATE] = raw[OBS_STATE].to(device)
    out[TASK] = list(raw[TASK])
    out["targets"] = torch.from_numpy(ids).to(device)
    out["target_mask"] = torch.from_numpy(mask).to(device)
    return out


class LoaderBatches:
    """The DataLoader path: epoch after epoch of a shuffled (under DDP: distributed) sampler,
    encoded to raw training batches. :meth:`sample` ignores the step generator: the sampler's
    own generator (seeded by ``cfg.seed``) orders the samples."""

    def __init__(self, cfg: TrainConfig, episodes: list[int], info: DistInfo, tokenizer,
                 max_tokens: int, eos_id: int, cams: list[str]):  # fmt: skip
        self.dataset = LeRobotTorchDataset(cfg.dataset, cfg.chunk_size, episodes)
        self.sampler = (
            DistributedSampler(self.dataset, info.world, info.rank, seed=cfg.seed)
            if info.world > 1
            else RandomSampler(self.dataset, generator=torch.Generator().manual_seed(cfg.seed))
        )
        self.loader = DataLoader(
            self.dataset, cfg.batch_size, sampler=self.sampler, num_workers=cfg.num_workers,
            pin_memory=info.device.type == "cuda", drop_last=True,
            persistent_workers=cfg.num_workers > 0,
        )  # fmt: skip
        self._encode = (tokenizer, max_tokens, eos_id, cams)
        self._it = None
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.dataset)

    def sample(self, g: torch.Generator, batch_size: int, device: torch.device) -> dict:
        """The loader's next batch (a new epoch where the last one ended)."""
        while True:
            if self._it is None:
                if hasattr(self.sampler, "set_epoch"):
                    self.sampler.set_epoch(self.epoch)
                self._it = iter(self.loader)
            try:
                return loader_batch(next(self._it), *self._encode, device)
            except StopIteration:
                self._it, self.epoch = None, self.epoch + 1


def draw_batch(source, cfg: TrainConfig, rank: int, step: int, device: torch.device):
    """Step ``step``'s raw batch from ``source`` (``MemoryBatches`` or ``LoaderBatches``) with
    the augmentation's random numbers; returns it and the step's generator (its next draws are
    the state regularisation's)."""
    g = batch_generator(cfg.seed, rank, step)
    raw = source.sample(g, cfg.batch_size, device)
    raw["aug_rand"] = torch.rand(cfg.batch_size, 4, generator=g)
    if cfg.instruction_aug > 0:  # strings from here on: the rewrites are not in the table
        tasks = raw[TASK] if TASK in raw else [source.instructions[i]
                                               for i in raw.pop("task_index").tolist()]  # fmt: skip
        raw[TASK] = augment_instructions(tasks, cfg.instruction_aug, g)
    return raw, g
