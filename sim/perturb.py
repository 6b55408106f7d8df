"""Evaluation perturbations: what `vla eval --perturb NAME[=VALUE]` changes about the episodes.

    "camera_shift=0.05" --parse_perturbation--> Perturbation(spec, value)
        scene kind:   perturbation.variation() -> SceneVariation -> sim.make(..., variation=...)
        wrapper kind: perturbation.wrap(env)   -> gymnasium.Wrapper around the environment

Either way an episode's seed gives the same objects, poses and instruction as without the
perturbation (sim.variation draws from its own stream; the wrappers seed their own generators
from the episode seed), so a perturbed run pairs episode by episode with the unperturbed one.

PERTURBATIONS is the registry (name -> PerturbSpec); DEFAULT_SUITE is what ``--perturb all``
runs: every perturbation at its default magnitude.
"""

from __future__ import annotations

import difflib
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from vla.constants import OBS_IMAGES_PREFIX, OBS_STATE, STATE_NAMES, TASK
from vla.robot.panda import GRIPPER_MAX_OPENING

STATE_NOISE_STREAM = 0x57A7E  # second word of the state-noise generator: rng([seed, this])
PARAPHRASE_STREAM = 0x9A4A  # second word of the paraphrase generator
CAMERA_SHIFT_DIRECTION = (1 / math.sqrt(3),) * 3  # +x (away from the robot), +y (left), +z (up)
# colour perturbation: the table and floor blend from their default colours towards these
# muted colours (none of them a task object's colour)
COLOR_TABLE_RGBA = (0.3, 0.45, 0.38, 1.0)
COLOR_FLOOR_RGBA = (0.62, 0.56, 0.66, 1.0)


# ---- wrappers ---------------------------------------------------------------------------------
class DropCamera(gym.ObservationWrapper):
    """One camera gone dark: its image is all zeros (same shape and dtype), every step."""

    def __init__(self, env: gym.Env, camera: str) -> None:
        super().__init__(env)
        self.key = OBS_IMAGES_PREFIX + camera
        if self.key not in env.observation_space.spaces:
            raise ValueError(f"drop_{camera}: the environment has no {self.key!r} (cameras: "
                             f"{sorted(env.observation_space.spaces)}); was it built with "
                             "render=False?")  # fmt: skip

    def observation(self, observation: dict) -> dict:
        out = dict(observation)
        out[self.key] = np.zeros_like(observation[self.key])
        return out


def _episode_seed(seed: int | None, info: dict) -> int:
    seed = seed if seed is not None else info.get("episode_seed")
    if seed is None:
        raise ValueError("reset the perturbed environment with a seed (reset(seed=...)): the "
                         "perturbation draws from the episode seed")  # fmt: skip
    return int(seed)


class StateNoise(gym.Wrapper):
    """Gaussian noise (std ``sigma``, in the state's own units: m, quaternion, m, rad) added to
    observation.state at every step, from a generator seeded by the episode seed."""

    def __init__(self, env: gym.Env, sigma: float) -> None:
        super().__init__(env)
        self.sigma = float(sigma)
        self._rng = np.random.default_rng(0)

    def _noisy(self, obs: dict) -> dict:
        out = dict(obs)
        state = np.asarray(obs[OBS_STATE])
        noise = self._rng.normal(0.0, self.sigma, state.shape)
        out[OBS_STATE] = (state + noise).astype(state.dtype)
        return out

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._rng = np.random.default_rng([_episode_seed(seed, info), STATE_NOISE_STREAM])
        return self._noisy(obs), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._noisy(obs), reward, terminated, truncated, info


class ActionLatency(gym.Wrapper):
    """Actions reach the arm ``steps`` control steps late: step k executes action k - steps.

    The first ``steps`` steps execute a hold (no motion, the gripper kept as it is in the
    episode's first observation). ``executed`` is the last action sent to the arm.
    """

    def __init__(self, env: gym.Env, steps: int = 1) -> None:
        super().__init__(env)
        self.steps = int(steps)
        self._pending: deque[np.ndarray] = deque()
        self._hold = np.zeros(env.action_space.shape, np.float32)
        self.executed: np.ndarray | None = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._pending.clear()
        self._hold = hold_action(obs, self.env.action_space.shape)
        self.executed = None
        return obs, info

    def step(self, action):
        self._pending.append(np.array(action, dtype=np.float32, copy=True))
        late = len(self._pending) > self.steps
        self.executed = self._pending.popleft() if late else self._hold.copy()
        return self.env.step(self.executed)


