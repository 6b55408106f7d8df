"""The few calls `vla eval` makes into ``sim``: one place to adapt if the simulator API moves.

Uses ``sim.make``, ``sim.tasks.SUITES``, ``sim.rollout.run_episode`` and the sim video helper;
the rollout loop itself lives in ``sim.rollout`` (not duplicated here).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vla.constants import DEFAULT_IMAGE_SIZE, OBS_IMAGES_PREFIX, TASK


@dataclass(frozen=True)
class Outcome:
    """What evaluation keeps of one rollout."""

    success: bool
    length: int
    instruction: str


def suite_families(suite: str) -> list[str]:
    """Task families of a suite (``sim.tasks.SUITES``)."""
    from sim.tasks import SUITES

    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; sim.tasks.SUITES has {sorted(SUITES)}")
    return list(SUITES[suite])


def default_image_size() -> tuple[int, int]:
    return DEFAULT_IMAGE_SIZE


def make_env(suite: str, family: str, backend: str, split: str, seed: int,
             image_size: tuple[int, int], max_steps: int | None) -> Any:  # fmt: skip
    """A gymnasium environment for one task family (``sim.make``)."""
    import sim

    return sim.make(family, backend, suite=suite, seed=seed, image_size=tuple(image_size),
                    split=split, max_steps=max_steps)  # fmt: skip


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


def run_episode(env: Any, agent: Any, seed: int, max_steps: int | None) -> Outcome:
    """One closed-loop episode through ``sim.rollout.run_episode``."""
    from sim.rollout import run_episode as sim_run_episode

    result = sim_run_episode(env, agent, seed=seed)

    def get(name: str, default: Any = None) -> Any:
        if isinstance(result, dict):
            return result.get(name, default)
        return getattr(result, name, default)

    length = get("length")
    if length is None:
        length = len(get("actions", []))
    instruction = get("instruction")
    if instruction is None:
        obs = get("observations")
        first = obs[0] if isinstance(obs, list) and obs else {}
        instruction = first.get(TASK, "") if isinstance(first, dict) else ""
    return Outcome(bool(get("success")), int(length), str(instruction))


def write_video(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    """Encode frames (H, W, 3) uint8 to an MP4 (H.264)."""
    import imageio.v3 as iio

    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, np.stack(frames), plugin="pyav", codec="libx264", fps=fps)
    return path
