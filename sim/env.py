"""The generic stepping loop (Environment) and its gymnasium face (PickPlaceEnv, sim.make).

    reset(seed) -> Task.sample_episode(rng(seed)) -> Physics.build(scene) -> observation
    step(action) -> Controller.step (validate/clip -> IK -> N substeps) -> observation,
                    Task.success(physics) -> reward / terminated, step count -> truncated

Observation (dict, keys from vla.constants):
    observation.images.scene, observation.images.wrist: uint8 (H, W, 3) (absent with render=False)
    observation.state: float32 (15,), layout vla.constants.STATE_NAMES
    task: the instruction (gymnasium.spaces.Text; also in info["task"])
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass, replace

import gymnasium as gym
import numpy as np

from sim.controller import JOINT_ACTION_DIM, Controller, ControllerConfig, table_workspace
from sim.physics.base import Physics
from sim.tasks import SPLITS, SUITES, Episode, Task, get_task
from sim.variation import SceneVariation, variation_for_episode
from vla.constants import (
    ACTION_SPACE_EEF_DELTA,
    ACTION_SPACES,
    CAMERAS,
    EEF_ACTION_HIGH,
    EEF_ACTION_LOW,
    OBS_IMAGES_PREFIX,
    OBS_STATE,
    TASK,
)
from vla.robot.panda import GRIPPER_MAX_OPENING

SETTLE_SUBSTEPS = 20  # after building a scene, let objects come to rest before observing
INSTRUCTION_CHARSET = string.ascii_letters + string.digits + " ,.'-"
INSTRUCTION_MAX_LEN = 200


def _mujoco(image_size: tuple[int, int], render: bool) -> Physics:
    from sim.physics.mujoco_physics import MuJoCoPhysics

    return MuJoCoPhysics(image_size=image_size, render=render)


def _pybullet(image_size: tuple[int, int], render: bool) -> Physics:
    from sim.physics.pybullet_physics import PyBulletPhysics

    return PyBulletPhysics(image_size=image_size, render=render)


#: backend name -> factory(image_size, render) -> Physics (engines are imported lazily)
BACKENDS: dict[str, Callable[[tuple[int, int], bool], Physics]] = {
    "mujoco": _mujoco,
    "pybullet": _pybullet,
}


def _metaworld(task: str, backend: str, **kwargs) -> gym.Env:
    from sim.metaworld_env import make_env  # needs the optional metaworld package

    return make_env(task, backend, **kwargs)


#: backend -> SceneVariation fields (and the value) a *randomised* draw leaves at default there,
#: because that engine cannot apply them; a fixed EnvConfig.variation setting them raises instead
RANDOMIZE_UNSUPPORTED: dict[str, dict[str, object]] = {"pybullet": {"table_texture": None}}


#: suites simulated by another benchmark's own environments: suite -> factory taking make()'s
#: arguments (MuJoCo only)
EXTERNAL_SUITES: dict[str, Callable[..., gym.Env]] = {"mt50": _metaworld}


@dataclass(frozen=True)
class EnvConfig:
    """Everything that defines an environment instance (validated on construction)."""

    task: str = "pick"
    backend: str = "mujoco"
    suite: str = "pick_place"
    image_size: tuple[int, int] = (128, 128)
    split: str = "train"
    max_steps: int | None = None  # None -> the family's default
    action_space: str = ACTION_SPACE_EEF_DELTA
    render: bool = True
    # Scene variation (sim/variation.py): one fixed variation for every episode, or `randomize`
    # > 0: a fresh one per episode (sample_variation's strength; 1 = the training range) drawn
    # from the episode seed's own stream, so the task's scene and instruction never change.
    variation: SceneVariation | None = None
    randomize: float = 0.0

    def __post_init__(self) -> None:
        get_task(self.suite, self.task)  # raises with the valid names
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; valid backends: {list(BACKENDS)}")
        if self.split not in SPLITS:
            raise ValueError(f"unknown split {self.split!r}; valid splits: {list(SPLITS)}")
        if self.action_space not in ACTION_SPACES:
            raise ValueError(f"unknown action_space {self.action_space!r}; valid: {ACTION_SPACES}")
        h, w = self.image_size
        if not (isinstance(h, int) and isinstance(w, int) and 16 <= h <= 1024 and 16 <= w <= 1024):
            raise ValueError(f"image_size must be two ints (height, width) in [16, 1024], got "
                             f"{self.image_size}")  # fmt: skip
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1 or None, got {self.max_steps}")
        if self.variation is not None and not isinstance(self.variation, SceneVariation):
            raise ValueError(f"variation must be a sim.variation.SceneVariation or None, got "
                             f"{type(self.variation).__name__}")  # fmt: skip
        if not isinstance(self.randomize, (int, float)) or not 0.0 <= self.randomize <= 2.0:
            raise ValueError(f"randomize must be in [0, 2] (0 = off, 1 = the training range), "
                             f"got {self.randomize!r}")  # fmt: skip
        if self.variation is not None and self.randomize > 0:
            raise ValueError("variation (one fixed variation) and randomize (a random one per "
                             "episode) exclude each other: set one of them")  # fmt: skip


def state_bounds() -> tuple[np.ndarray, np.ndarray]:
    """Bounds of observation.state: TCP within 2 m of the base, a unit quaternion, the gripper
    opening, joint limits widened by 0.1 rad (position servos may overshoot a limit slightly)."""
    lo, hi = Controller.joint_limits()
    low = np.concatenate([[-2.0] * 3, [-1.0] * 4, [0.0], lo - 0.1]).astype(np.float32)
    high = np.concatenate([[2.0] * 3, [1.0] * 4, [GRIPPER_MAX_OPENING + 0.005], hi + 0.1])
    return low, high.astype(np.float32)


class Environment:
    """Engine-agnostic episode loop over one Task, one Physics and one Controller."""

    def __init__(self, task: Task, physics: Physics, config: EnvConfig):
        self.task, self.physics, self.config = task, physics, config
        low, high = table_workspace()
        self.controller = Controller(
            physics,
            ControllerConfig(
                action_space=config.action_space, workspace_low=low, workspace_high=high
            ),
        )
        self.max_steps = config.max_steps or task.max_steps
        self.episode: Episode | None = None
        self.variation: SceneVariation | None = None  # this episode's (None: the default scene)
        self.steps = 0

    def reset(self, seed: int) -> dict:
        """Sample and build the episode of `seed`; return the first observation. The variation
        has its own stream: the episode (objects, poses, instruction) is the same without it."""
        rng = np.random.default_rng(seed)
        self.episode = self.task.sample_episode(rng, self.config.split, self.config.image_size)
        cfg = self.config
        self.variation = variation_for_episode(seed, cfg.randomize, cfg.variation)
        if cfg.randomize > 0 and cfg.backend in RANDOMIZE_UNSUPPORTED:
            self.variation = replace(self.variation, **RANDOMIZE_UNSUPPORTED[cfg.backend])
        scene = self.episode.scene
        if self.variation is not None:
            scene = replace(scene, variation=self.variation)
        self.physics.build(scene)
        self.physics.step(SETTLE_SUBSTEPS)
        self.steps = 0
        return self.observation()

    def step(self, action) -> tuple[dict, bool, np.ndarray]:
        """Apply one action. Returns (observation, success, clipped action)."""
        if self.episode is None:
            raise RuntimeError("call reset() before step()")
        applied = self.controller.step(action)  # raises ValueError before touching physics
        self.steps += 1
        return self.observation(), self.success(), applied

    def success(self) -> bool:
        return self.task.success(self.physics, self.episode)

    def state(self) -> np.ndarray:
        """observation.state: TCP position, TCP quaternion (w >= 0), gripper opening, joints."""
        pos, quat = self.physics.ee_pose()
        quat = quat if quat[0] >= 0 else -quat
        state = np.concatenate([pos, quat, [self.physics.gripper_opening()],
                                self.physics.joint_positions()])  # fmt: skip
        return state.astype(np.float32)

    def observation(self) -> dict:
        obs = {OBS_STATE: self.state(), TASK: self.episode.instruction}
        if self.config.render:
            for cam in CAMERAS:
                obs[OBS_IMAGES_PREFIX + cam] = self.physics.render(cam)
        return obs


class PickPlaceEnv(gym.Env):
    """gymnasium environment of one task family in one engine.

    Reward: 1.0 on the step the goal holds, else 0.0. terminated: the goal holds
    (info["is_success"]); truncated: max_steps control steps elapsed. render() returns the scene
    and wrist images side by side (render_mode "rgb_array").
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, config: EnvConfig | None = None, render_mode: str | None = None):
        self.config = config or EnvConfig()
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if render_mode == "rgb_array" and not self.config.render:
            raise ValueError("render_mode='rgb_array' needs render=True")
        self.render_mode = render_mode
        task = get_task(self.config.suite, self.config.task)
        physics = BACKENDS[self.config.backend](self.config.image_size, self.config.render)
        self.env = Environment(task, physics, self.config)
        h, w = self.config.image_size
        spaces: dict[str, gym.Space] = {
            OBS_STATE: gym.spaces.Box(*state_bounds(), dtype=np.float32),
            TASK: gym.spaces.Text(INSTRUCTION_MAX_LEN, charset=INSTRUCTION_CHARSET),
        }
        if self.config.render:
            for cam in CAMERAS:
                spaces[OBS_IMAGES_PREFIX + cam] = gym.spaces.Box(0, 255, (h, w, 3), np.uint8)
        self.observation_space = gym.spaces.Dict(spaces)
        if self.config.action_space == ACTION_SPACE_EEF_DELTA:
            self.action_space = gym.spaces.Box(EEF_ACTION_LOW, EEF_ACTION_HIGH, dtype=np.float32)
        else:
            lo, hi = Controller.joint_limits()
            self.action_space = gym.spaces.Box(
                np.append(lo, -1.0).astype(np.float32),
                np.append(hi, 1.0).astype(np.float32),
                shape=(JOINT_ACTION_DIM,),
                dtype=np.float32,
            )
        self._last_obs: dict | None = None
        self.episode_seed: int | None = None

    @property
    def physics(self) -> Physics:
        return self.env.physics

    @property
    def episode(self) -> Episode | None:
        return self.env.episode

    @property
    def family(self) -> str:
        return self.env.task.family

    def _info(self, success: bool) -> dict:
        ep = self.env.episode
        return {
            "task": ep.instruction, "family": ep.family, "is_success": bool(success),
            "target": ep.target, "goal": ep.goal, "split": ep.split,
            "heldout_object": ep.heldout_object, "heldout_phrasing": ep.heldout_phrasing,
            "episode_seed": self.episode_seed, "steps": self.env.steps,
            "variation": self.env.variation,
        }  # fmt: skip

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode. With `seed`, the episode is exactly that seed's (same scene, same
        instruction in every engine); without, the next seed drawn from the env's generator."""
        super().reset(seed=seed)
        self.episode_seed = int(seed) if seed is not None else int(
            self.np_random.integers(2**31 - 1))  # fmt: skip
        obs = self.env.reset(self.episode_seed)
        self._last_obs = obs
        return obs, self._info(False)

    def step(self, action):
        obs, success, _ = self.env.step(action)
        self._last_obs = obs
        truncated = bool(not success and self.env.steps >= self.env.max_steps)
        return obs, float(success), bool(success), truncated, self._info(success)

    def render(self):
        if self.render_mode != "rgb_array" or self._last_obs is None:
            return None
        return np.concatenate([self._last_obs[OBS_IMAGES_PREFIX + c] for c in CAMERAS], axis=1)

    def close(self):
        self.env.physics.close()


