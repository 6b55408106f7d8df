"""Parallel demonstration generation: scripted experts in worker processes -> one dataset.

::

    attempt i (0..N-1) --(seed from (S, i), family i mod F)--> worker pool (spawn, W procs)
        worker: env = sim.make(family, ...) (cached per process); expert rollout -> frames
                (--learner: DAgger, the policy drives some blocks, vla.rollout.learner)
    parent: results re-ordered by i -> successful ones (DAgger: all) -> DatasetWriter (episode
            order = i order) -> meta/vla_generation.json (attempted prefix, failures) for resume

The dataset depends only on (suite, families, backend, S, N, image size, split), never on W:
every attempt has its own seed and the parent writes in attempt order. Resuming skips the
attempted prefix recorded in ``meta/vla_generation.json``; a crash between an episode's save
and its record is reconciled from the dataset's episode count (the record marks the attempt
"pending" before saving).

Workers simulate, render, encode both cameras to MP4 bytes and compute the episode statistics
(``rollout_and_prepare``); the parent only assigns indices and writes the files
(``DatasetWriter.save_prepared``: data parquet + MP4s + fsyncs, batched table commits), so
the single parent does not cap the worker count: ``--workers`` should be the number of cores.
"""

from __future__ import annotations

import difflib
import functools
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vla.constants import ACTION, DEFAULT_IMAGE_SIZE, IMAGE_KEYS, OBS_STATE, TASK
from vla.data.episode_prep import EpisodeSpec, prepare_episode
from vla.data.generation_record import RECORD, commit, load_record, new_batch, settle_pending
from vla.data.layout import atomic_write_json, default_features
from vla.data.writer import DatasetWriter
from vla.rollout.episode import EpisodeResult, run_episode
from vla.rollout.jobs import BACKENDS
from vla.rollout.jobs import attempt_seed as episode_seed
from vla.rollout.learner import LearnerSpec, check_learner, dagger_rollout
from vla.rollout.pool import run_jobs


@dataclass(frozen=True)
class GenerateConfig:
    """What to generate. ``families`` None means every family of the suite (round-robin)."""

    out: Path
    suite: str = "pick_place"
    backend: str = "mujoco"
    episodes: int = 10
    workers: int = 1
    seed: int = 0
    families: tuple[str, ...] | None = None
    split: str = "train"
    image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE
    fps: float | None = None  # None: the suite's control rate (sim.tasks.SUITE_FORMATS)
    max_steps: int | None = None  # cap on an attempt's steps (None: the task's own limit)
    # DART noise injection: each attempt executes the expert's action plus Gaussian noise of
    # u * action_noise x the per-step limit (u ~ U(0, 1) per attempt, from its seed) and records
    # the clean action; 0 = the plain expert. See vla.rollout.episode.perturb.
    action_noise: float = 0.0
    # Scene variation (domain randomisation) of every attempt: sim.EnvConfig.randomize (0 = off,
    # 1 = the training range), drawn from the attempt's seed on its own stream.
    randomize: float = 0.0
    # Share of attempts that get a variation (the rest render the default scene), drawn per
    # attempt from its seed: a mixed dataset keeps the plain scene in the training distribution.
    randomize_fraction: float = 1.0
    # Stop starting attempts after this many minutes (None: run all ``episodes``); a later run
    # with the same settings resumes where this one stopped.
    max_minutes: float | None = None
    # DAgger: a policy drives an ``expert_prob``-complement of the control blocks, the expert
    # labels every state; failed attempts are kept (their labels are still the expert's).
    learner: LearnerSpec | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.episodes < 1:
            raise ValueError(f"episodes must be >= 1, got {self.episodes}")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0 (0 = in this process), got {self.workers}")
        fmt = _suite_format(self.suite)
        if self.fps is None:  # pick_place: 10 Hz; mt50 (Meta-World): 80 Hz
            object.__setattr__(self, "fps", fmt.control_hz)
        if self.action_noise > 0 and fmt.action_space != "eef_delta":
            raise ValueError(f"action_noise perturbs the Panda's 7-D eef_delta actions; suite "
                             f"{self.suite!r} acts in {fmt.action_space!r}: leave it at 0")  # fmt: skip
        if not 0.0 <= self.action_noise <= 1.0:
            raise ValueError(
                f"action_noise is a fraction of the per-step action limit: use 0..1 (e.g. 0.3), "
                f"got {self.action_noise}"
            )
        if not 0.0 <= self.randomize <= 2.0:
            raise ValueError(f"randomize is the scene-variation strength: use 0..2 (1 = the "
                             f"training range), got {self.randomize}")  # fmt: skip
        if not 0.0 <= self.randomize_fraction <= 1.0:
            raise ValueError(f"randomize_fraction is the share of randomised attempts: use 0..1, "
                             f"got {self.randomize_fraction}")  # fmt: skip
        if self.learner is not None:
            check_learner(self.learner, self.suite, self.image_size, self.fps)

    def identity(self) -> dict[str, Any]:
        """The settings a resumed run must share with the first run."""
        return {
            "suite": self.suite, "backend": self.backend, "seed": self.seed,
            "families": list(self.families) if self.families else None, "split": self.split,
            "image_size": list(self.image_size), "fps": self.fps, "max_steps": self.max_steps,
            "action_noise": self.action_noise, "randomize": self.randomize,
            "learner": self.learner.identity() if self.learner else None,
        } | ({} if self.randomize_fraction == 1.0  # datasets made before the option still resume
             else {"randomize_fraction": self.randomize_fraction})  # fmt: skip


