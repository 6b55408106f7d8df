"""A tiny stand-in simulator rollout for generation tests: deterministic given the job seed."""

from __future__ import annotations

import numpy as np

from vla.constants import ACTION, IMAGE_KEYS, OBS_STATE
from vla.rollout.generate import EpisodeJob, EpisodeResult

FAMILIES = ["pick_cube", "place_in_bowl", "stack"]


def fake_rollout(job: EpisodeJob) -> EpisodeResult:
    rng = np.random.default_rng(job.seed)
    length = int(rng.integers(4, 9))
    success = bool(rng.random() > 0.3)
    h, w = job.image_size
    value = rng.integers(0, 256, size=length)
    frames = {
        key: np.broadcast_to(value[:, None, None, None], (length, h, w, 3)).astype(np.uint8) - i
        for i, key in enumerate(IMAGE_KEYS)
    }
    frames[OBS_STATE] = rng.normal(size=(length, 15)).astype(np.float32)
    frames[ACTION] = rng.uniform(-1, 1, size=(length, 7)).astype(np.float32)
    return EpisodeResult(
        job.seed,
        job.family,
        f"{job.family} #{job.index}",
        success,
        length,
        index=job.index,
        arrays=frames,
    )
