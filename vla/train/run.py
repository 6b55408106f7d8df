"""A training run built from its ``TrainConfig``: everything ``vla.train.trainer.train`` loops
over, made once before the first step::

    process (threads, DDP, seed) -> dataset (reader, statistics, episodes; in memory or a
    growing feed) -> tokenizer + model (build.py) -> batches (MemoryBatches | LoaderBatches)
    -> input chain -> validation -> DDP wrapper, AdamW + schedule, EMA (step.Learner)
    -> resume (weights, optimiser, schedule, RNG, step) -> log (step_log.RunLog)

``TrainRun`` also writes the run's checkpoints and takes in episodes a growing dataset
commits (``--grow_s``, growing.py).
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml
from transformers.utils import logging as hf_logging

from vla.constants import OBS_STATE
from vla.data.episode_arrays import EpisodeArrays, load_episode_arrays
from vla.data.reader import LeRobotDatasetReader
from vla.policy.checkpoint import read_stats, save_policy
from vla.policy.transforms import AugmentImages, EmbedInstruction, input_transforms
from vla.train import growing as gr
from vla.train import runtime as rt
from vla.train.build import Built, build_model
from vla.train.config import TrainConfig
from vla.train.data import LoaderBatches, MemoryBatches
from vla.train.step import Learner
from vla.train.step_log import RunLog
from vla.train.validation import Validation


@dataclass
class RunData:
    """The dataset side of a run: what it reads and, on the memory path, the decoded arrays."""

    reader: LeRobotDatasetReader
    stats: dict  # normalisation statistics (a warm start's or resumed run's own)
    cams: list[str]
    episodes: list[int]
    instructions: list[str]
    arrays: EpisodeArrays | None  # None on the DataLoader path
    shard: bool  # under DDP each rank holds episodes[rank::world]
    load_s: float
    feed: gr.EpisodeFeed | None  # --grow_s: episodes committed after the start


@dataclass
class TrainRun:
    """Everything the loop needs; ``step`` is where it starts (a resumed run's step)."""

    cfg: TrainConfig
    info: rt.DistInfo
    out_dir: Path
    data: RunData
    built: Built
    batches: MemoryBatches | LoaderBatches
    augment: AugmentImages | None
    text_tf: EmbedInstruction
    chain: list
    val: Validation | None
    learner: Learner
    step: int
    log: RunLog

    def take_new_episodes(self) -> None:
        """Episodes a growing dataset committed since the last call join the training set
        (new tasks extend the instruction table; the indices already stored keep their
        meaning)."""
        for more in self.data.feed.take():
            if len(more.instructions) > len(self.data.instructions):
                self.data.instructions = list(more.instructions)
                self.text_tf = gr.extend_text(self.built.text_src, self.text_tf,
                                              self.data.instructions, self.info.device,
                                              self.cfg.instruction_aug)  # fmt: skip
                self.chain = input_chain(self.cfg, self.data, self.built, self.augment,
                                         self.text_tf)  # fmt: skip
            self.batches.extend(more)

    def save(self, directory: Path, step: int, with_state: bool) -> None:
        """A Policy folder of the shipped weights (+ ``training_state.pt`` for resume)."""
        b, learner = self.built, self.learner
        save_policy(directory, learner.shipped, b.tokenizer, self.data.stats, b.meta,
                    b.text_src, self.data.instructions, self.cfg.save_dtype)  # fmt: skip
        (directory / "train_config.yaml").write_text(yaml.safe_dump(self.cfg.to_dict()))
        if with_state:
            rt.save_training_state(directory, learner.model, learner.opt, learner.sched, step,
                                   learner.ema)  # fmt: skip

    def checkpoint(self, step: int) -> None:
        """``checkpoints/step_N`` (resumable), keeping the newest ``keep_checkpoints``."""
        self.save(self.out_dir / "checkpoints" / f"step_{step:07d}", step, with_state=True)
        rt.prune_checkpoints(self.out_dir, self.cfg.keep_checkpoints)


def build_run(cfg: TrainConfig) -> TrainRun:
    """Set up the process and build every piece of the run (see the module docstring)."""
    info = start_process(cfg)
    out_dir = Path(cfg.output_dir)
    resume_dir = rt.find_resume(out_dir, cfg.resume)
    data = read_data(cfg, info, resume_dir)
    dev = info.device
    b = build_model(cfg, data.reader, data.cams, data.stats, data.arrays, data.instructions,
                    resume_dir, dev)  # fmt: skip
    vcfg, text_tf = b.vcfg, b.text_tf
    if data.arrays is not None:
        mem_dev = dev if cfg.memory_device == "auto" else torch.device(cfg.memory_device)
        batches = MemoryBatches(data.arrays, b.tokenizer, vcfg.max_action_tokens, vcfg.eos_id,
                                mem_dev)  # fmt: skip
        text_tf = text_tf.with_table(batches.instructions, dev)
    else:
        batches = LoaderBatches(cfg, data.episodes, info, b.tokenizer, vcfg.max_action_tokens,
                                vcfg.eos_id, data.cams)  # fmt: skip
    augment = AugmentImages(cfg.max_shift, cfg.brightness, cfg.contrast) if cfg.augment else None
    chain = input_chain(cfg, data, b, augment, text_tf)
    val = None
    if cfg.val_dataset and info.is_main:
        val = Validation(cfg.val_dataset, cfg.val_samples, cfg=cfg, tokenizer=b.tokenizer,
                         vcfg=vcfg, stats=data.stats, cams=data.cams, text_src=b.text_src,
                         text_tf=text_tf, device=dev)  # fmt: skip
    learner = make_learner(cfg, b.model, info)
    step = 0 if resume_dir is None else resume(cfg, learner, resume_dir, info)
    if info.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        print(
            f"[train] {len(batches)} samples ({len(data.episodes)} episodes"
            f"{', this rank: 1/' + str(info.world) if data.shard else ''}, loaded in "
            f"{data.load_s:.1f}s), {b.n_params / 1e6:.2f}M trainable params, world={info.world}, "
            f"device={dev}, start step {step}/{cfg.steps}",
            flush=True,
        )
    log = RunLog(out_dir, cfg, info.is_main, step)
    return TrainRun(cfg, info, out_dir, data, b, batches, augment, text_tf, chain, val, learner,
                    step, log)  # fmt: skip


def input_chain(cfg: TrainConfig, data: RunData, built: Built, augment: AugmentImages | None,
                text_tf: EmbedInstruction) -> list:  # fmt: skip
    """The training input transforms (resize, to-float, augmentation, normalisation,
    instruction states) over ``text_tf``'s instruction table."""
    return input_transforms(data.cams, built.vcfg.image_size, data.stats, text_tf,
                            cfg.state_norm_mode, train=True, augment=augment)  # fmt: skip


def start_process(cfg: TrainConfig) -> rt.DistInfo:
    """Threads, the process group (under torchrun), the seed and the matmul precision."""
    hf_logging.disable_progress_bar()
    if cfg.torch_threads is not None:
        torch.set_num_threads(cfg.torch_threads)
    info = rt.setup_distributed(cfg.device)
    rt.seed_everything(cfg.seed)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    return info


def read_data(cfg: TrainConfig, info: rt.DistInfo, resume_dir: Path | None) -> RunData:
    """Open the dataset (waiting for a growing one's first episodes), pick the statistics and
    episodes, and on the memory path decode them (this rank's share where sharded)."""
    if cfg.grow_s > 0:  # train while `vla data generate` still writes the dataset
        gr.check_grow_config(cfg, info.world)
        reader = gr.wait_for_episodes(cfg.dataset, cfg.grow_min_episodes, cfg.grow_wait_s)
        stats = gr.start_stats(reader)
    else:
        reader = LeRobotDatasetReader(cfg.dataset)
        stats = reader.stats
    warm_dir = resume_dir or (Path(cfg.init_from) if cfg.init_from else None)
    if warm_dir is not None:  # the statistics its weights learned with, not this dataset's
        stats = {**stats, **read_stats(warm_dir)}  # (new data would move the normalised state)
    if OBS_STATE not in stats:
        raise KeyError(f"{cfg.dataset}/meta/stats.json lacks {OBS_STATE!r}: recompute statistics")
    eps = cfg.episodes if cfg.episodes is not None else list(range(reader.num_episodes))
    if cfg.grow_s > 0:  # start on the first grow_min_episodes, the feed decodes the rest in the
        eps = eps[: cfg.grow_min_episodes]  # background (a finished set loaded whole: minutes)
    t_load = time.time()
    instructions = sorted({reader.episode_task(e) for e in eps})
    arrays, shard = None, False
    if cfg.data_mode == "memory":
        # FAST is fitted on, and sizes the model's token budget from, every chunk: all ranks
        # must see the same chunks, so it loads the whole set
        reads_all_chunks = cfg.tokenizer != "binning"
        shard = 1 < info.world <= len(eps) and cfg.shard_data and not reads_all_chunks
        mine = eps[info.rank :: info.world] if shard else eps
        arrays = gr.load_retrying(lambda: load_episode_arrays(
            cfg.dataset, cfg.chunk_size, mine, cfg.decode_workers, instructions
        ), tries=5 if cfg.grow_s > 0 else 1)  # fmt: skip
    load_s = time.time() - t_load
    feed = None
    if cfg.grow_s > 0:
        feed = gr.EpisodeFeed(cfg.dataset, cfg.chunk_size, len(eps), instructions,
                              cfg.decode_workers, cfg.grow_s)  # fmt: skip
    return RunData(reader, stats, reader.camera_keys, eps, instructions, arrays, shard, load_s,
                   feed)  # fmt: skip


def make_learner(cfg: TrainConfig, model: torch.nn.Module, info: rt.DistInfo) -> Learner:
    """The DDP wrapper (world > 1), AdamW + schedule, EMA and the mixed-precision context."""
    dev = info.device
    ddp_model = model
    if info.world > 1:
        ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type == "cuda" else None
        )
    opt, sched = rt.make_optimizer(model, cfg, dev)
    ema = rt.make_ema(model, cfg.ema_decay)
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if dev.type == "cuda" and cfg.precision == "bf16"
        else nullcontext()
    )
    return Learner(model, ddp_model, opt, sched, ema, autocast)


def resume(cfg: TrainConfig, learner: Learner, resume_dir: Path, info: rt.DistInfo) -> int:
    """Restore the training state of ``resume_dir``; returns the step to go on from."""
    step = rt.load_training_state(resume_dir, learner.model, learner.opt, learner.sched,
                                  learner.ema)  # fmt: skip
    spent = learner.sched.progress >= 1.0 and cfg.max_minutes is not None and cfg.time_schedule
    if spent and step < cfg.steps and info.is_main:
        print(
            f"[train] warning: {resume_dir} finished its learning-rate schedule (progress "
            f"1.0, a spent time budget): steps {step}..{cfg.steps} will run at the floor lr "
            f"{cfg.lr * cfg.min_lr_ratio:.2g}. To train these weights on with a new "
            "schedule, start a fresh output_dir with --init_from=<its final/ folder>.",
            flush=True,
        )
    return step
