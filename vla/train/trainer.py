"""The training loop behind ``vla train`` (single process or under ``torchrun``)::

build_run (run.py): process, dataset, tokenizer + model, batches, input chain, validation,
                    DDP + AdamW + schedule + EMA, resume, log
loop:  [grow_s: take newly committed episodes] -> draw_batch (data.py) -> prepare_batch
       -> train_step (step.py: forward + loss, backward, clip, AdamW, EMA)
       every log_every: record (+ validation every val_every, time budget check)
       every save_every: checkpoints/step_N (Policy folder + training_state.pt)
end (steps reached or max_minutes spent): final/ (Policy folder) + a resumable checkpoint
"""

from __future__ import annotations

import time

import torch.distributed as dist

from vla.train import runtime as rt
from vla.train.config import TrainConfig
from vla.train.data import draw_batch
from vla.train.run import TrainRun, build_run
from vla.train.step import prepare_batch, shuffled_state_accuracy, train_step
from vla.train.step_log import step_record


def train(cfg: TrainConfig) -> dict:
    """Run training; returns a summary dict (final checkpoint path, losses, throughput)."""
    run = build_run(cfg)
    learner, info, use_state = run.learner, run.info, run.built.vcfg.use_state
    step = start_step = last_val = run.step
    stop = False
    learner.model.train()
    t0 = time.time()
    while step < cfg.steps and not stop:
        if run.data.feed is not None and step % cfg.log_every == 0:
            run.take_new_episodes()
        raw, g = draw_batch(run.batches, cfg, info.rank, step, info.device)
        batch, state_drop = prepare_batch(run.chain, raw, cfg, use_state, g)
        res, gnorm = train_step(learner, batch, raw, state_drop, step, cfg)
        step += 1
        run.log.bar.update(1)
        if step % cfg.log_every == 0 or step == cfg.steps:
            elapsed = time.time() - t0
            shuffled = shuffled_state_accuracy(
                learner.model, batch, raw, use_state, learner.autocast, res["accuracy"]
            )
            rec = step_record(
                cfg, info.world, res, shuffled, gnorm, learner.sched,
                step=step, start_step=start_step, elapsed=elapsed, samples=len(run.batches),
            )  # fmt: skip
            if run.val is not None and step - last_val >= cfg.val_every:
                rec.update(run.val(learner.shipped, learner.autocast))
                last_val = step
            run.log.write(rec)
            stop = rt.budget_spent(cfg, elapsed, info)
            if stop:  # the budget is spent: so is its schedule (what a resume continues)
                learner.sched.progress = 1.0
        if step % cfg.save_every == 0 and step < cfg.steps and not stop and info.is_main:
            run.checkpoint(step)
    return finish(run, step, start_step, stop, t0)


def finish(run: TrainRun, step: int, start_step: int, stop: bool, t0: float) -> dict:
    """Close the log and the feed, write final/ and a last resumable checkpoint, score the
    held-out set, report; returns the run's summary."""
    cfg, info, learner = run.cfg, run.info, run.learner
    run.log.close()
    elapsed = time.time() - t0
    feed = run.data.feed
    if feed is not None:
        feed.close()
        if info.is_main:
            print(f"[train] {feed.report(len(run.batches))}", flush=True)
    final = run.out_dir / "final"
    if info.is_main:
        run.save(final, step, with_state=False)
        # the last state also as a resumable checkpoint (a time-budgeted run continues from it)
        run.checkpoint(step)
    sps = (step - start_step) * cfg.batch_size * info.world / max(elapsed, 1e-9)
    final_val = run.val(learner.shipped, learner.autocast) if run.val is not None else None
    summary = {
        "final_checkpoint": str(final),
        "steps": step,
        "stopped_early": stop,
        "train_seconds": elapsed,
        "samples_per_s": sps,
        "trainable_params": run.built.n_params,
        "episodes": feed.taken if feed is not None else len(run.data.episodes),
        "history": run.log.history,
        "val": final_val,
        "is_main": info.is_main,  # rank 0 (or a single process) reports for the run
    }
    if info.is_main:
        print(f"[train] done: step {step}, {elapsed:.1f}s, {sps:.1f} samples/s -> {final}",
              flush=True)  # fmt: skip
        if final_val is not None:
            print(f"[train] {run.val.report(final_val)}", flush=True)
        unused = rt.budget_unused(cfg, stop, elapsed)
        if unused is not None:
            print(f"[train] note: stopped at steps={cfg.steps} with {unused:.1f} of "
                  f"{cfg.max_minutes} budgeted minutes unused; pass a larger --steps to "
                  "train for the whole --max_minutes", flush=True)  # fmt: skip
    if info.world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return summary
