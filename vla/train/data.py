"""Training data: the in-memory fast path and the DataLoader path, with action-token targets.

Fast path (``data_mode=memory``)::

    LeRobot v3 folder --decode every episode once (vla.data.episode_arrays)--> uint8 (N, H, W, 3) per camera
      + state (N, S) + targets (N, T) + loss mask (N, T) + task index (N,)
      --> pinned CPU or GPU tensors; a batch = index gather on the device (no per-step decode)

DataLoader path (``data_mode=loader``): ``LeRobotTorchDataset`` + workers; targets are encoded
per batch in the main process.
"""

from __future__ import annotations

import numpy as np
import torch

from vla.constants import ACTION, OBS_STATE, TASK
from vla.data.episode_arrays import EpisodeArrays
from vla.policy.action_tokens import encode_targets


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
