"""`vla serve` in a subprocess with a tiny random checkpoint, and the real client."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fake_policy import make_obs
from serve_process import start_serve
from tiny_checkpoint import make_tiny_checkpoint

from vla.constants import EEF_ACTION_HIGH, EEF_ACTION_LOW
from vla.serving.client import PolicyClient

BIN_WIDTH = (EEF_ACTION_HIGH - EEF_ACTION_LOW) / 32 + 1e-6  # the tiny checkpoint's 32 bins


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny")


@pytest.fixture(scope="module")
def served(checkpoint: Path) -> Iterator[int]:
    proc, port, lines = start_serve(checkpoint, "--device", "cpu", "--torch-threads", "1",
                                    "--batch-window-ms", "5")  # fmt: skip
    # on CPU the default is the plain Policy (test_fast_serving.py covers --fast)
    assert any("inference on cpu: plain (Policy)" in line for line in lines), "".join(lines)
    yield port
    proc.terminate()
    proc.wait(30)


@pytest.fixture(scope="module")
def policy(checkpoint: Path):
    from vla.policy import Policy

    return Policy.from_pretrained(checkpoint, device="cpu")


def test_served_actions_equal_the_policy(served: int, policy) -> None:
    with PolicyClient(port=served) as client:
        assert client.metadata["chunk_size"] == 4 and client.metadata["image_size"] == [32, 32]
        # the Policy's own metadata comes through unchanged (ROS nodes use either object)
        for key, value in policy.metadata.items():
            assert client.metadata[key] == value, key
        for seed in range(3):
            obs = make_obs(seed, task="pick up the green cube")
            np.testing.assert_allclose(client.act(obs), policy.act(obs), atol=1e-6)
        client.reset()
        obs = make_obs(9)
        chunk = policy.act(obs)
        np.testing.assert_allclose(client.select_action(obs), chunk[0], atol=1e-6)
        np.testing.assert_allclose(client.select_action(obs), chunk[1], atol=1e-6)


def test_concurrent_robots_on_the_real_policy(served: int, policy) -> None:
    results: dict[int, list] = {}

    def robot(i: int) -> None:
        with PolicyClient(port=served) as client:
            results[i] = [(obs, client.act(obs)) for obs in (make_obs(50 + 10 * i + j)
                                                            for j in range(4))]  # fmt: skip

    threads = [threading.Thread(target=robot, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(results) == [0, 1, 2, 3]
    for pairs in results.values():
        for obs, got in pairs:
            # a batched forward may round differently: at most one action bin apart
            assert np.all(np.abs(got - policy.act(obs)) <= BIN_WIDTH)


def test_a_sim_robot_driven_through_the_server_matches_the_local_policy(served, policy) -> None:
    """PolicyClient is a drop-in policy for vla.rollout.episode.run_episode: same actions, same states."""
    pytest.importorskip("sim.env", reason="the simulator has not landed")
    import sim
    from vla.rollout.episode import run_episode

    env = sim.make("pick", "mujoco", image_size=(32, 32), max_steps=6)
    try:
        with PolicyClient(port=served) as client:
            remote = run_episode(env, client, seed=3, record=True)
        local = run_episode(env, policy, seed=3, record=True)
    finally:
        env.close()
    assert remote.length == local.length == 6
    np.testing.assert_allclose(np.stack(remote.actions), np.stack(local.actions), atol=1e-6)
    np.testing.assert_allclose(remote.final_observation["observation.state"],
                               local.final_observation["observation.state"], atol=1e-5)  # fmt: skip
