"""Fixtures: a tiny random checkpoint (the serving tests' writer) and observations for it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "serving"))

from tiny_checkpoint import INSTRUCTIONS, make_tiny_checkpoint  # noqa: E402

from vla.constants import OBS_STATE, TASK  # noqa: E402


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "ckpt")


def make_observations(policy, n: int, seed: int = 0, tasks=INSTRUCTIONS) -> list[dict]:
    """``n`` random observations cycling through ``tasks``."""
    rng = np.random.default_rng(seed)
    h, w = policy.meta.image_size
    out = []
    for i in range(n):
        obs = {k: rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for k in policy.meta.camera_keys}
        obs[OBS_STATE] = rng.normal(size=len(policy.meta.state_names)).astype(np.float32)
        obs[TASK] = tasks[i % len(tasks)]
        out.append(obs)
    return out