@dataclass(frozen=True)
class EpisodeJob:
    """One attempt: everything a worker needs, picklable."""

    index: int
    seed: int
    family: str
    suite: str
    backend: str
    split: str
    image_size: tuple[int, int]
    base_seed: int = 0  # builds the env: the same in every worker, whatever job comes first
    max_steps: int | None = None
    action_noise: float = 0.0  # this attempt's noise scale (already drawn per attempt)
    learner: LearnerSpec | None = None  # DAgger: the policy that drives some blocks
    randomize: float = 0.0  # scene variation strength (sim.EnvConfig.randomize)


def rollout_and_prepare(
    rollout: Callable[[EpisodeJob], EpisodeResult], spec: EpisodeSpec, job: EpisodeJob
) -> EpisodeResult:
    """Worker side of an attempt: simulate, then (successes, and every attempt of a DAgger run)
    encode both cameras to MP4 bytes and compute the episode statistics (``prepare_episode``).
    The raw frames are dropped, so only the compact prepared episode travels back to the parent;
    an attempt that comes back prepared is saved."""
    result = rollout(job)
    t0 = time.perf_counter()
    if result.success or job.learner is not None:
        result.prepared = prepare_episode(spec, result.arrays, result.instruction)
    result.prepare_s = time.perf_counter() - t0
    result.arrays = {}
    return result


def make_jobs(cfg: GenerateConfig, families: list[str], start: int) -> list[EpisodeJob]:
    return [
        EpisodeJob(
            i,
            episode_seed(cfg.seed, i),
            families[i % len(families)],
            cfg.suite,
            cfg.backend,
            cfg.split,
            tuple(cfg.image_size),
            base_seed=cfg.seed,
            max_steps=cfg.max_steps,
            action_noise=attempt_noise(cfg.action_noise, episode_seed(cfg.seed, i)),
            learner=cfg.learner,
            randomize=attempt_randomize(
                cfg.randomize, cfg.randomize_fraction, episode_seed(cfg.seed, i)
            ),
        )
        for i in range(start, cfg.episodes)
    ]


def attempt_noise(action_noise: float, seed: int) -> float:
    """One attempt's noise scale: ``action_noise`` x u, u ~ U(0, 1) drawn from the attempt's
    seed, so a dataset mixes clean and perturbed demonstrations and a resume redraws the same."""
    if action_noise <= 0:
        return 0.0
    return float(action_noise * np.random.default_rng([seed, 0xDA27]).random())


def attempt_randomize(randomize: float, fraction: float, seed: int) -> float:
    """One attempt's variation strength: ``randomize`` for a ``fraction`` of attempts (drawn
    from the attempt's seed, so a resume redraws the same), 0 (the default scene) for the rest."""
    if randomize <= 0 or fraction >= 1.0:
        return randomize
    return randomize if np.random.default_rng([seed, 0x5CE4F]).random() < fraction else 0.0


# ---- the simulator rollout (runs in workers) -------------------------------------------------
_ENVS: dict[tuple, Any] = {}  # per worker process: one env per (family, backend, size, split)


def sim_families(suite: str) -> list[str]:
    """Task families of a suite from ``sim.tasks.SUITES``."""
    from sim.tasks import SUITES

    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; suites: {sorted(SUITES)}")
    return list(SUITES[suite])


