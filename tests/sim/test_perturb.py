"""sim.perturb: the wrappers do exactly what they say, specs parse (or fail naming the fix), and
scene perturbations keep a seed's episode while changing what the camera sees."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from sim.perturb import (
    DEFAULT_SUITE,
    PERTURBATIONS,
    ActionLatency,
    DropCamera,
    Paraphrase,
    Perturbation,
    StateNoise,
    parse_perturbation,
    parse_perturbations,
)
from sim.tasks.language import HELDOUT_TEMPLATES, TEMPLATES
from vla.constants import IMAGE_KEYS, OBS_STATE, STATE_NAMES, TASK

GRIP = STATE_NAMES.index("gripper_opening")


class RecordingEnv(gym.Env):
    """A stand-in environment: observation.state is a ramp (step count), images are 7s, and it
    records every action it executes."""

    def __init__(self) -> None:
        spaces = {k: gym.spaces.Box(0, 255, (8, 8, 3), np.uint8) for k in IMAGE_KEYS}
        spaces[OBS_STATE] = gym.spaces.Box(-10, 10, (15,), np.float32)
        self.observation_space = gym.spaces.Dict(spaces)
        self.action_space = gym.spaces.Box(-1, 1, (7,), np.float32)
        self.executed: list[np.ndarray] = []
        self.t = 0

    def _obs(self) -> dict:
        obs = {k: np.full((8, 8, 3), 7, np.uint8) for k in IMAGE_KEYS}
        state = np.full(15, float(self.t), np.float32)
        state[GRIP] = 0.08  # open
        obs[OBS_STATE], obs[TASK] = state, "pick up the red cube"
        return obs

    def reset(self, *, seed=None, options=None):
        self.t, self.executed = 0, []
        return self._obs(), {"task": "pick up the red cube", "family": "pick",
                             "episode_seed": seed}  # fmt: skip

    def step(self, action):
        self.executed.append(np.asarray(action).copy())
        self.t += 1
        return self._obs(), 0.0, False, False, {"task": "pick up the red cube", "family": "pick"}


def test_latency_executes_each_action_exactly_one_step_late() -> None:
    env = ActionLatency(RecordingEnv(), steps=1)
    env.reset(seed=3)
    actions = [np.full(7, 0.1 * (k + 1), np.float32) for k in range(5)]
    for a in actions:
        env.step(a)
    executed = env.unwrapped.executed
    hold = np.zeros(7, np.float32)
    hold[-1] = -1.0  # the gripper is open in the first observation: stay open, no motion
    np.testing.assert_array_equal(executed[0], hold)
    for k in range(1, 5):
        np.testing.assert_array_equal(executed[k], actions[k - 1])
    env.reset(seed=4)  # a new episode starts with a hold again, nothing carried over
    env.step(actions[4])
    np.testing.assert_array_equal(env.unwrapped.executed[0], hold)


def test_latency_of_two_steps() -> None:
    env = ActionLatency(RecordingEnv(), steps=2)
    env.reset(seed=0)
    for k in range(4):
        env.step(np.full(7, k + 1.0, np.float32))
    assert [float(a[0]) for a in env.unwrapped.executed] == [0.0, 0.0, 1.0, 2.0]


@pytest.mark.parametrize("camera", ["wrist", "scene"])
def test_drop_camera_zeroes_one_camera_only(camera) -> None:
    env = DropCamera(RecordingEnv(), camera)
    obs, _ = env.reset(seed=0)
    obs2, *_ = env.step(np.zeros(7, np.float32))
    for o in (obs, obs2):
        for key in IMAGE_KEYS:
            img = o[key]
            assert img.shape == (8, 8, 3) and img.dtype == np.uint8
            assert (img == 0).all() if key.endswith(camera) else (img == 7).all()
    with pytest.raises(ValueError, match="no 'observation.images.top'"):
        DropCamera(RecordingEnv(), "top")


def test_state_noise_has_the_given_std_and_is_seeded() -> None:
    def residuals(seed: int, sigma: float = 0.05) -> np.ndarray:
        """observation.state minus the clean state, over 200 steps."""
        env, clean = StateNoise(RecordingEnv(), sigma), RecordingEnv()
        rows = [env.reset(seed=seed)[0][OBS_STATE] - clean.reset(seed=seed)[0][OBS_STATE]]
        for _ in range(199):
            a = np.zeros(7, np.float32)
            rows.append(env.step(a)[0][OBS_STATE] - clean.step(a)[0][OBS_STATE])
        return np.stack(rows)

    r = residuals(1)
    assert r.shape == (200, 15) and r.dtype == np.float32
    assert abs(r.std() - 0.05) < 0.003 and abs(r.mean()) < 0.003
    np.testing.assert_array_equal(r, residuals(1))  # same episode seed, same noise
    assert not np.allclose(r, residuals(2))


def test_paraphrase_rewrites_obs_and_info_and_is_seeded() -> None:
    env = Paraphrase(RecordingEnv())
    obs, info = env.reset(seed=5)
    text = obs[TASK]
    fills = {t.format(obj="red cube") for t in (*TEMPLATES["pick"], HELDOUT_TEMPLATES["pick"])}
    assert "red cube" in text and text not in fills
    assert info["task"] == text and info["original_task"] == "pick up the red cube"
    obs2, *_, info2 = env.step(np.zeros(7, np.float32))
    assert obs2[TASK] == text and info2["task"] == text
    texts = set()
    for s in range(40):
        o, _ = env.reset(seed=s)
        texts.add(o[TASK])
    assert env.reset(seed=5)[0][TASK] == text and len(texts) > 5


def test_parse_specs_and_errors() -> None:
    assert parse_perturbation("camera_shift=0.02") == Perturbation("camera_shift", 0.02)
    assert parse_perturbation("latency").value == 1 and parse_perturbation("latency").label == (
        "latency=1")  # fmt: skip
    assert parse_perturbation("drop-wrist").label == "drop_wrist"
    assert parse_perturbation("texture=noise").variation().table_texture == "noise"
    suite = parse_perturbations(["all"])
    assert suite == DEFAULT_SUITE and [p.name for p in suite] == list(PERTURBATIONS)
    assert len(parse_perturbations(["all", "camera_shift=0.1"])) == len(PERTURBATIONS) + 1
    for text, match in [
        ("camra_shift", "did you mean 'camera_shift'"),
        ("latency=soon", "VALUE must be an integer"),
        ("drop_wrist=1", "takes no value"),
        ("camera_shift=0.9", r"in \(0.0, 0.2\] metres"),
        ("texture=wood", "must be one of"),
        ("distractors=9", r"\[1, 4\]"),
    ]:
        with pytest.raises(ValueError, match=match):
            parse_perturbation(text)
    with pytest.raises(ValueError, match="given twice"):
        parse_perturbations(["latency", "latency=1"])


def test_every_spec_builds_its_variation_or_wrapper() -> None:
    for p in DEFAULT_SUITE:
        assert p.spec.description and p.spec.kind in ("scene", "wrapper")
        if p.spec.kind == "scene":
            v = p.variation()
            assert v is not None and not v.is_identity, p.label
        else:
            assert p.variation() is None and isinstance(p.wrap(RecordingEnv()), gym.Wrapper)


@pytest.mark.parametrize("label", ["camera_shift=0.05", "distractors=3", "color=1"])
def test_scene_perturbation_keeps_the_episode_and_changes_the_image(label) -> None:
    import sim

    p = parse_perturbation(label)
    base = sim.make("place", image_size=(32, 32))
    varied = sim.make("place", image_size=(32, 32), variation=p.variation())
    obs_b, info_b = base.reset(seed=11)
    obs_v, info_v = varied.reset(seed=11)
    assert info_b["task"] == info_v["task"] and info_b["target"] == info_v["target"]
    np.testing.assert_allclose(obs_b[OBS_STATE], obs_v[OBS_STATE], atol=1e-5)
    scene = "observation.images.scene"
    changed = np.abs(obs_b[scene].astype(int) - obs_v[scene].astype(int)).max(axis=-1) > 10
    assert changed.sum() >= 5, f"{label}: only {changed.sum()} scene pixels changed"
    base.close()
    varied.close()
