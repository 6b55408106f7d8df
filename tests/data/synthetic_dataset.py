"""Helpers for the dataset tests: a synthetic dataset with checkable content.

Content follows the LeRobot fixture's pattern: in episode e, frame t of T, the scene image is
zero except channel e % 3, which is int(255 * t / T); wrist = 255 - scene; the state is
e + t / 100 in every element; the action is t / T in every element.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vla.constants import ACTION, OBS_IMAGE_SCENE, OBS_IMAGE_WRIST, OBS_STATE, TASK

FIXTURE = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "lerobot_v3_sample"
if not FIXTURE.exists():  # the shared folder normally sits beside the checkout
    FIXTURE = Path("/work/shared/fixtures/lerobot_v3_sample")
IMAGE_SIZE = (32, 48)
TASKS = ("pick up the red cube", "put the blue cube in the green bowl")


def synthetic_frame(e: int, t: int, length: int, image_size=IMAGE_SIZE) -> dict:
    scene = np.zeros((*image_size, 3), np.uint8)
    scene[..., e % 3] = int(255 * t / length)
    return {
        OBS_IMAGE_SCENE: scene,
        OBS_IMAGE_WRIST: 255 - scene,
        OBS_STATE: np.full(15, e + t / 100, np.float32),
        ACTION: np.full(7, t / length, np.float32),
        TASK: TASKS[e % 2],
    }


def write_episodes(writer, lengths, first: int = 0) -> None:
    """Add and save one synthetic episode per length (episode indices from ``first``)."""
    for i, length in enumerate(lengths):
        for t in range(length):
            writer.add_frame(synthetic_frame(first + i, t, length))
        writer.save_episode()
