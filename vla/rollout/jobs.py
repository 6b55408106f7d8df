"""What a run's episodes are: the engines and splits (``sim``'s own lists, re-exported so every
command validates against the same ones) and the seed of each episode.

Each command keeps its own seed function: the seeds define published results (the checkpoint's
evaluation, the shipped datasets, the expert's success table), so none may change value.

    command                          episode                 seed
    vla eval                         (S, split, family, e)   eval_seed: SeedSequence([S, split index, *family bytes, e])
    vla data generate                attempt i               attempt_seed: SeedSequence([S, i])
    vla sim run, expert_success.py   (family, i)             consecutive_seed: S + i (the same in every engine)
"""  # noqa: E501

from __future__ import annotations

import numpy as np

from sim.env import BACKENDS as _ENGINES
from sim.tasks import SPLITS

#: physics engines, in ``sim.env.BACKENDS`` order
BACKENDS: tuple[str, ...] = tuple(_ENGINES)
#: ``vla eval --split both``: the training split and the held-out one
BOTH_SPLITS: tuple[str, ...] = SPLITS[:2]

__all__ = ["BACKENDS", "BOTH_SPLITS", "SPLITS", "attempt_seed", "consecutive_seed", "eval_seed"]


def eval_seed(seed: int, split: str, family: str, episode: int) -> int:
    """`vla eval`: an independent, reproducible seed per (S, split, family, episode); the split
    enters as its index in ``SPLITS`` (train 0, heldout 1)."""
    words = [seed, SPLITS.index(split), *family.encode(), episode]
    return int(np.random.SeedSequence(words).generate_state(1)[0])


def attempt_seed(seed: int, index: int) -> int:
    """`vla data generate`: seed of attempt ``index``, independent streams per (S, i)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def consecutive_seed(seed: int, episode: int) -> int:
    """`vla sim run` and the expert benchmark: episode i of every family uses S + i, so runs are
    comparable across engines and policies."""
    return seed + episode