def sim_rollout(job: EpisodeJob) -> EpisodeResult:
    """Run the scripted expert (with ``job.learner``: DAgger) for one attempt in the simulator."""
    import sim
    from sim.experts import make_expert

    t0 = time.perf_counter()
    key = (job.family, job.backend, job.suite, job.image_size, job.split, job.base_seed,
           job.max_steps, job.randomize)  # fmt: skip
    env, built = _ENVS.get(key), 0.0
    if env is None:  # reset(seed=job.seed) below decides the episode; construction does not
        env = sim.make(job.family, job.backend, suite=job.suite, seed=job.base_seed,
                       image_size=job.image_size, split=job.split, max_steps=job.max_steps,
                       randomize=job.randomize)  # fmt: skip
        _ENVS[key] = env
        built = time.perf_counter() - t0
    expert, learner_steps = make_expert(env), 0
    if job.learner is None:
        result = run_episode(env, expert, job.seed, record=True, action_noise=job.action_noise)
    else:
        result, driver = dagger_rollout(env, expert, job.learner, job.seed, job.action_noise)
        learner_steps = driver.learner_steps
    out = result_from_rollout(job.index, result, time.perf_counter() - t0)
    out.env_build_s, out.learner_steps = built, learner_steps
    return out


def did_you_mean(name: str, known) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known``, or an empty string."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_sim_request(cfg: GenerateConfig) -> None:
    """Task families and split must exist in the suite; errors name the valid ones."""
    from sim.tasks import SPLITS

    known = sim_families(cfg.suite)
    for family in cfg.families or ():
        if family not in known:
            raise ValueError(f"unknown task {family!r}{did_you_mean(family, known)} in suite "
                             f"{cfg.suite!r}; tasks: {known}")  # fmt: skip
    if cfg.split not in SPLITS:
        raise ValueError(
            f"unknown split {cfg.split!r}{did_you_mean(cfg.split, SPLITS)}; splits: {list(SPLITS)}"
        )


def result_from_rollout(index: int, result: Any, seconds: float) -> EpisodeResult:
    """A generation result from ``vla.rollout.run_episode``'s (or a dict with its fields):
    observations and actions stacked per key into ``arrays``."""

    def get(name: str):
        return result[name] if isinstance(result, dict) else getattr(result, name)

    observations, actions = get("observations"), get("actions")
    n = len(actions)
    if isinstance(observations, dict):  # already stacked per key
        obs = {k: np.asarray(v)[:n] for k, v in observations.items()}
    else:  # a list of per-step dicts (may hold the final observation too)
        obs = {k: np.stack([o[k] for o in observations[:n]]) for k in observations[0]}
    task = obs.pop(TASK, None)
    instruction = get("instruction") if _has(result, "instruction") else None
    if instruction is None:
        instruction = str(task[0]) if task is not None else None
    if not instruction:
        raise ValueError("rollout result carries no instruction ('task' key or .instruction)")
    frames = {k: obs[k] for k in (*IMAGE_KEYS, OBS_STATE) if k in obs}
    frames[ACTION] = np.asarray(actions, dtype=np.float32)
    seed, family = (get(k) if _has(result, k) else d for k, d in (("seed", 0), ("family", "")))
    return EpisodeResult(int(seed), str(family), str(instruction), bool(get("success")), n,
                         duration_s=seconds, index=index, arrays=frames)  # fmt: skip


def _has(result: Any, name: str) -> bool:
    return name in result if isinstance(result, dict) else hasattr(result, name)


# ---- the parent: order, write, record ---------------------------------------------------------
def _suite_format(suite: str):
    from sim.tasks import suite_format

    return suite_format(suite)


def dataset_features(cfg: GenerateConfig) -> dict:
    """Declared features: both cameras at ``cfg.image_size``, the suite's state and action."""
    fmt = _suite_format(cfg.suite)
    feats = default_features(tuple(cfg.image_size), cfg.fps, len(fmt.state_names),
                             len(fmt.action_names), IMAGE_KEYS)  # fmt: skip
    feats[OBS_STATE]["names"] = list(fmt.state_names)
    feats[ACTION]["names"] = list(fmt.action_names)
    return feats


