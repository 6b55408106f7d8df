"""A small learnable LeRobot v3 dataset for the training and policy tests.

Episode e (length T) paints a square of colour e % 3 whose column moves with t; the
instruction is one of ``TASKS`` (e % 2); the state encodes t; the action is a smooth function of
(e % 2, t) with a binary gripper that closes halfway. A model can fit it exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vla.constants import ACTION, OBS_IMAGE_SCENE, OBS_IMAGE_WRIST, OBS_STATE, TASK
from vla.data import DatasetWriter, default_features

TASKS = ("pick up the red cube", "put the blue cube in the green bowl")
IMAGE_SIZE = (32, 32)


def frame(e: int, t: int, length: int, image_size=IMAGE_SIZE) -> dict:
    h, w = image_size
    scene = np.full((h, w, 3), 40, np.uint8)
    col = int((w - 8) * t / max(1, length - 1))
    scene[8:16, col : col + 8, e % 3] = 230
    wrist = scene[::-1].copy()
    phase = t / length
    sign = 1.0 if e % 2 == 0 else -1.0
    action = np.array(
        [0.04 * sign * np.cos(np.pi * phase), 0.03 * np.sin(np.pi * phase), -0.02 * sign * phase,
         0.1 * phase, -0.1 * sign, 0.05 * np.cos(2 * np.pi * phase), 1.0 if phase >= 0.5 else -1.0],
        np.float32,
    )  # fmt: skip
    state = np.zeros(15, np.float32)
    state[:3] = (0.4 + 0.1 * phase, 0.0, 0.3)
    state[3] = 1.0
    state[7] = 0.08 * (1 - phase)
    state[8:] = phase
    return {OBS_IMAGE_SCENE: scene, OBS_IMAGE_WRIST: wrist, OBS_STATE: state, ACTION: action,
            TASK: TASKS[e % 2]}  # fmt: skip


def write_dataset(root: Path, episodes: int = 4, length: int = 16, image_size=IMAGE_SIZE) -> Path:
    """Write ``episodes`` episodes of ``length`` frames to ``root``; return it."""
    w = DatasetWriter(root, fps=10, features=default_features(image_size, fps=10))
    for e in range(episodes):
        for t in range(length):
            w.add_frame(frame(e, t, length, image_size))
        w.save_episode()
    w.finalize()
    return root


def overrides(dataset: Path, out: Path, *extra: str) -> list[str]:
    """Fast CPU settings on top of configs/train/tiny_cpu.yaml."""
    return [
        f"--dataset={dataset}",
        f"--output_dir={out}",
        "--model.text_encoder=trainable",
        "--progress=false",
        "--warmup_steps=2",
        *extra,
    ]
