"""The training loop behind ``vla train`` (single process or under ``torchrun``).

dataset --(memory: decode once, index-gather on device | loader: DataLoader workers)-->
raw batch --input_transforms(train=True: resize, to-float, GPU augmentation, normalise,
instruction states)--> VLAModel(..., targets) --CE loss--> AdamW (+warm-up/cosine, clip)
every save_every steps: checkpoints/step_N (Policy folder + training_state.pt)
end (steps reached or max_minutes spent): final/ (Policy folder)
grow_s > 0: episodes a running generator commits join the memory set between steps (growing.py)
the tokenizer, model and checkpoint metadata come from build.py, the log record from step_log.py
"""

from __future__ import annotations

import json
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.distributed as dist
import yaml

from vla.constants import OBS_STATE
from vla.data.episode_arrays import episode_chunks, load_episode_arrays
from vla.data.reader import LeRobotDatasetReader
from vla.policy.checkpoint import read_stats, save_policy
from vla.policy.transforms import (
    AugmentImages,
    EmbedInstruction,
    apply_transforms,
    input_transforms,
)
from vla.train import growing as gr
from vla.train import runtime as rt
from vla.train.build import build_model
from vla.train.components import (
    build_tokenizer,
    regularise_state,
    shuffled_state_accuracy,
)
from vla.train.config import TrainConfig
from vla.train.augment import drop_cameras
from vla.train.data import MemoryBatches, loader_batch
from vla.train.step_log import step_record
from vla.train.validation import Validation