def hold_action(obs: dict, shape: tuple[int, ...]) -> np.ndarray:
    """An EEF-delta action that keeps the arm still and the gripper as it is in ``obs``."""
    if shape != (7,):
        raise ValueError(f"latency needs the 7-d eef_delta action space, got shape {shape}")
    hold = np.zeros(shape, np.float32)
    opening = float(np.asarray(obs[OBS_STATE])[STATE_NAMES.index("gripper_opening")])
    hold[-1] = 1.0 if opening < GRIPPER_MAX_OPENING / 2 else -1.0  # > 0 closes the gripper
    return hold


class Paraphrase(gym.Wrapper):
    """The instruction (observation "task" and info["task"]) rewritten by
    ``sim.tasks.paraphrase`` with a generator seeded by the episode seed; the original stays in
    info["original_task"]."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.text: str | None = None
        self.original: str | None = None

    def _apply(self, obs: dict, info: dict) -> tuple[dict, dict]:
        obs, info = dict(obs), dict(info)
        obs[TASK], info["task"], info["original_task"] = self.text, self.text, self.original
        return obs, info

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        from sim.tasks.paraphrase import paraphrase

        obs, info = self.env.reset(seed=seed, options=options)
        rng = np.random.default_rng([_episode_seed(seed, info), PARAPHRASE_STREAM])
        self.original = str(info["task"])
        self.text = paraphrase(self.original, str(info["family"]), rng)
        return self._apply(obs, info)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        obs, info = self._apply(obs, info)
        return obs, reward, terminated, truncated, info


# ---- registry ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class PerturbSpec:
    """One kind of perturbation. ``default`` None: it takes no value. Exactly one of
    ``variation`` (value -> SceneVariation keyword arguments) and ``wrap`` (env, value -> env)."""

    description: str
    default: float | int | str | None
    unit: str = ""
    parse: Callable[[str], Any] = float
    check: Callable[[Any], str | None] = lambda value: None  # an error message, or None
    variation: Callable[[Any], dict[str, Any]] | None = None
    wrap: Callable[[gym.Env, Any], gym.Env] | None = None
    any_suite: bool = False  # works beyond pick_place (no scene, template or action assumption)

    @property
    def kind(self) -> str:
        return "scene" if self.variation is not None else "wrapper"


def _in(lo: float, hi: float, unit: str) -> Callable[[Any], str | None]:
    return lambda v: None if lo < v <= hi else f"must be in ({lo}, {hi}] {unit}".rstrip()


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    return lambda v: None if v in choices else f"must be one of {list(choices)}"


def _blend(a, b, w: float) -> tuple[float, ...]:
    return tuple(float((1 - w) * x + w * y) for x, y in zip(a, b, strict=True))


def _textures() -> tuple[str, ...]:
    from sim.variation import TEXTURES

    return TEXTURES


def _color(w: float) -> dict[str, Any]:
    from sim.variation import DEFAULT_FLOOR_RGBA, DEFAULT_TABLE_RGBA

    return {"table_rgba": _blend(DEFAULT_TABLE_RGBA, COLOR_TABLE_RGBA, w),
            "floor_rgba": _blend(DEFAULT_FLOOR_RGBA, COLOR_FLOOR_RGBA, w)}  # fmt: skip


PERTURBATIONS: dict[str, PerturbSpec] = {
    "camera_shift": PerturbSpec(
        "scene camera moved VALUE metres along (+x, +y, +z)/sqrt(3), same view direction",
        0.05, "m", check=_in(0.0, 0.2, "metres"),
        variation=lambda v: {"camera_shift_m": tuple(v * d for d in CAMERA_SHIFT_DIRECTION)}),
    "camera_rotate": PerturbSpec(
        "scene camera turned VALUE degrees in yaw (left) and VALUE in pitch (up)",
        5.0, "deg", check=_in(0.0, 30.0, "degrees"),
        variation=lambda v: {"camera_rotate_deg": (v, v)}),
    "lighting": PerturbSpec(
        "every light's intensity times VALUE (< 1 darker)", 0.5, "x",
        check=lambda v: None if 0.05 <= v <= 3.0 and v != 1.0 else "must be in [0.05, 3], not 1",
        variation=lambda v: {"light_scale": v}),
    "light_color": PerturbSpec(
        "warm light tint: green times 1 - VALUE/2, blue times 1 - VALUE", 0.4, "",
        check=_in(0.0, 1.0, ""), variation=lambda v: {"light_rgb": (1.0, 1 - v / 2, 1 - v)}),
    "color": PerturbSpec(
        "table and floor colours blended VALUE of the way to a muted green / lilac", 1.0, "",
        check=_in(0.0, 1.0, ""), variation=_color),
    "texture": PerturbSpec(
        "table top textured with pattern VALUE in its own colour", "checker", "", parse=str,
        check=lambda v: _one_of(_textures())(v), variation=lambda v: {"table_texture": v}),
    "distractors": PerturbSpec(
        "VALUE extra objects of shapes and colours no instruction names", 3, "", parse=int,
        check=lambda v: None if 1 <= v <= 4 else "must be an integer in [1, 4]",
        variation=lambda v: {"distractors": v}),
    "drop_wrist": PerturbSpec("wrist camera image all zeros", None, any_suite=True,
                              wrap=lambda env, v: DropCamera(env, "wrist")),
    "drop_scene": PerturbSpec("scene camera image all zeros", None, any_suite=True,
                              wrap=lambda env, v: DropCamera(env, "scene")),
    "state_noise": PerturbSpec(
        "Gaussian noise of std VALUE on observation.state (its units), seeded per episode",
        0.01, "", check=_in(0.0, 1.0, ""), any_suite=True,
        wrap=lambda env, v: StateNoise(env, v)),
    "latency": PerturbSpec(
        "actions executed VALUE control steps late (hold at first)", 1, "steps", parse=int,
        check=lambda v: None if 1 <= v <= 10 else "must be an integer in [1, 10]",
        wrap=lambda env, v: ActionLatency(env, v)),
    "paraphrase": PerturbSpec(
        "instruction rewritten by sim.tasks.paraphrase (never in training)", None,
        wrap=lambda env, v: Paraphrase(env)),
}  # fmt: skip


@dataclass(frozen=True)
class Perturbation:
    """One perturbation with its value: ``label`` is how reports name it ("camera_shift=0.05")."""

    name: str
    value: Any = None

    @property
    def spec(self) -> PerturbSpec:
        return PERTURBATIONS[self.name]

    @property
    def label(self) -> str:
        if self.value is None:
            return self.name
        return f"{self.name}={self.value:g}" if isinstance(self.value, float) else (
            f"{self.name}={self.value}")  # fmt: skip

    def variation(self) -> Any:
        """The SceneVariation of a scene perturbation (None for a wrapper)."""
        if self.spec.variation is None:
            return None
        from sim.variation import SceneVariation

        return SceneVariation(**self.spec.variation(self.value))

    def wrap(self, env: gym.Env) -> gym.Env:
        """The environment with a wrapper perturbation around it (unchanged for a scene one)."""
        return env if self.spec.wrap is None else self.spec.wrap(env, self.value)


DEFAULT_SUITE: tuple[Perturbation, ...] = tuple(
    Perturbation(name, spec.default) for name, spec in PERTURBATIONS.items()
)


def parse_perturbation(text: str) -> Perturbation:
    """``NAME`` or ``NAME=VALUE`` -> Perturbation; ValueError naming the fix otherwise."""
    name, has_value, raw = text.strip().partition("=")
    name = name.strip().replace("-", "_")
    if name not in PERTURBATIONS:
        close = difflib.get_close_matches(name, list(PERTURBATIONS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown perturbation {name!r}{hint}; known: "
                         f"{', '.join(PERTURBATIONS)}, or 'all'")  # fmt: skip
    spec = PERTURBATIONS[name]
    if spec.default is None:
        if has_value:
            raise ValueError(f"{name} takes no value: write --perturb {name}")
        return Perturbation(name)
    if not has_value:
        return Perturbation(name, spec.default)
    try:
        value = spec.parse(raw.strip())
    except ValueError:
        kind = ("an integer" if spec.parse is int else "a number") + (
            f" ({spec.unit})" if spec.unit else "")  # fmt: skip
        raise ValueError(f"{text!r}: VALUE must be {kind}, e.g. {name}={spec.default}") from None
    problem = spec.check(value)
    if problem:
        raise ValueError(f"{text!r}: {name} {problem} (default {spec.default})")
    return Perturbation(name, value)


def parse_perturbations(items: list[str] | tuple[str, ...]) -> tuple[Perturbation, ...]:
    """``--perturb`` arguments -> perturbations in the order given; ``all`` adds DEFAULT_SUITE.
    The same label twice is an error (the same name at two values is a dose series: fine)."""
    out: list[Perturbation] = []
    for item in items:
        for p in DEFAULT_SUITE if item.strip() == "all" else (parse_perturbation(item),):
            if p.label in {q.label for q in out}:
                raise ValueError(f"perturbation {p.label} given twice: drop one")
            out.append(p)
    if not out:
        raise ValueError(f"--perturb needs at least one of: {', '.join(PERTURBATIONS)}, or all")
    return tuple(out)
