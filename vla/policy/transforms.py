"""Input transforms: ONE chain shared by training and inference (``input_transforms``).

    batch {"observation.images.<cam>": uint8 (B, H, W, 3), "observation.state": (B, S),
           "task": list[str] | "task_index": (B,) into a known instruction table}
      -> ResizeImages      check (inference: strict) or resize (training data of another size)
      -> ImagesToFloat     -> "images" float (B, N_cam, 3, H, W) in [0, 1]
      -> [AugmentImages]   training only: random shift + colour jitter, on the batch's device
      -> Normalize(state)  dataset statistics stored with the checkpoint
      -> EmbedInstruction  -> "text" (B, L, 384) MiniLM states or (B, L) word ids, "text_mask"

Transforms are small frozen callables ``batch -> batch`` (a new dict each time). ``Normalize`` /
``Unnormalize`` come in a pair; actions are (un)normalised by the action tokenizer itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from vla.constants import OBS_STATE, TASK
from vla.model.text import InstructionEmbeddings, WordVocab

Batch = dict
Transform = Callable[[Batch], Batch]
STATE_NORM_MODES: tuple[str, ...] = ("meanstd", "quantile")
_REQUIRED = {"meanstd": ("mean", "std"), "quantile": ("q01", "q99")}
MIN_SCALE = 1e-3  # floor of the normalisation scale: constant dims must not blow up
CLIP = 5.0  # normalised values are clipped to +-CLIP (out-of-distribution robustness)


class MissingStatsError(KeyError):
    """Normalisation statistics needed by a transform are absent."""

    def __str__(self) -> str:
        return str(self.args[0])


def _stats_pair(stats: dict, key: str, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    if key not in stats:
        raise MissingStatsError(
            f"statistics for {key!r} are missing: the dataset's meta/stats.json must hold them "
            "(recompute the dataset statistics) and the checkpoint's stats.json must be written "
            "by save_policy"
        )
    st = stats[key]
    if mode not in _REQUIRED:
        raise ValueError(f"unknown normalisation mode {mode!r}: choose one of {STATE_NORM_MODES}")
    for name in _REQUIRED[mode]:
        if name not in st:
            raise MissingStatsError(
                f"statistic {name!r} of {key!r} is missing (needed by mode {mode!r}): recompute "
                "the dataset statistics (min, max, mean, std, q01, q99) or choose another mode"
            )
    a, b = (torch.as_tensor(st[n], dtype=torch.float32).reshape(-1) for n in _REQUIRED[mode])
    if mode == "meanstd":
        return a, b.clamp(min=MIN_SCALE)
    return (a + b) / 2, ((b - a) / 2).clamp(min=MIN_SCALE)


@dataclass(frozen=True)
class Normalize:
    """``(x - centre) / scale`` clipped to +-CLIP; centre/scale from mean-std or q01/q99."""

    key: str
    centre: torch.Tensor = field(repr=False)
    scale: torch.Tensor = field(repr=False)

    @classmethod
    def from_stats(cls, key: str, stats: dict, mode: str = "meanstd") -> Normalize:
        return cls(key, *_stats_pair(stats, key, mode))

    def __call__(self, batch: Batch) -> Batch:
        x = batch[self.key].float()
        if x.shape[-1] != self.centre.shape[0]:
            raise ValueError(
                f"{self.key} has {x.shape[-1]} values, the statistics have {self.centre.shape[0]}"
            )
        c, s = self.centre.to(x.device), self.scale.to(x.device)
        return {**batch, self.key: ((x - c) / s).clamp(-CLIP, CLIP)}


@dataclass(frozen=True)
class Unnormalize:
    """Inverse of ``Normalize`` (within the clip range)."""

    key: str
    centre: torch.Tensor = field(repr=False)
    scale: torch.Tensor = field(repr=False)

    @classmethod
    def from_stats(cls, key: str, stats: dict, mode: str = "meanstd") -> Unnormalize:
        return cls(key, *_stats_pair(stats, key, mode))

    def __call__(self, batch: Batch) -> Batch:
        x = batch[self.key].float()
        return {**batch, self.key: x * self.scale.to(x.device) + self.centre.to(x.device)}


@dataclass(frozen=True)
class ResizeImages:
    """Check (``strict``) or bilinearly resize every camera to ``size`` = (H, W)."""

    keys: tuple[str, ...]
    size: tuple[int, int]
    strict: bool = True

    def __call__(self, batch: Batch) -> Batch:
        out = dict(batch)
        for k in self.keys:
            if k not in batch:
                raise KeyError(
                    f"camera {k!r} is missing from the observation; the checkpoint expects "
                    f"{list(self.keys)}, the observation has {sorted(batch)}"
                )
            img = batch[k]  # (B, H, W, 3) uint8
            if img.ndim != 4 or img.shape[-1] != 3:
                raise ValueError(f"{k} must be uint8 (B, H, W, 3), got shape {tuple(img.shape)}")
            if tuple(img.shape[1:3]) == tuple(self.size):
                continue
            if self.strict:
                raise ValueError(
                    f"camera {k!r} images are {tuple(img.shape[1:3])} (H, W) but the checkpoint "
                    f"was trained on {tuple(self.size)}: render the environment at that size"
                )
            x = img.permute(0, 3, 1, 2).float()
            x = F.interpolate(x, size=self.size, mode="bilinear", antialias=True)
            out[k] = x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
        return out


@dataclass(frozen=True)
class ImagesToFloat:
    """uint8 (B, H, W, 3) per camera -> ``images`` float (B, N_cam, 3, H, W) in [0, 1]."""

    keys: tuple[str, ...]

    def __call__(self, batch: Batch) -> Batch:
        imgs = torch.stack([batch[k] for k in self.keys], dim=1)  # (B, N, H, W, 3)
        imgs = imgs.permute(0, 1, 4, 2, 3).float() / 255.0  # (B, N, 3, H, W)
        return {**batch, "images": imgs}


@dataclass(frozen=True)
class AugmentImages:
    """Training only: random shift (pad + crop, DrQ style) and brightness/contrast jitter.

    Random numbers come from ``batch["aug_rand"]`` (B, 4) uniform [0, 1) drawn by the caller
    from its seeded generator, so resumed runs replay exactly; all maths runs on the batch's
    device (GPU in training).
    """

    max_shift: int = 6
    brightness: float = 0.2
    contrast: float = 0.2

    def __call__(self, batch: Batch) -> Batch:
        x = batch["images"]  # (B, N, 3, H, W)
        r = batch["aug_rand"].to(x.device)  # (B, 4)
        b, n, c, h, w = x.shape
        out = x
        if self.max_shift > 0:
            p = self.max_shift
            # integer shifts in [-p, p] via a translation grid (one per sample, shared by cams)
            shift = (r[:, :2] * (2 * p + 1)).floor() - p  # (B, 2) pixels (dx, dy)
            theta = torch.zeros(b, 2, 3, device=x.device)
            theta[:, 0, 0] = theta[:, 1, 1] = 1.0
            theta[:, 0, 2] = shift[:, 0] * 2.0 / w
            theta[:, 1, 2] = shift[:, 1] * 2.0 / h
            theta = theta.repeat_interleave(n, dim=0)  # (B*N, 2, 3)
            grid = F.affine_grid(theta, [b * n, c, h, w], align_corners=False)
            flat = F.grid_sample(x.reshape(b * n, c, h, w), grid, mode="nearest",
                                 padding_mode="border", align_corners=False)  # fmt: skip
            out = flat.reshape(b, n, c, h, w)
        bright = 1.0 + (r[:, 2] * 2 - 1) * self.brightness  # (B,)
        contr = 1.0 + (r[:, 3] * 2 - 1) * self.contrast
        mean = out.mean(dim=(2, 3, 4), keepdim=True)  # (B, N, 1, 1, 1)
        out = (out - mean) * contr[:, None, None, None, None] + mean
        out = (out * bright[:, None, None, None, None]).clamp(0.0, 1.0)
        return {**batch, "images": out}


@dataclass(frozen=True)
class EmbedInstruction:
    """Instruction -> ``text`` + ``text_mask`` via cached MiniLM states or a word vocabulary.

    ``batch["task"]`` (list of str) is embedded per call; ``batch["task_index"]`` (B,) gathers
    from ``table`` (made once by ``with_table`` for a known instruction list, e.g. a dataset).
    """

    encoder: InstructionEmbeddings | WordVocab
    max_tokens: int
    table: tuple[torch.Tensor, torch.Tensor] | None = field(default=None, repr=False)

    def embed(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(self.encoder, WordVocab):
            return self.encoder.batch(texts, self.max_tokens)
        return self.encoder.batch(texts)

    def with_table(self, texts: Sequence[str], device: torch.device | str) -> EmbedInstruction:
        text, mask = self.embed(texts)
        return EmbedInstruction(self.encoder, self.max_tokens, (text.to(device), mask.to(device)))

    def __call__(self, batch: Batch) -> Batch:
        if "task_index" in batch and self.table is not None:
            idx = batch["task_index"].to(self.table[0].device)
            return {**batch, "text": self.table[0][idx], "text_mask": self.table[1][idx]}
        tasks = batch[TASK]
        tasks = [tasks] if isinstance(tasks, str) else list(tasks)
        text, mask = self.embed(tasks)
        device = batch[OBS_STATE].device
        return {**batch, "text": text.to(device), "text_mask": mask.to(device)}


def input_transforms(
    camera_keys: Sequence[str],
    image_size: Sequence[int],
    stats: dict,
    text: EmbedInstruction,
    state_norm_mode: str = "meanstd",
    train: bool = False,
    augment: AugmentImages | None = None,
) -> list[Transform]:
    """The input chain, in order. Training may resize data; inference checks sizes strictly."""
    chain: list[Transform] = [
        ResizeImages(
            tuple(camera_keys), (int(image_size[0]), int(image_size[1])), strict=not train
        ),
        ImagesToFloat(tuple(camera_keys)),
    ]
    if train and augment is not None:
        chain.append(augment)
    chain += [Normalize.from_stats(OBS_STATE, stats, state_norm_mode), text]
    return chain


def apply_transforms(chain: Sequence[Transform], batch: Batch) -> Batch:
    """Run ``batch`` through every transform of ``chain``."""
    for t in chain:
        batch = t(batch)
    return batch
