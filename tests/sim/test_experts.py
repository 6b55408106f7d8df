"""Scripted experts: deterministic per seed within an engine, and successful (a small seeded
sample here; the full 100 episodes per family is marked slow)."""

from __future__ import annotations

import numpy as np
import pytest
from sim_test_params import BACKENDS, FAMILIES, SMALL, run_expert

import sim


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_same_seed_same_expert_trajectory(backend, family):
    env = sim.make(family, backend, image_size=SMALL, render=False)
    try:
        ok_a, actions_a = run_expert(env, seed=7)
        ok_b, actions_b = run_expert(env, seed=7)
    finally:
        env.close()
    assert ok_a == ok_b
    np.testing.assert_array_equal(actions_a, actions_b)
    assert actions_a.shape[1] == 7 and actions_a.dtype == np.float32


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_expert_succeeds_on_small_sample(backend, family):
    env = sim.make(family, backend, image_size=SMALL, render=False)
    try:
        results = []
        for seed in range(100, 105):
            results.append(run_expert(env, seed)[0])
            if backend == "mujoco":  # contacts, grasps and pushes raise no MuJoCo warnings
                assert env.unwrapped.physics.warnings() == {}
    finally:
        env.close()
    assert sum(results) >= 4, f"{family}/{backend}: {results}"


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_expert_succeeds_95_of_100(backend, family):
    env = sim.make(family, backend, image_size=SMALL, render=False)
    try:
        results = [run_expert(env, seed)[0] for seed in range(100)]
    finally:
        env.close()
    failed = [s for s, ok in enumerate(results) if not ok]
    assert sum(results) >= 95, f"{family}/{backend}: failed seeds {failed}"


@pytest.mark.parametrize("family", ["place", "stack"])
def test_carry_expert_lowers_once_roughly_over_the_drop_point(family):
    """Within LOWER_XY of the drop point in xy, at carry height, the label goes down.

    A 6 mm trigger labelled such states "align, hold height"; learners that cannot see 1 cm
    predicted no xy step there and hovered at carry height to the time limit."""
    from sim.experts import CARRY_Z, LOWER_XY, make_expert

    env = sim.make(family, "mujoco", image_size=SMALL, render=False)
    expert = make_expert(env)
    checked = 0
    try:
        for seed in range(3):
            obs, _ = env.reset(seed=seed)
            expert.reset()
            for _ in range(env.unwrapped.env.max_steps):
                before = expert.phase
                action = expert.select_action(obs)
                if before in ("carry", "lower"):
                    tcp, _ = expert.physics.ee_pose()
                    drop, _ = expert.drop_point()
                    if np.linalg.norm(drop[:2] - tcp[:2]) < LOWER_XY and tcp[2] > CARRY_Z - 0.02:
                        assert action[2] < -0.01, (seed, before, expert.phase, action)
                        checked += 1
                obs, _, terminated, truncated, _ = env.step(action)
                if terminated or truncated:
                    break
    finally:
        env.close()
    assert checked >= 3  # every episode passed over its drop point at carry height
