"""Replay a recorded episode's actions in the simulator from its scene seed.

    meta/vla_record.json[K] -> sim.make(family, backend, split, image size) -> reset(seed)
    dataset episode K actions -> env.step each -> success? (+ optional video)

In the engine it was recorded in, the replay is deterministic, so an episode that reached the
task's goal reaches it again; in the other engine it may not (different contact physics).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vla.constants import ACTION
from vla.teleop import session_meta
from vla.teleop.status import side_by_side


@dataclass
class ReplayResult:
    """Outcome of a replay; ``first_success_step`` is None when the goal never held."""

    episode: int
    family: str
    seed: int
    backend: str
    recorded_backend: str
    recorded_success: bool
    success: bool
    steps: int
    first_success_step: int | None
    frames: list[np.ndarray] = field(default_factory=list, repr=False)


def replay_episode(root: str | Path, episode: int, backend: str | None = None,
                   record_frames: bool = False) -> ReplayResult:  # fmt: skip
    """Replay episode ``episode`` of dataset ``root`` in ``backend`` (default: as recorded)."""
    import sim
    from vla.data import LeRobotDatasetReader

    reader = LeRobotDatasetReader(root)
    if not 0 <= episode < reader.num_episodes:
        raise IndexError(f"episode {episode} out of range: {root} has {reader.num_episodes}")
    entry = session_meta.episode_entry(root, episode)
    backend = backend or entry["backend"]
    actions = reader.episode_arrays(episode)[ACTION]
    env = sim.make(entry["family"], backend, suite=entry["suite"], split=entry["split"],
                   image_size=tuple(entry["image_size"]))  # fmt: skip
    try:
        obs, info = env.reset(seed=int(entry["seed"]))
        frames = [side_by_side(obs, scale=1)] if record_frames else []
        first = None
        for t, action in enumerate(actions):
            obs, _, _, _, info = env.step(np.asarray(action, dtype=np.float32))
            if record_frames:
                frames.append(side_by_side(obs, scale=1))
            if first is None and info["is_success"]:
                first = t + 1
        success = bool(info["is_success"])
    finally:
        env.close()
    return ReplayResult(episode, entry["family"], int(entry["seed"]), backend, entry["backend"],
                        bool(entry["success"]), success, len(actions), first, frames)  # fmt: skip
