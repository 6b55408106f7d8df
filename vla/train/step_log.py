"""The record ``vla.train.trainer`` logs every ``log_every`` steps (``train_log.jsonl``,
TensorBoard, the run's summary history)."""

from __future__ import annotations

import torch
import torch.distributed as dist

from vla.train.config import TrainConfig
from vla.train.runtime import LRSchedule


def step_record(
    cfg: TrainConfig,
    world: int,
    res: dict,
    shuffled_accuracy: float,
    grad_norm: torch.Tensor,
    sched: LRSchedule,
    *,
    step: int,
    start_step: int,
    elapsed: float,
    samples: int,
) -> dict:
    """The log record of ``step`` from the step's model output ``res`` (``loss``, ``accuracy``)
    and the shuffled-state accuracy diagnostic; throughput counts the steps since
    ``start_step``, ``elapsed`` seconds ago. Under DDP every rank must call it (all-reduce)."""
    # under DDP the logged loss/accuracy are the means over all ranks' batches (the
    # global batch), so a 2-GPU log compares with a 1-GPU log of the same global batch
    loss_acc = torch.stack([res["loss"].detach().float(), res["accuracy"].detach().float()])
    if world > 1:
        dist.all_reduce(loss_acc)
        loss_acc /= world
    return {
        "step": step,
        "loss": loss_acc[0].item(),
        "accuracy": loss_acc[1].item(),
        "accuracy_shuffled_state": shuffled_accuracy,
        "grad_norm": grad_norm.item(),
        "lr": sched.lr,
        "progress": sched.progress,
        "samples_per_s": (step - start_step) * cfg.batch_size * world / elapsed,
        "elapsed_s": elapsed,
        "world": world,
        "global_batch": cfg.batch_size * world,
        "samples": samples,
    }