def train(cfg: TrainConfig) -> dict:
    """Run training; returns a summary dict (final checkpoint path, losses, throughput)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    if cfg.torch_threads is not None:
        torch.set_num_threads(cfg.torch_threads)
    info = rt.setup_distributed(cfg.device)
    rt.seed_everything(cfg.seed)
    dev = info.device
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    out_dir = Path(cfg.output_dir)
    resume_dir = rt.find_resume(out_dir, cfg.resume)

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
    cams = reader.camera_keys
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

    b = build_model(cfg, reader, cams, stats, arrays, instructions, resume_dir, dev)
    tokenizer, model, vcfg, meta, n_params = b.tokenizer, b.model, b.vcfg, b.meta, b.n_params
    text_src, text_tf = b.text_src, b.text_tf
    mem_dev = dev if cfg.memory_device == "auto" else torch.device(cfg.memory_device)
    if arrays is not None:
        data = MemoryBatches(arrays, tokenizer, vcfg.max_action_tokens, vcfg.eos_id, mem_dev)
        text_tf = text_tf.with_table(data.instructions, dev)
        num_samples = len(data)
    else:
        from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

        from vla.data.torch_dataset import LeRobotTorchDataset

        ds = LeRobotTorchDataset(cfg.dataset, cfg.chunk_size, eps)
        sampler = (
            DistributedSampler(ds, info.world, info.rank, seed=cfg.seed)
            if info.world > 1
            else RandomSampler(ds, generator=torch.Generator().manual_seed(cfg.seed))
        )
        loader = DataLoader(
            ds, cfg.batch_size, sampler=sampler, num_workers=cfg.num_workers,
            pin_memory=dev.type == "cuda", drop_last=True, persistent_workers=cfg.num_workers > 0,
        )  # fmt: skip
        num_samples = len(ds)
    augment = AugmentImages(cfg.max_shift, cfg.brightness, cfg.contrast) if cfg.augment else None

    def make_chain(text: EmbedInstruction) -> list:
        return input_transforms(
            cams, vcfg.image_size, stats, text, cfg.state_norm_mode, train=True, augment=augment
        )

    chain = make_chain(text_tf)
    val = None
    if cfg.val_dataset and info.is_main:
        val = Validation(cfg.val_dataset, cfg.val_samples, cfg=cfg, tokenizer=tokenizer,
                         vcfg=vcfg, stats=stats, cams=cams, text_src=text_src, text_tf=text_tf,
                         device=dev)  # fmt: skip

    ddp_model = model
    if info.world > 1:
        ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type == "cuda" else None
        )
    opt, sched = rt.make_optimizer(model, cfg, dev)
    ema = rt.make_ema(model, cfg.ema_decay)
    shipped = model if ema is None else ema.module  # the weights checkpoints and validation get
    step = 0
    if resume_dir is not None:
        step = rt.load_training_state(resume_dir, model, opt, sched, ema)
        spent = sched.progress >= 1.0 and cfg.max_minutes is not None and cfg.time_schedule
        if spent and step < cfg.steps and info.is_main:
            print(
                f"[train] warning: {resume_dir} finished its learning-rate schedule (progress "
                f"1.0, a spent time budget): steps {step}..{cfg.steps} will run at the floor lr "
                f"{cfg.lr * cfg.min_lr_ratio:.2g}. To train these weights on with a new "
                "schedule, start a fresh output_dir with --init_from=<its final/ folder>.",
                flush=True,
            )

    def save(directory: Path, with_state: bool) -> None:
        save_policy(
            directory, shipped, tokenizer, stats, meta, text_src, instructions, cfg.save_dtype
        )
        (directory / "train_config.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
        if with_state:
            rt.save_training_state(directory, model, opt, sched, step, ema)

    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if dev.type == "cuda" and cfg.precision == "bf16"
        else nullcontext()
    )
    log_path = out_dir / "train_log.jsonl"
    writer = None
    if info.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        print(
            f"[train] {num_samples} samples ({len(eps)} episodes"
            f"{', this rank: 1/' + str(info.world) if shard else ''}, loaded in {load_s:.1f}s), "
            f"{n_params / 1e6:.2f}M trainable params, world={info.world}, device={dev}, "
            f"start step {step}/{cfg.steps}",
            flush=True,
        )
        try:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(out_dir / "tb"))
        except ImportError:
            writer = None
    from tqdm import tqdm

    bar = tqdm(total=cfg.steps, initial=step, disable=not (info.is_main and cfg.progress))
    model.train()
    t0 = time.time()
    start_step, epoch, it = step, 0, None
    last_val = step
    history: list[dict] = []
    stop = False
    while step < cfg.steps and not stop:
        if feed is not None and step % cfg.log_every == 0:
            for more in feed.take():  # episodes committed since: train on them from now on
                if len(more.instructions) > len(instructions):
                    instructions = list(more.instructions)
                    text_tf = gr.extend_text(text_src, text_tf, instructions, dev)
                    chain = make_chain(text_tf)
                data.extend(more)
                num_samples = len(data)
        g = rt.batch_generator(cfg.seed, info.rank, step)
        if arrays is not None:
            idx = torch.randint(num_samples, (cfg.batch_size,), generator=g)
            raw = data.batch(idx, dev)
        else:
            if it is None:
                if hasattr(sampler, "set_epoch"):
                    sampler.set_epoch(epoch)
                it = iter(loader)
            try:
                raw = loader_batch(next(it), tokenizer, vcfg.max_action_tokens, vcfg.eos_id,
                                   cams, dev)  # fmt: skip
            except StopIteration:
                it, epoch = None, epoch + 1
                continue
        raw["aug_rand"] = torch.rand(cfg.batch_size, 4, generator=g)
        batch = apply_transforms(chain, raw)
        drop_cameras(batch, cfg.camera_dropout, g)
        state_drop = regularise_state(batch, cfg, vcfg.use_state, g)
        sched.update(step)
        with autocast:
            res = ddp_model(
                batch["images"], batch[OBS_STATE], batch["text"], batch["text_mask"],
                raw["targets"], raw["target_mask"], state_drop, label_sigma=cfg.label_sigma,
            )  # fmt: skip
        res["loss"].backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if ema is not None:
            ema.update_parameters(model)
        step += 1
        bar.update(1)
        if step % cfg.log_every == 0 or step == cfg.steps:
            elapsed = time.time() - t0
            shuffled = shuffled_state_accuracy(
                model, batch, raw, vcfg.use_state, autocast, res["accuracy"]
            )
            rec = step_record(
                cfg, info.world, res, shuffled, gnorm, sched,
                step=step, start_step=start_step, elapsed=elapsed, samples=num_samples,
            )  # fmt: skip
            if val is not None and step - last_val >= cfg.val_every:
                rec.update(val(shipped, autocast))
                last_val = step
            history.append(rec)
            if info.is_main:
                with log_path.open("a") as f:
                    f.write(json.dumps(rec) + "\n")
                if writer is not None:
                    for k, v in rec.items():
                        writer.add_scalar(f"train/{k}", v, step)
                bar.set_postfix(loss=f"{rec['loss']:.3f}", acc=f"{rec['accuracy']:.2f}",
                                sps=f"{rec['samples_per_s']:.0f}")  # fmt: skip
            if cfg.max_minutes is not None:
                flag = torch.tensor(float(elapsed > cfg.max_minutes * 60), device=dev)
                if info.world > 1:
                    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                stop = bool(flag.item())
                if stop:  # the budget is spent: so is its schedule (what a resume continues)
                    sched.progress = 1.0
        if step % cfg.save_every == 0 and step < cfg.steps and not stop and info.is_main:
            save(out_dir / "checkpoints" / f"step_{step:07d}", with_state=True)
            rt.prune_checkpoints(out_dir, cfg.keep_checkpoints)
    bar.close()
    elapsed = time.time() - t0
    if feed is not None:
        feed.close()
        if info.is_main:
            print(f"[train] {feed.report(num_samples)}", flush=True)
    final = out_dir / "final"
    if info.is_main:
        save(final, with_state=False)
        # the last state also as a resumable checkpoint (a time-budgeted run continues from it)
        save(out_dir / "checkpoints" / f"step_{step:07d}", with_state=True)
        rt.prune_checkpoints(out_dir, cfg.keep_checkpoints)
        if writer is not None:
            writer.close()
    sps = (step - start_step) * cfg.batch_size * info.world / max(elapsed, 1e-9)
    final_val = val(shipped, autocast) if val is not None else None
    summary = {
        "final_checkpoint": str(final),
        "steps": step,
        "stopped_early": stop,
        "train_seconds": elapsed,
        "samples_per_s": sps,
        "trainable_params": n_params,
        "episodes": feed.taken if feed is not None else len(eps),
        "history": history,
        "val": final_val,
        "is_main": info.is_main,  # rank 0 (or a single process) reports for the run
    }
    if info.is_main:
        print(f"[train] done: step {step}, {elapsed:.1f}s, {sps:.1f} samples/s -> {final}",
              flush=True)  # fmt: skip
        if final_val is not None:
            print(f"[train] {val.report(final_val)}", flush=True)
        unused = rt.budget_unused(cfg, stop, elapsed)
        if unused is not None:
            print(f"[train] note: stopped at steps={cfg.steps} with {unused:.1f} of "
                  f"{cfg.max_minutes} budgeted minutes unused; pass a larger --steps to "
                  "train for the whole --max_minutes", flush=True)  # fmt: skip
    if info.world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return summary


__all__ = ["build_tokenizer", "episode_chunks", "train"]