def generate(
    cfg: GenerateConfig,
    rollout: Callable[[EpisodeJob], EpisodeResult] = sim_rollout,
    families: list[str] | None = None,
) -> dict[str, Any]:
    """Generate (or resume generating) ``cfg.episodes`` attempts into ``cfg.out``.

    ``rollout`` must be a module-level function (it is sent to spawned workers); ``families``
    defaults to the suite's families (filtered by ``cfg.families``). Returns a summary.
    """
    out = Path(cfg.out)
    fams = list(cfg.families) if cfg.families else families or sim_families(cfg.suite)
    if rollout is sim_rollout:
        check_sim_request(cfg)  # before anything is written: a typo leaves no folder behind
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} is a file: pass a dataset folder (new or existing)")
    record = load_record(out, cfg.identity())
    if (out / "meta/info.json").exists():
        writer = DatasetWriter.resume(out, commit_every=COMMIT_EVERY, consolidate_every=0)
    else:
        writer = DatasetWriter(
            out,
            cfg.fps,
            dataset_features(cfg),
            _suite_format(cfg.suite).robot_type,
            commit_every=COMMIT_EVERY,
            consolidate_every=0,
        )
    settle_pending(record, writer.num_episodes)
    atomic_write_json(out / RECORD, record)  # a run that dies in its first batch still resumes
    jobs = make_jobs(cfg, fams, record["next_index"])
    t0, new_ok, new_total = time.perf_counter(), 0, 0
    # where the time goes, summed over attempts (workers) and in the parent: tells a run bound
    # by env construction, simulation + rendering, encoding or the parent's writes apart
    spent = {"env_build_s": 0.0, "rollout_s": 0.0, "encode_stats_s": 0.0, "parent_write_s": 0.0}
    env_builds = 0
    batch = new_batch(record["next_index"])
    steps = learner_steps = 0
    bar = _progress(cfg, len(jobs), record)
    work = functools.partial(rollout_and_prepare, rollout, writer.episode_spec())
    try:
        for result in run_jobs(jobs, work, cfg.workers):
            new_total += 1
            spent["env_build_s"] += result.env_build_s
            spent["rollout_s"] += result.duration_s - result.env_build_s
            spent["encode_stats_s"] += result.prepare_s
            env_builds += result.env_build_s > 0
            tw = time.perf_counter()
            steps, learner_steps = steps + result.length, learner_steps + result.learner_steps
            if result.prepared is not None:  # successes; with a learner, failures too
                writer.save_prepared(result.prepared)  # the parent only writes files
            if result.success:
                batch["successes"].append(result.index)
                new_ok += 1
            else:  # kept failures are failures too: the success rate counts them
                batch["failures"].append(result.index)
                if result.prepared is not None:
                    batch["kept_failures"].append(result.index)
            batch["next_index"] = result.index + 1
            if new_total % COMMIT_EVERY == 0:
                batch = commit(out, record, writer, batch)
            spent["parent_write_s"] += time.perf_counter() - tw
            if bar is not None:
                bar.update(1)
                bar.set_postfix(success=f"{new_ok}/{new_total}")
            if cfg.max_minutes is not None and time.perf_counter() - t0 > 60 * cfg.max_minutes:
                break  # the time budget is spent: commit what we have; resume continues
        batch = commit(out, record, writer, batch)
    finally:
        if bar is not None:
            bar.close()
    writer.finalize()
    atomic_write_json(out / RECORD, record)
    seconds = time.perf_counter() - t0
    attempted = len(record["successes"]) + len(record["failures"])
    return {
        "attempted": attempted,
        "succeeded": len(record["successes"]),
        "success_rate": len(record["successes"]) / attempted if attempted else 0.0,
        "new_attempts": new_total,
        "new_successes": new_ok,
        "kept_failures": len(record.get("kept_failures", [])),
        # DAgger: the fraction of the new attempts' control steps the learner drove
        "learner_step_fraction": learner_steps / steps if steps else 0.0,
        "episodes_in_dataset": writer.num_episodes,
        "frames_in_dataset": writer.num_frames,
        "seconds": seconds,
        "episodes_per_min": 60 * new_total / seconds if seconds > 0 else 0.0,
        "workers": cfg.workers,
        "time_split": spent | {"env_builds": int(env_builds)},
        "config": asdict(cfg) | {"out": str(out)},
    }


# Attempts are committed (dataset episode table + generation record) in batches: the episode
# table costs O(episodes) to write, so committing every attempt made long runs quadratic. A kill
# loses at most the uncommitted batch, which resume simply attempts again. Files are merged once,
# at finalize: a merge rewrites the growing multi-episode file whole (MP4 cannot be appended to),
# so merging every 100 episodes was quadratic too (23 of 65 s for 2000 episodes).
COMMIT_EVERY = 25


def _progress(cfg: GenerateConfig, total: int, record: dict):
    if not cfg.progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=f"generate {cfg.suite}/{cfg.backend}", unit="ep",
                initial=0, dynamic_ncols=True)  # fmt: skip
