"""The few calls `vla eval` makes into ``sim``: one place to adapt if the simulator API moves.

Uses ``sim.make``, ``sim.tasks.SUITES`` / ``TASK_GROUPS`` and the rollout engine's episode loop
(``vla.rollout.run_episode``) and video writer (``vla.rollout.video``). Evaluation runs its jobs
on the engine's pool (``vla.rollout.pool.run_jobs``) with its own worker initializer: the
checkpoint loads once per worker, and videos are written inside the worker under a shared
quota instead of shipping every frame to the parent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vla.constants import DEFAULT_IMAGE_SIZE, OBS_IMAGES_PREFIX


def suite_families(suite: str) -> list[str]:
    """Task families of a suite (``sim.tasks.SUITES``)."""
    from sim.tasks import SUITES

    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; sim.tasks.SUITES has {sorted(SUITES)}")
    return list(SUITES[suite])


def suite_groups(suite: str) -> dict[str, tuple[str, ...]] | None:
    """The suite's difficulty groups (``sim.tasks.TASK_GROUPS``: group -> task families), or
    None for suites without (pick_place)."""
    from sim.tasks import TASK_GROUPS

    return TASK_GROUPS.get(suite)


def default_image_size() -> tuple[int, int]:
    return DEFAULT_IMAGE_SIZE


def make_env(suite: str, family: str, backend: str, split: str, seed: int,
             image_size: tuple[int, int], max_steps: int | None, variation: Any = None) -> Any:  # fmt: skip
    """A gymnasium environment for one task family (``sim.make``); ``variation``: a
    ``sim.variation.SceneVariation`` applied to every episode (``vla eval --perturb``)."""
    import sim

    extra = {} if variation is None else {"variation": variation}
    return sim.make(family, backend, suite=suite, seed=seed, image_size=tuple(image_size),
                    split=split, max_steps=max_steps, **extra)  # fmt: skip


def env_interface(env: Any) -> dict[str, Any]:
    """What the environment offers, in ``Policy.check_compatible`` keywords."""
    spaces = env.observation_space.spaces
    cams = [k for k in spaces if k.startswith(OBS_IMAGES_PREFIX)]
    return {
        "action_space": env.unwrapped.config.action_space,
        "camera_keys": cams,
        "image_size": tuple(spaces[cams[0]].shape[:2]) if cams else None,
        "control_hz": control_hz(env),
    }


def control_hz(env: Any) -> float:
    """The environment's control rate (gymnasium ``metadata["render_fps"]``)."""
    return float(env.metadata["render_fps"])


def run_episode(env: Any, agent: Any, seed: int, record: bool) -> Any:
    """One closed-loop episode (``vla.rollout.episode.run_episode``: resets env and agent).

    Returns its ``EpisodeResult`` (``success``, ``length``, ``instruction``; with ``record``
    also ``frames``: scene | wrist side by side, the final observation included).
    """
    from vla.rollout.episode import run_episode as sim_run_episode

    return sim_run_episode(env, agent, seed, record=record)


def episode_outcome(env: Any, success: bool) -> str | None:
    """What a finished episode did (``sim.tasks.pick_place.episode_outcome``: success,
    wrong_object, goal_moved, not_released, wrong_goal, target_moved, nothing_moved); None
    outside the pick_place suite."""
    u = getattr(env, "unwrapped", env)
    if getattr(getattr(u, "config", None), "suite", None) != "pick_place":
        return None
    from sim.tasks.pick_place import episode_outcome as classify

    return classify(u.physics, u.episode, success)[0]


def write_video(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    """Encode an episode's frames to MP4 (``vla.rollout.video.write_video``: H.264, 2x
    upscaled)."""
    from vla.rollout.video import write_video as rollout_write_video

    return rollout_write_video(path, frames, fps=fps)
