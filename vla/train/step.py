"""One optimiser step of ``vla train``, and what it needs::

    raw batch --input chain (resize, to-float, augmentation, normalise, instruction states)-->
    batch --camera dropout, state noise / dropout--> model(..., targets) --CE loss--> backward
    --clip grad norm--> AdamW step (lr from the schedule) --> EMA of the weights

The batch's random numbers (sample indices, augmentation, camera dropout, state regularisation)
come from the per-step generator ``g`` (``runtime.batch_generator``), so a resumed run repeats
them exactly.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import torch

from vla.constants import OBS_STATE
from vla.policy.transforms import apply_transforms
from vla.train.augment import drop_cameras
from vla.train.config import TrainConfig
from vla.train.runtime import LRSchedule


@dataclass
class Learner:
    """What an optimiser step changes: the model (``ddp_model`` is it, or its DDP wrapper),
    AdamW and its learning-rate schedule, and the weights' moving average (or None)."""

    model: torch.nn.Module
    ddp_model: torch.nn.Module
    opt: torch.optim.Optimizer
    sched: LRSchedule
    ema: Any  # torch.optim.swa_utils.AveragedModel | None
    autocast: AbstractContextManager

    @property
    def shipped(self) -> torch.nn.Module:
        """The weights checkpoints and validation get: the average where one is kept."""
        return self.model if self.ema is None else self.ema.module


def prepare_batch(chain: list, raw: dict, cfg: TrainConfig, use_state: bool, g: torch.Generator):
    """The model's inputs from a raw batch: the input chain, camera dropout, then the state
    regularisation; returns ``(batch, state-dropout mask or None)``."""
    batch = apply_transforms(chain, raw)
    drop_cameras(batch, cfg.camera_dropout, g)
    return batch, regularise_state(batch, cfg, use_state, g)


def train_step(
    learner: Learner, batch: dict, raw: dict, state_drop, step: int, cfg: TrainConfig
) -> tuple[dict, torch.Tensor]:
    """Optimiser step ``step`` (0-based): forward with the loss, backward, clip, AdamW, EMA.
    Returns the model's output (``loss``, ``accuracy``, ...) and the gradient norm before
    clipping."""
    learner.sched.update(step)
    with learner.autocast:
        res = learner.ddp_model(
            batch["images"], batch[OBS_STATE], batch["text"], batch["text_mask"],
            raw["targets"], raw["target_mask"], state_drop, label_sigma=cfg.label_sigma,
        )  # fmt: skip
    res["loss"].backward()
    gnorm = torch.nn.utils.clip_grad_norm_(learner.model.parameters(), cfg.grad_clip)
    learner.opt.step()
    learner.opt.zero_grad(set_to_none=True)
    if learner.ema is not None:
        learner.ema.update_parameters(learner.model)
    return res, gnorm


def regularise_state(batch: dict, cfg: TrainConfig, use_state: bool, g: torch.Generator):
    """Training-time state regularisation, in place on ``batch[OBS_STATE]`` (normalised):
    adds N(0, state_noise_std) noise; returns the (B,) state-dropout mask (or None)."""
    if not use_state:
        return None
    state = batch[OBS_STATE]
    if cfg.state_noise_std > 0:
        noise = torch.randn(state.shape, generator=g) * cfg.state_noise_std
        batch[OBS_STATE] = state + noise.to(state.device, state.dtype)
    if cfg.state_dropout <= 0:
        return None
    return (torch.rand(state.shape[0], generator=g) < cfg.state_dropout).to(state.device)


@torch.no_grad()
def shuffled_state_accuracy(model, batch, raw, use_state: bool, autocast, accuracy) -> float:
    """Diagnostic: token accuracy on the logged batch with the states rolled by one sample
    (each sample gets another sample's state). Close to ``accuracy``: the actions come from the
    images and instruction; far below it: the model reads the episode and time off the state
    (memorisation). Without a state token it equals ``accuracy``."""
    if not use_state:
        return float(accuracy.item())
    with autocast:
        res = model(
            batch["images"], torch.roll(batch[OBS_STATE], 1, dims=0), batch["text"],
            batch["text_mask"], raw["targets"], raw["target_mask"],
        )  # fmt: skip
    return float(res["accuracy"].item())