def make(
    task: str = "pick",
    backend: str = "mujoco",
    *,
    suite: str = "pick_place",
    seed: int | None = None,
    image_size: tuple[int, int] = (128, 128),
    split: str = "train",
    max_steps: int | None = None,
    action_space: str | None = None,
    render: bool = True,
    render_mode: str | None = None,
    variation: SceneVariation | None = None,
    randomize: float = 0.0,
) -> gym.Env:
    """A gymnasium environment of `task` (a family of `suite`) in `backend`.

    Unknown names raise ValueError listing the valid ones. `seed` seeds the env's generator
    (episodes without an explicit reset seed draw from it). `action_space` None: the suite's
    own (eef_delta for pick_place). Suites in EXTERNAL_SUITES run in another benchmark's
    environments behind the same observation keys (e.g. "mt50": sim/metaworld_env.py).
    `variation` / `randomize`: scene variation (see EnvConfig; sim/variation.py).
    """
    if suite in EXTERNAL_SUITES:
        if variation is not None or randomize:
            raise ValueError(f"scene variation is implemented for the pick_place suites, not "
                             f"{suite!r}: leave variation and randomize unset")  # fmt: skip
        return EXTERNAL_SUITES[suite](task, backend, suite=suite, seed=seed,
                                      image_size=image_size, split=split, max_steps=max_steps,
                                      action_space=action_space, render=render,
                                      render_mode=render_mode)  # fmt: skip
    config = EnvConfig(task, backend, suite, tuple(int(s) for s in image_size), split,
                       max_steps, action_space or ACTION_SPACE_EEF_DELTA, render, variation,
                       float(randomize))  # fmt: skip
    env = PickPlaceEnv(config, render_mode=render_mode)
    if seed is not None:
        env.np_random, _ = gym.utils.seeding.np_random(seed)
    return env


def gym_id(suite: str, task: str, backend: str) -> str:
    """gymnasium id of a suite/task/backend, e.g. "sim/PickPlace-pick-mujoco-v0"."""
    camel = "".join(part.capitalize() for part in suite.split("_"))
    return f"sim/{camel}-{task}-{backend}-v0"


def register_envs() -> list[str]:
    """Register every suite x task x backend with gymnasium (idempotent); returns the ids."""
    ids = []
    for suite, tasks in SUITES.items():
        backends = ("mujoco",) if suite in EXTERNAL_SUITES else BACKENDS  # Meta-World: MuJoCo
        for task in tasks:
            for backend in backends:
                env_id = gym_id(suite, task, backend)
                if env_id not in gym.registry:
                    gym.register(
                        env_id,
                        entry_point=make,
                        kwargs=dict(task=task, backend=backend, suite=suite),
                        disable_env_checker=False,
                    )
                ids.append(env_id)
    return ids
