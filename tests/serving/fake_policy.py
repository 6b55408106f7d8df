"""A tiny deterministic numpy policy with the Policy interface (used until/besides real models)."""

from __future__ import annotations

import threading

import numpy as np

from vla.constants import (
    ACTION_DIM,
    EEF_ACTION_NAMES,
    IMAGE_KEYS,
    OBS_STATE,
    STATE_DIM,
    STATE_NAMES,
    TASK,
)

CHUNK = 4
TOKEN = "s3cret-token-0123456789abcdef"  # a valid (>= 16 chars) test token
IMAGE_SIZE = (32, 32)


class FakePolicy:
    """Actions are a fixed function of state, image means and the instruction length."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.metadata = {  # the layout of vla.policy.Policy.metadata (PolicyMeta)
            "camera_keys": list(IMAGE_KEYS),
            "image_size": list(IMAGE_SIZE),
            "state_names": list(STATE_NAMES),
            "action_names": list(EEF_ACTION_NAMES),
            "action_space": "eef_delta",
            "control_hz": 10.0,
            "chunk_size": CHUNK,
            "execution_horizon": 2,
        }
        self.delay_s = delay_s
        self.batch_sizes: list[int] = []
        self._lock = threading.Lock()

    def act(self, obs: dict) -> np.ndarray:
        base = float(obs[OBS_STATE].sum()) + 0.01 * len(obs[TASK])
        base += sum(float(obs[k].mean()) / 255.0 for k in IMAGE_KEYS)
        steps = np.arange(CHUNK, dtype=np.float32)[:, None]
        dims = np.arange(ACTION_DIM, dtype=np.float32)[None, :]
        return (np.float32(base) + 0.1 * steps + 0.01 * dims).astype(np.float32)

    def predict_batch(self, observations: list[dict]) -> np.ndarray:
        with self._lock:
            self.batch_sizes.append(len(observations))
        if self.delay_s:
            threading.Event().wait(self.delay_s)
        return np.stack([self.act(o) for o in observations])


def make_obs(seed: int, task: str = "put the red cube in the blue bowl") -> dict:
    rng = np.random.default_rng(seed)
    obs = {k: rng.integers(0, 256, (*IMAGE_SIZE, 3), dtype=np.uint8) for k in IMAGE_KEYS}
    obs[OBS_STATE] = rng.normal(size=STATE_DIM).astype(np.float32)
    obs[TASK] = task
    return obs
