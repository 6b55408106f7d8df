"""The record ``vla.train.trainer`` logs every ``log_every`` steps, and where it goes
(``train_log.jsonl``, TensorBoard, the progress bar, the run's summary history)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

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


class RunLog:
    """Where the step records go: the run's history (every rank) and, on rank 0, the
    ``train_log.jsonl`` file, TensorBoard (where installed) and the progress bar."""

    def __init__(self, out_dir: Path, cfg: TrainConfig, is_main: bool, start_step: int):
        self.history: list[dict] = []
        self.path = out_dir / "train_log.jsonl"
        self.is_main = is_main
        self.writer = _tensorboard(out_dir) if is_main else None
        self.bar = tqdm(total=cfg.steps, initial=start_step, disable=not (is_main and cfg.progress))

    def write(self, rec: dict) -> None:
        self.history.append(rec)
        if not self.is_main:
            return
        with self.path.open("a") as f:
            f.write(json.dumps(rec) + "\n")
        if self.writer is not None:
            for k, v in rec.items():
                self.writer.add_scalar(f"train/{k}", v, rec["step"])
        self.bar.set_postfix(loss=f"{rec['loss']:.3f}", acc=f"{rec['accuracy']:.2f}",
                             sps=f"{rec['samples_per_s']:.0f}")  # fmt: skip

    def close(self) -> None:
        self.bar.close()
        if self.writer is not None:
            self.writer.close()


def _tensorboard(out_dir: Path):
    """A TensorBoard writer under ``out_dir/tb``, or None where tensorboard is not installed
    (an optional dependency: imported only when a run starts)."""
    try:
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(str(out_dir / "tb"))
    except ImportError:
        return None
