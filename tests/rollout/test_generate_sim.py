"""`vla data generate` end to end on the real simulators (2 attempts per backend)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vla.cli.main import main
from vla.constants import ACTION, IMAGE_KEYS, OBS_STATE, STATE_DIM
from vla.data import LeRobotDatasetReader
from vla.rollout.generate import RECORD

pytest.importorskip("sim.env", reason="the simulator (sim.make/rollout/experts) is absent")
pytest.importorskip("sim.experts", reason="the simulator's scripted experts are absent")


@pytest.mark.parametrize("backend", ["mujoco", "pybullet"])
def test_generate_with_scripted_experts(tmp_path, backend, monkeypatch):
    # an empty env cache: this process builds exactly the envs these attempts need
    monkeypatch.setattr("vla.rollout.generate._ENVS", {})
    out = tmp_path / "ds"
    argv = ["data", "generate", "--backend", backend, "--episodes", "2", "--workers", "0",
            "--out", str(out), "--seed", "3", "--image-size", "64", "64", "--no-progress"]  # fmt: skip
    assert main([*argv, "--json", str(tmp_path / "gen.json")]) == 0
    # where the time went: two attempts of two families -> two env builds, a rollout and an
    # encode for every kept episode
    split = json.loads((tmp_path / "gen.json").read_text())["time_split"]
    assert split["env_builds"] == 2 and split["env_build_s"] > 0
    assert split["rollout_s"] > 0 and split["encode_stats_s"] > 0 and split["parent_write_s"] > 0
    record = json.loads((out / RECORD).read_text())
    assert sorted(record["successes"] + record["failures"]) == [0, 1]
    assert record["successes"], "the scripted expert failed both attempts"
    r = LeRobotDatasetReader(out)
    assert r.num_episodes == len(record["successes"])
    arrays = r.episode_arrays(0)
    assert arrays[OBS_STATE].shape[1] == STATE_DIM and arrays[ACTION].shape[1] == 7
    assert np.isfinite(arrays[ACTION]).all()
    for key in IMAGE_KEYS:
        frames = r.episode_frames(0, key)
        assert frames.shape[1:] == (64, 64, 3) and frames.std() > 1  # a rendered scene
    assert r.episode_task(0)
    # resuming with the same settings attempts nothing new
    assert main(argv) == 0
    assert LeRobotDatasetReader(out).num_episodes == r.num_episodes
