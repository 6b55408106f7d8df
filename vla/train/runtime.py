"""Training runtime pieces: devices and DDP, optimiser + schedule, checkpoints and exact resume.

Checkpoint layout under ``output_dir``::

    checkpoints/step_0000500/   a Policy-loadable folder + training_state.pt
                                (fp32 weights, optimiser, scheduler, RNG states, step)
    final/                      the Policy-loadable folder written at the end
    train_log.jsonl             one JSON object per logged step
"""

from __future__ import annotations

import math
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from vla.train.config import TrainConfig

STATE_FILENAME = "training_state.pt"


@dataclass
class DistInfo:
    """Process-group facts: rank, world size and the device this process trains on."""

    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup_distributed(requested: str) -> DistInfo:
    """Init the process group under torchrun (nccl on GPU, gloo on CPU); single process else."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if requested == "auto" else requested.startswith("cuda")
    if use_cuda and not torch.cuda.is_available():
        raise RuntimeError(f"device={requested!r} but CUDA is not available: use --device=cpu")
    device = torch.device(f"cuda:{local}" if use_cuda else "cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return DistInfo(rank, world, local, device)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Decay matrices/convs; no decay on biases, norms, embeddings-as-parameters."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.ndim >= 2 and "emb" not in name else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig, device: torch.device):
    """AdamW (fused on CUDA) and its ``LRSchedule``."""
    opt = torch.optim.AdamW(
        param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=cfg.betas,
        fused=device.type == "cuda",
    )  # fmt: skip
    return opt, LRSchedule(opt, cfg)


class LRSchedule:
    """Linear warm-up over ``warmup_steps``, then cosine decay to ``min_lr_ratio * lr``.

    The decay follows training progress in [0, 1]: ``step / steps``, or, with a time budget
    (``max_minutes`` and ``time_schedule``), the larger of that and the share of the budget
    spent, so a run cut short by its budget still ends at the low learning rate instead of
    stopping mid-schedule. A resumed run decays the remaining progress over its new budget.
    """

    def __init__(self, opt: torch.optim.Optimizer, cfg: TrainConfig):
        self.opt, self.cfg = opt, cfg
        self.progress = self.start_progress = 0.0
        self.t0 = time.time()
        self.lr = cfg.lr

    def factor(self, step: int, progress: float) -> float:
        cfg = self.cfg
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        warm = cfg.warmup_steps / cfg.steps
        x = min(max((progress - warm) / max(1e-9, 1 - warm), 0.0), 1.0)
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * x))

    def update(self, step: int) -> float:
        """Set the learning rate for optimiser step ``step`` (0-based); return it."""
        cfg = self.cfg
        progress = step / cfg.steps
        if cfg.max_minutes is not None and cfg.time_schedule:
            spent = (time.time() - self.t0) / (cfg.max_minutes * 60)
            progress = max(progress, self.start_progress + (1 - self.start_progress) * spent)
        self.progress = min(progress, 1.0)
        self.lr = cfg.lr * self.factor(step, self.progress)
        for group in self.opt.param_groups:
            group["lr"] = self.lr
        return self.lr

    def state_dict(self) -> dict:
        return {"progress": self.progress, "lr": self.lr}

    def load_state_dict(self, state: dict) -> None:
        self.progress = self.start_progress = float(state["progress"])
        self.lr = float(state["lr"])
        self.t0 = time.time()


def batch_generator(seed: int, rank: int, step: int) -> torch.Generator:
    """Per-step CPU generator: the sample order is a function of (seed, rank, step) alone, so a
    resumed run draws exactly the batches the uninterrupted run would have drawn."""
    return torch.Generator().manual_seed(seed * 1_000_003 + rank * 7_919 + step)


def make_ema(model, decay: float):
    """The weights' exponential moving average (``torch.optim.swa_utils.AveragedModel``; its
    first update copies the weights), or None when ``decay`` is 0. Call ``update_parameters``
    after each optimiser step; ``.module`` is the averaged model."""
    if decay <= 0:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    # a compiled forward (cfg.compile) is an instance attribute bound to the live model: left
    # in place, the copy would run the live weights. Copy without it, then put it back.
    compiled = model.__dict__.pop("forward", None)
    try:
        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
    finally:
        if compiled is not None:
            model.forward = compiled
    ema.requires_grad_(False)
    return ema


def save_training_state(directory: Path, model, opt, sched, step: int, ema=None) -> None:
    """Everything exact resume needs, beside the Policy files of the same checkpoint."""
    model = getattr(model, "module", model)
    state = {
        "step": step,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "ema": None if ema is None else {k: v.detach().cpu() for k, v in ema.state_dict().items()},
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "rng": {
            "python": random.getstate(),
            "numpy": _numpy_rng_to_plain(np.random.get_state()),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        },
    }
    torch.save(state, directory / STATE_FILENAME)


def _numpy_rng_to_plain(state: tuple) -> dict:
    """numpy's legacy RNG state as tensors and numbers: a ``weights_only`` load accepts it."""
    name, keys, pos, has_gauss, cached = state
    return {
        "name": str(name),
        "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached_gaussian": float(cached),
    }


