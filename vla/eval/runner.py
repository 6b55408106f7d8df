"""Parallel closed-loop evaluation of a policy (or the scripted expert) in simulation.

    jobs: (split, family, episode e) -> seed = SeedSequence([S, split, family, e])   [parent]
      -> vla.rollout.pool.run_jobs (spawn, completion order; initializer loads the
         checkpoint ONCE per worker)
         worker: env = sim.make(family, backend, seed, image_size, split)  (cached per worker)
                 agent = Policy | sim.experts.make_expert(env)
                 vla.rollout.run_episode(env, agent, seed, record) -> success, length, frames
                 video quota left for (split, family, outcome)? -> DIR/<split>_<family>_...mp4
      -> EpisodeResult (ordered by job) -> vla.eval.report (JSON, table, chart)

Results depend on (checkpoint, suite, families, backend, S, N, splits), never on the number of
workers: each episode has its own seed. Which episodes get a video can depend on timing (the
first ones to finish take the quota of their (split, family, outcome)).

With perturbations (``--perturb``, sim/perturb.py) the jobs are (condition, split, family, e) for
the baseline (condition None) and every perturbation, all in the same pool; the seed does not
depend on the condition, so each perturbed episode pairs with the baseline episode of its seed.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vla.eval import sim_adapter
from vla.eval.agents import EXPERT, AgentSource, checkpoint_image_size
from vla.rollout.episode import EpisodeResult
from vla.rollout.jobs import BACKENDS, SPLITS
from vla.rollout.jobs import eval_seed as episode_seed
from vla.rollout.pool import run_jobs

if TYPE_CHECKING:
    from sim.perturb import Perturbation


@dataclass(frozen=True)
class EvalConfig:
    """One evaluation run (validated on creation)."""

    checkpoint: str  # a checkpoint folder, or "expert"
    suite: str = "pick_place"
    families: tuple[str, ...] | None = None  # None: every family of the suite
    backend: str = "mujoco"
    episodes_per_task: int = 10
    seed: int = 0
    splits: tuple[str, ...] = ("train",)
    workers: int = 1  # 0: run in this process
    video_dir: Path | None = None
    videos_per_outcome: int = 2  # per (split, family): this many successes and failures
    device: str = "cpu"
    image_size: tuple[int, int] | None = None  # None: the checkpoint's (expert: the default)
    max_steps: int | None = None  # None: the task's own horizon
    execution_horizon: int | None = None  # actions run per chunk; None: the checkpoint's
    temporal_ensemble: bool = False  # ACT-style ensembling of overlapping chunks
    text_cache: str | None = None  # precomputed MiniLM states (machines without MiniLM)
    progress: bool = True
    # sim.perturb.Perturbation each run on the baseline's seeds; () = the baseline only
    perturbations: tuple[Perturbation, ...] = ()

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        bad = [s for s in self.splits if s not in SPLITS]
        if bad or not self.splits:
            raise ValueError(f"splits must be a non-empty subset of {SPLITS}, got {self.splits}")
        if self.episodes_per_task < 1:
            raise ValueError(f"episodes_per_task must be >= 1, got {self.episodes_per_task}")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0 (0 = in this process), got {self.workers}")
        if self.videos_per_outcome < 0:
            raise ValueError(f"videos_per_outcome must be >= 0, got {self.videos_per_outcome}")
        if self.execution_horizon is not None and self.execution_horizon < 1:
            raise ValueError(f"execution_horizon must be >= 1, got {self.execution_horizon}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        labels = [p.label for p in self.perturbations]
        if len(set(labels)) != len(labels):
            raise ValueError(f"perturbations must be distinct, got {labels}")
        other_suite = [p.label for p in self.perturbations if not p.spec.any_suite]
        if other_suite and self.suite != "pick_place":
            raise ValueError(f"perturbations {other_suite} need the pick_place suite (scene "
                             f"variation, its instruction templates, its 7-d actions); with "
                             f"--suite {self.suite} use drop_wrist, drop_scene or state_noise")  # fmt: skip

    def perturbation(self, label: str | None) -> Perturbation | None:
        """The perturbation a job's label names (None: the baseline)."""
        return None if label is None else {p.label: p for p in self.perturbations}[label]


@dataclass(frozen=True)
class EvalJob:
    """One episode: everything a worker needs (picklable)."""

    index: int
    split: str
    family: str
    episode: int
    seed: int
    perturbation: str | None = None  # a Perturbation label; None: the unperturbed baseline


