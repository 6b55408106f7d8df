"""One closed-loop episode (`run_episode`) and its result, the one `EpisodeResult` of every
rollout command (`vla eval`, `vla data generate`, `vla sim run`, the expert benchmark).

    env.reset(seed) -> obs_0 -> policy.select_action(obs_t) -> env.step -> obs_{t+1} ... until
    terminated (success) or truncated (max_steps)

A policy is any object with `reset()` and `select_action(obs) -> (7,) action`.
"""

from __future__ import annotations

from collections.abc import Callable
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
    """One episode. The first five fields are what every command reports; the rest are filled
    by the command that needs them.

    Recorded (``run_episode(record=True)``): observations[t] is what actions[t] was chosen from
    (len == length); final_observation is the observation after the last action; frames: scene |
    wrist side by side per observation incl. the final one (empty without rendering).
    Evaluation: split, perturbation, outcome, duration_s, video. Generation: index (the
    attempt), arrays (per-key stacked observations and actions, until the worker prepares them
    into ``prepared``) and the worker's timings.
    """

    seed: int
    family: str
    instruction: str
    success: bool
    length: int  # control steps taken
    observations: list[dict] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)
    final_observation: dict | None = None
    info: dict = field(default_factory=dict)
    # evaluation
    split: str = "train"
    perturbation: str | None = None  # `vla eval --perturb` label; None: unperturbed
    # what the episode ended up doing (pick_place: sim.tasks.pick_place.episode_outcome), or
    # None for suites without a classifier
    outcome: str | None = None
    duration_s: float = 0.0
    video: str | None = None
    # generation
    index: int = 0
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # key -> (T, ...)
    prepared: Any = None  # vla.data.episode_prep.PreparedEpisode, set (arrays dropped) in a worker
    env_build_s: float = 0.0  # building the worker's env for the job (0 when cached)
    prepare_s: float = 0.0  # encoding + statistics (saved attempts only)
    learner_steps: int = 0  # DAgger: control steps the learner's action was executed

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
