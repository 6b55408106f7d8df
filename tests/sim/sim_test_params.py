"""Shared parameters of the sim tests: every engine x every task family.

The PyBullet params skip (with the reason) when its backend cannot be imported.
"""

from __future__ import annotations

import importlib.util

import pytest

from sim.tasks import SUITES

FAMILIES = list(SUITES["pick_place"])
HAS_PYBULLET = importlib.util.find_spec("pybullet") is not None and (
    importlib.util.find_spec("sim.physics.pybullet_physics") is not None
)
BACKENDS = [
    "mujoco",
    pytest.param("pybullet", marks=pytest.mark.skipif(
        not HAS_PYBULLET, reason="sim.physics.pybullet_physics (or pybullet) not available")),
]  # fmt: skip
SMALL = (32, 32)  # image size for tests that do not look at the pixels (rendering is the cost)


def run_expert(env, seed: int, max_steps: int | None = None):
    """(success, actions) of the scripted expert on one seeded episode."""
    import numpy as np

    from sim.experts import make_expert

    expert = make_expert(env)
    obs, _ = env.reset(seed=seed)
    expert.reset()
    actions = []
    limit = max_steps or env.unwrapped.env.max_steps
    info = {"is_success": False}
    for _ in range(limit):
        action = expert.select_action(obs)
        actions.append(np.asarray(action).copy())
        obs, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            break
    return bool(info["is_success"]), np.array(actions)


class ExecutedRecorder:
    """Wraps an env and keeps the actions actually executed (what the arm did, as opposed to
    what an episode recorded)."""

    def __init__(self, env):
        self.env, self.executed = env, []

    def __getattr__(self, name):
        return getattr(self.env, name)

    def reset(self, **kw):
        return self.env.reset(**kw)

    def step(self, action):
        import numpy as np

        self.executed.append(np.array(action))
        return self.env.step(action)
