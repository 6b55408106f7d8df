"""Closed-loop episodes: one in-process (`run_episode`) or many over worker processes
(`run_episodes`). Used by `vla sim run`, dataset generation and `vla eval`.

    env.reset(seed) -> obs_0 -> policy.select_action(obs_t) -> env.step -> obs_{t+1} ... until
    terminated (success) or truncated (max_steps)

A policy is any object with `reset()` and `select_action(obs) -> (7,) action`.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vla.constants import CAMERAS, EEF_ACTION_HIGH, OBS_IMAGES_PREFIX

# Dimensions perturbed by action-noise injection (DART): dx, dy, dz and dyaw. Roll/pitch stay
# clean (the experts keep the hand pointing down) and so does the gripper command.
NOISE_DIMS = (0, 1, 2, 5)
# Fraction of steps that get noise: the clean steps between them let the expert settle within
# its waypoint tolerance (8 mm), which per-step noise of centimetres would never allow.
NOISE_STEP_PROB = 0.3


def perturb(action: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """The action actually executed under noise injection: on a NOISE_STEP_PROB fraction of
    steps, ``action`` plus Gaussian noise of ``sigma`` x the per-step limit on NOISE_DIMS,
    clipped to the limits; the other steps execute ``action`` unchanged.

    DART (Laskey et al., 2017): the expert is closed loop, so the states the noise pushes the
    arm into get labelled with the expert's *corrective* action; a policy trained on them has
    seen how to recover from its own small errors instead of only the expert's perfect path.
    """
    out = np.array(action, dtype=np.float32, copy=True)
    if sigma <= 0 or rng.random() >= NOISE_STEP_PROB:
        return out
    idx = list(NOISE_DIMS)
    noise = rng.normal(0.0, sigma, size=len(idx)) * EEF_ACTION_HIGH[idx]
    out[idx] = np.clip(out[idx] + noise, -EEF_ACTION_HIGH[idx], EEF_ACTION_HIGH[idx])
    return out


@dataclass
class EpisodeResult:
    """One episode. observations[t] is what actions[t] was chosen from (len == length);
    final_observation is the observation after the last action. frames: scene | wrist side by
    side per observation incl. the final one (empty unless recorded with rendering)."""

    seed: int
    family: str
    instruction: str
    success: bool
    length: int
    observations: list[dict] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)
    final_observation: dict | None = None
    info: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """JSON-ready scalars."""
        return {"seed": self.seed, "family": self.family, "instruction": self.instruction,
                "success": self.success, "length": self.length}  # fmt: skip


def side_by_side(obs: dict) -> np.ndarray | None:
    """Scene and wrist images concatenated horizontally, or None without images."""
    keys = [OBS_IMAGES_PREFIX + c for c in CAMERAS]
    if not all(k in obs for k in keys):
        return None
    return np.concatenate([obs[k] for k in keys], axis=1)


def run_episode(
    env,
    policy,
    seed: int,
    record: bool = True,
    max_steps: int | None = None,
    action_noise: float = 0.0,
    execute: Callable[[np.ndarray], np.ndarray] | None = None,
):
    """Run one episode of `env` (reset with `seed`) under `policy`.

    record=True keeps every observation, action and a side-by-side frame; record=False keeps
    only the outcome (cheaper for evaluation). max_steps caps the episode below the env's own.
    action_noise > 0 executes ``perturb(action, action_noise)`` (seeded from `seed`) while the
    *clean* action is what gets recorded: demonstrations with recoveries (see ``perturb``).
    execute maps the recorded action to the one the arm executes (before any noise): DAgger
    records the expert's label and executes the learner's action (``sim.dagger``).
    """
    if action_noise < 0:
        raise ValueError(f"action_noise must be >= 0, got {action_noise}")
    noise_rng = np.random.default_rng([int(seed), 0x4E015E])
    obs, info = env.reset(seed=int(seed))
    policy.reset()
    result = EpisodeResult(int(seed), info["family"], info["task"], False, 0)
    limit = max_steps if max_steps is not None else np.inf
    while True:
        action = np.asarray(policy.select_action(obs), dtype=np.float32)
        if record:
            result.observations.append(obs)
            result.actions.append(action)
            frame = side_by_side(obs)
            if frame is not None:
                result.frames.append(frame)
        executed = action if execute is None else np.asarray(execute(action), np.float32)
        if action_noise > 0:
            executed = perturb(executed, action_noise, noise_rng)
        obs, _, terminated, truncated, info = env.step(executed)
        result.length += 1
        if terminated or truncated or result.length >= limit:
            break
    result.success = bool(info["is_success"])
    result.info = info
    if record:
        result.final_observation = obs
        frame = side_by_side(obs)
        if frame is not None:
            result.frames.append(frame)
    return result


# ---- many episodes over worker processes ----------------------------------------------------


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
    if workers == 1:
        _worker_init(policy_factory)
        for job in jobs:
            yield _run_job(job)
        return
    # spawn: fresh interpreters (no forked GL contexts or engine state)
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers, initializer=_worker_init, initargs=(policy_factory,)) as pool:
        yield from pool.imap(_run_job, jobs, chunksize=1)


def seeded_jobs(families: list[str], episodes: int, seed: int, **job_kwargs) -> list[EpisodeJob]:
    """Episode i of every family uses seed `seed + i` (so runs are reproducible and comparable
    across engines and policies)."""
    return [EpisodeJob(f, seed + i, **job_kwargs) for f in families for i in range(episodes)]