def make_jobs(cfg: EvalConfig, families: list[str]) -> list[EvalJob]:
    """The baseline's episodes, then each perturbation's on the same seeds."""
    jobs = []
    for label in [None, *(p.label for p in cfg.perturbations)]:
        for split in cfg.splits:
            for family in families:
                for e in range(cfg.episodes_per_task):
                    seed = episode_seed(cfg.seed, split, family, e)
                    jobs.append(EvalJob(len(jobs), split, family, e, seed, label))
    return jobs


# ---- worker side ------------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def init_worker(cfg: EvalConfig, image_size: tuple[int, int], quota: Any, slots: list,
                in_worker: bool = True) -> None:  # fmt: skip
    """Process initializer: load the checkpoint once; in a worker process, one torch thread
    (W workers share the cores; on the shared 2-core box a tiny policy took 147 ms per chunk
    with default torch threads vs 3.7 ms with one)."""
    if in_worker and cfg.checkpoint != EXPERT:  # the expert needs no torch
        import torch

        torch.set_num_threads(1)
    _WORKER.clear()
    _WORKER.update(cfg=cfg, image_size=image_size, quota=quota, slots=slots, envs={},
                   source=AgentSource(cfg.checkpoint, cfg.device, cfg.execution_horizon,
                                      cfg.temporal_ensemble, cfg.text_cache))  # fmt: skip


def _take_video_slot(key: tuple) -> bool:
    quota, slots, cfg = _WORKER["quota"], _WORKER["slots"], _WORKER["cfg"]
    if cfg.video_dir is None or key not in slots:
        return False
    i = slots.index(key)
    with quota.get_lock():
        if quota[i] >= cfg.videos_per_outcome:
            return False
        quota[i] += 1
        return True


def run_job(job: EvalJob) -> EpisodeResult:
    """Run one evaluation episode in this (initialised) worker."""
    cfg: EvalConfig = _WORKER["cfg"]
    source: AgentSource = _WORKER["source"]
    t0 = time.perf_counter()
    perturbation = cfg.perturbation(job.perturbation)
    env = _env_for(job, perturbation)
    record = cfg.video_dir is not None and cfg.videos_per_outcome > 0
    result = sim_adapter.run_episode(env, source.agent_for(env), job.seed, record=record)
    outcome = sim_adapter.episode_outcome(env, bool(result.success))
    video = None
    slot = (job.split, job.family, result.success)
    if job.perturbation is not None:  # a perturbation's videos: its own quota and folder
        slot = (job.perturbation, *slot)
    if record and result.frames and _take_video_slot(slot):
        # failures carry their outcome where the suite has one: ..._failure_wrong_goal.mp4
        tag = "success" if result.success else "_".join(["failure", *filter(None, [outcome])])
        folder = Path(cfg.video_dir) / (job.perturbation or "")
        path = folder / f"{job.split}_{job.family}_ep{job.episode:03d}_{tag}.mp4"
        video = str(sim_adapter.write_video(path, result.frames, sim_adapter.control_hz(env)))
    # only the outcome travels back to the parent, not the recorded frames
    return EpisodeResult(job.seed, job.family, str(result.instruction), bool(result.success),
                         int(result.length), split=job.split, perturbation=job.perturbation,
                         outcome=outcome, duration_s=time.perf_counter() - t0,
                         video=video)  # fmt: skip


MAX_VARIED_ENVS = 4  # per worker: simulators with a scene variation kept open (LRU)


def _env_for(job: EvalJob, perturbation: Perturbation | None) -> Any:
    """The worker's environment for a job: one simulator per (family, split) as always, one per
    (family, split, scene variation) with the least recently used closed past MAX_VARIED_ENVS;
    a wrapper perturbation wraps the unperturbed simulator afresh."""
    cfg: EvalConfig = _WORKER["cfg"]
    variation = perturbation.variation() if perturbation is not None else None
    envs: dict = _WORKER["envs"] if variation is None else _WORKER.setdefault("varied", {})
    key = (job.family, job.split) if variation is None else (job.family, job.split,
                                                             perturbation.label)  # fmt: skip
    env = envs.pop(key, None)
    if env is None:
        env = sim_adapter.make_env(cfg.suite, job.family, cfg.backend, job.split, job.seed,
                                   _WORKER["image_size"], cfg.max_steps,
                                   **({"variation": variation} if variation else {}))  # fmt: skip
        _WORKER["source"].check_compatible(sim_adapter.env_interface(env))
    envs[key] = env  # most recently used last
    while variation is not None and len(envs) > MAX_VARIED_ENVS:
        envs.pop(next(iter(envs))).close()
    return env if perturbation is None else perturbation.wrap(env)