def _numpy_rng_from_plain(state) -> tuple:
    if not isinstance(state, dict):  # written before the plain form: numpy's own tuple
        return state
    keys = state["keys"].numpy().astype(np.uint32)
    return (state["name"], keys, state["pos"], state["has_gauss"], state["cached_gaussian"])


def _load_state_file(file: Path) -> dict:
    """``torch.load`` with ``weights_only=True``: a training state can no longer run code on
    load. States written before numpy's RNG was stored as tensors hold numpy arrays; numpy's
    array reconstruction (data only, no code) is allowed for them."""
    multiarray = getattr(np, "_core", None) or np.core  # numpy 2 / numpy 1
    allowed = [multiarray.multiarray._reconstruct, np.ndarray, np.dtype, type(np.dtype(np.uint32))]
    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # an unpickling refusal, a truncated file, ...
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise ValueError(
            f"cannot resume from {file}: {type(exc).__name__}: {first}; the file is damaged or "
            "was not written by `vla train` (start without --resume, or resume from another "
            "checkpoint)"
        ) from None


def find_resume(output_dir: Path, resume: str | None) -> Path | None:
    """``resume``: a checkpoint folder, ``auto`` (latest under output_dir, if any) or None."""
    if resume is None:
        return None
    if resume == "auto":
        found = sorted((output_dir / "checkpoints").glob("step_*"))
        found = [p for p in found if (p / STATE_FILENAME).is_file()]
        return found[-1] if found else None
    path = Path(resume)
    if not (path / STATE_FILENAME).is_file():
        raise FileNotFoundError(
            f"cannot resume from {path}: no {STATE_FILENAME} there (pass a folder under "
            "<output_dir>/checkpoints/ or --resume=auto)"
        )
    return path


def load_training_state(path: Path, model, opt, sched, ema=None) -> int:
    """Restore weights, optimiser, scheduler, RNG and (if kept) EMA states; return the step to
    continue at."""
    state = _load_state_file(path / STATE_FILENAME)
    getattr(model, "module", model).load_state_dict(state["model"])
    if ema is not None:
        if state.get("ema") is None:
            raise ValueError(
                f"{path} was trained without ema_decay: resume it with ema_decay=0, "
                "or start a new output_dir with --init_from=<its folder>"
            )
        ema.load_state_dict(state["ema"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    rng = state["rng"]
    random.setstate(rng["python"])
    np.random.set_state(_numpy_rng_from_plain(rng["numpy"]))
    torch.set_rng_state(rng["torch"])
    if rng["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    return int(state["step"])


def prune_checkpoints(output_dir: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` periodic checkpoints."""
    found = sorted((output_dir / "checkpoints").glob("step_*"))
    for old in found[: max(0, len(found) - keep)]:
        shutil.rmtree(old, ignore_errors=True)


def budget_spent(cfg: TrainConfig, elapsed_s: float, info: DistInfo) -> bool:
    """Whether ``max_minutes`` ran out (on any rank: all of them stop at the same step)."""
    if cfg.max_minutes is None:
        return False
    flag = torch.tensor(float(elapsed_s > cfg.max_minutes * 60), device=info.device)
    if info.world > 1:
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


def budget_unused(cfg: TrainConfig, stopped_by_time: bool, elapsed_s: float) -> float | None:
    """Minutes of ``max_minutes`` left when the run ended at ``steps`` instead (None when the
    budget was spent or under 10% of it is left): ``steps`` is a hard stop, and the preset's is
    far shorter than a GPU run of many minutes."""
    if cfg.max_minutes is None or stopped_by_time:
        return None
    left = cfg.max_minutes - elapsed_s / 60
    return left if left > 0.1 * cfg.max_minutes else None
