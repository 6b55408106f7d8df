"""Action chunks from episodes: what FAST is fitted on and what the benchmark measures."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vla.constants import ACTION


def sliding_chunks(episodes: Sequence[np.ndarray], horizon: int, stride: int = 1) -> np.ndarray:
    """All full windows ``(N, horizon, D)`` of each episode ``(T, D)``, every ``stride`` steps.

    Windows never cross episode boundaries; episodes shorter than ``horizon`` give none.
    """
    if horizon < 1 or stride < 1:
        raise ValueError(f"horizon and stride must be >= 1 (got {horizon}, {stride})")
    windows = []
    for ep in episodes:
        ep = np.asarray(ep)
        if ep.ndim != 2:
            raise ValueError(f"episodes must be (T, D) arrays, got shape {ep.shape}")
        if len(ep) >= horizon:
            view = np.lib.stride_tricks.sliding_window_view(ep, horizon, axis=0)  # (N, D, H)
            windows.append(view[::stride].transpose(0, 2, 1))
    if not windows:
        raise ValueError(f"no episode has {horizon} steps: lower the chunk horizon")
    return np.concatenate(windows).astype(np.float64)


def dataset_episode_actions(root: str | Path) -> tuple[list[np.ndarray], dict]:
    """The ``action`` arrays of every episode of a LeRobot v3 dataset and its action stats.

    Returns ``(episodes, stats)``; ``stats`` is the ``action`` entry of ``meta/stats.json``
    (``{}`` when the file is absent, which the tokenizers then reject with the fix).
    """
    from vla.data import LeRobotDatasetReader  # the dataset stack is only needed here

    reader = LeRobotDatasetReader(root)
    episodes = [reader.episode_arrays(i)[ACTION] for i in range(reader.num_episodes)]
    return episodes, reader.stats.get(ACTION, {})


def expert_episode_actions(
    n_episodes: int, backend: str = "mujoco", seed: int = 0, suite: str = "pick_place"
) -> list[np.ndarray]:
    """Actions of scripted-expert rollouts (no rendering), cycling over the suite's families.

    Only successful episodes are kept (as ``vla data generate`` does), each
    ``(T, ACTION_DIM)`` float32. Attempt ``i`` uses reset seed
    ``seed + i``. For measuring tokenizers on real expert motion without writing a dataset.
    """
    import sim  # the simulator is only needed here
    from sim.experts import make_expert
    from sim.tasks import SUITES

    families = list(SUITES[suite])
    envs = {f: sim.make(f, backend, suite=suite, render=False) for f in families}
    episodes: list[np.ndarray] = []
    try:
        for i in range(n_episodes):
            env = envs[families[i % len(families)]]
            expert = make_expert(env)
            obs, _ = env.reset(seed=seed + i)
            expert.reset()
            actions, done, success = [], False, False
            while not done:
                action = np.asarray(expert.select_action(obs), dtype=np.float32)
                actions.append(action)
                obs, _, success, truncated, _ = env.step(action)
                done = success or truncated
            if success:
                episodes.append(np.stack(actions))
    finally:
        for env in envs.values():
            env.close()
    return episodes