# ---- parent side ------------------------------------------------------------------------------
def resolve_image_size(cfg: EvalConfig) -> tuple[int, int]:
    """The render size: the checkpoint's unless asked otherwise, and then it must match."""
    ckpt_size = checkpoint_image_size(cfg.checkpoint)
    image_size = tuple(cfg.image_size or ckpt_size or sim_adapter.default_image_size())
    if ckpt_size is not None and image_size != tuple(ckpt_size):
        raise ValueError(
            f"image size mismatch: the checkpoint expects {ckpt_size} (H, W), the environment "
            f"was asked to render {image_size}: drop --image-size or pass {ckpt_size}"
        )
    return image_size  # type: ignore[return-value]


def _results(cfg: EvalConfig, jobs: list[EvalJob], initargs: tuple) -> Iterator[EpisodeResult]:
    if cfg.workers == 0:
        init_worker(*initargs, in_worker=False)
        for job in jobs:
            yield run_job(job)
        return
    # completion order: the progress bar never stalls
    yield from run_jobs(jobs, run_job, cfg.workers, initializer=init_worker, initargs=initargs,
                        order="completion")  # fmt: skip


def evaluate(
    cfg: EvalConfig, on_result: Callable[[EpisodeResult], None] | None = None
) -> tuple[list[EpisodeResult], dict[str, Any]]:
    """Run every episode of ``cfg``; return the results (job order) and timing.

    ``on_result`` sees each result as it completes (completion order).
    """
    image_size = resolve_image_size(cfg)
    families = list(cfg.families) if cfg.families else sim_adapter.suite_families(cfg.suite)
    unknown = sorted(set(families) - set(sim_adapter.suite_families(cfg.suite)))
    if unknown:
        raise ValueError(
            f"unknown task families {unknown} for suite {cfg.suite!r}; "
            f"known: {sim_adapter.suite_families(cfg.suite)}"
        )
    if cfg.video_dir is not None:
        Path(cfg.video_dir).mkdir(parents=True, exist_ok=True)
    if cfg.checkpoint != EXPERT:  # damaged weights: one line here, not a broken worker pool
        from vla.policy.checkpoint import check_weights_file

        check_weights_file(cfg.checkpoint)
    jobs = make_jobs(cfg, families)
    slots = [(s, f, ok) for s in cfg.splits for f in families for ok in (True, False)]
    slots += [(p.label, *slot) for p in cfg.perturbations for slot in slots]
    quota = mp.get_context("spawn").Array("i", len(slots))
    initargs = (cfg, image_size, quota, slots)
    bar = None
    if cfg.progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), desc=f"eval {cfg.suite}/{cfg.backend}", unit="ep",
                   dynamic_ncols=True)  # fmt: skip
    t0 = time.perf_counter()
    results: list[EpisodeResult] = []
    try:
        for result in _results(cfg, jobs, initargs):
            results.append(result)
            if on_result is not None:
                on_result(result)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(success=f"{sum(r.success for r in results)}/{len(results)}")
    finally:
        if bar is not None:
            bar.close()
    wall = time.perf_counter() - t0
    order = {(j.perturbation, j.split, j.family, j.seed): j.index for j in jobs}
    # job order, whatever W is
    results.sort(key=lambda r: order[(r.perturbation, r.split, r.family, r.seed)])
    timing = {
        "wall_s": wall,
        "episodes_per_s": len(results) / wall if wall > 0 else 0.0,
        "workers": cfg.workers,
        "mean_episode_s": float(np.mean([r.duration_s for r in results])) if results else 0.0,
    }
    return results, timing


def run_info(cfg: EvalConfig, image_size: tuple[int, int] | None = None) -> dict[str, Any]:
    """The run description stored at the top of the JSON report."""
    split = cfg.splits[0] if len(cfg.splits) == 1 else "both"
    info = asdict(cfg)
    return {
        "checkpoint": cfg.checkpoint, "suite": cfg.suite, "backend": cfg.backend,
        "seed": cfg.seed, "split": split, "episodes_per_task": cfg.episodes_per_task,
        "families": list(cfg.families) if cfg.families else None,
        "image_size": list(image_size) if image_size else info["image_size"],
        "max_steps": cfg.max_steps, "execution_horizon": cfg.execution_horizon,
        "temporal_ensemble": cfg.temporal_ensemble,
        "device": cfg.device,
    }  # fmt: skip
