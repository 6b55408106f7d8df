"""A policy factory over seeded episodes of a task suite: `vla sim run` and
benchmarks/expert_success.py.

    seeded_jobs(families, N, S) -> EpisodeJob(family, seed S + i)
      -> run_jobs (vla.rollout.pool, job order): worker builds sim.make(...) once per
         configuration, a policy per episode -> run_episode -> EpisodeResult
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from vla.rollout.episode import EpisodeResult, run_episode
from vla.rollout.jobs import consecutive_seed
from vla.rollout.pool import run_jobs


@dataclass(frozen=True)
class EpisodeJob:
    """One episode to run: the environment (sim.make arguments) and the seed."""

    family: str
    seed: int
    backend: str = "mujoco"
    suite: str = "pick_place"
    split: str = "train"
    image_size: tuple[int, int] = (128, 128)
    render: bool = True
    record: bool = False  # keep observations/actions/frames (large) in the result
    max_steps: int | None = None
    action_noise: float = 0.0  # run_episode's: execute perturbed actions, record the clean ones
    randomize: float = 0.0  # scene variation strength per episode (sim.EnvConfig.randomize)

    def env_key(self) -> tuple:
        return (self.family, self.backend, self.suite, self.split, self.image_size, self.render,
                self.max_steps, self.randomize)  # fmt: skip


def expert_policy(env):
    """Policy factory of the scripted experts (picklable, for worker processes)."""
    from sim.experts import make_expert

    return make_expert(env)


#: named policy factories usable from the command line: name -> factory(env) -> policy
POLICIES: dict[str, Callable[[Any], Any]] = {"expert": expert_policy}

_WORKER_ENVS: dict[tuple, Any] = {}  # per process: env cache, built once per configuration
_WORKER_FACTORY: Callable[[Any], Any] | None = None


def _worker_init(factory: Callable[[Any], Any]) -> None:
    global _WORKER_FACTORY
    _WORKER_FACTORY = factory


def _run_job(job: EpisodeJob) -> EpisodeResult:
    import sim

    env = _WORKER_ENVS.get(job.env_key())
    if env is None:
        env = sim.make(job.family, job.backend, suite=job.suite, split=job.split,
                       image_size=job.image_size, max_steps=job.max_steps,
                       render=job.render, randomize=job.randomize)  # fmt: skip
        _WORKER_ENVS[job.env_key()] = env
    policy = _WORKER_FACTORY(env)
    return run_episode(env, policy, job.seed, record=job.record, action_noise=job.action_noise)


def run_episodes(
    jobs: list[EpisodeJob],
    policy_factory: Callable[[Any], Any] = expert_policy,
    workers: int = 1,
) -> Iterator[EpisodeResult]:
    """Run `jobs`, yielding results in job order. `policy_factory(env) -> policy` must be
    picklable (a module-level function) when workers > 1; each worker builds one env per
    configuration and a policy per episode. Results depend only on the jobs (each episode is
    fully decided by its seed), not on the number of workers.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers == 1:  # in this process
        _worker_init(policy_factory)
        yield from run_jobs(jobs, _run_job, 0)
        return
    yield from run_jobs(jobs, _run_job, workers, initializer=_worker_init,
                        initargs=(policy_factory,))  # fmt: skip


def seeded_jobs(families: list[str], episodes: int, seed: int, **job_kwargs) -> list[EpisodeJob]:
    """Episode i of every family uses seed ``consecutive_seed(seed, i)`` = seed + i (so runs are
    reproducible and comparable across engines and policies)."""
    return [EpisodeJob(f, consecutive_seed(seed, i), **job_kwargs)
            for f in families for i in range(episodes)]  # fmt: skip
