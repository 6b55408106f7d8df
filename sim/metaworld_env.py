"""Meta-World MT50 behind our environment contract (the adapter of an external benchmark).

    reset(seed) -> Meta-World env.seed(seed) -> reset() (object/goal placement drawn from it)
        -> raw 39-D observation (hand, gripper, objects, previous frame, goal)
        -> {observation.images.scene|wrist (our renderer), observation.state (raw[:4]), task}
    step(action (4,)) -> validate, clip to [-1, 1] -> Meta-World step (5 x 2.5 ms substeps)
        -> info["success"] -> reward / terminated; max_steps -> truncated

What maps to what (and why):

- ``observation.images.scene``: Meta-World's ``corner2`` camera moved to (0.75, 0.075, 0.7)
  and rotated 180 degrees, exactly the view of LeRobot's Meta-World environment (the camera
  SmolVLA's MT50 numbers were measured with; the camera itself is mounted upside down).
  ``observation.images.wrist``: ``gripperPOV``, the camera on the Sawyer's hand. Both are
  rendered by our own ``mujoco.Renderer`` at ``image_size`` (MUJOCO_GL=egl offscreen), with a
  smaller shadow map than Meta-World's (``SHADOW_SIZE``: GPU memory over 50 task models).
- ``observation.state``: the first 4 numbers of Meta-World's observation -- hand position
  (m) and finger separation (0..1) -- the proprioception LeRobot/SmolVLA use. The objects and
  the goal (the rest of the 39 numbers) are privileged: only the scripted expert reads them
  (``raw_observation``), as our own experts read the physics.
- ``action``: Meta-World's own 4-D action (vla.constants.ACTION_SPACE_METAWORLD).
- ``task``: the task's fixed English instruction (sim/tasks/metaworld_tasks.py).
- success: ``info["success"]`` of Meta-World's step; the episode terminates on it (as in
  LeRobot's evaluation), else truncates after ``max_steps`` (default 500, Meta-World's horizon).

Episodes are seeded: Meta-World draws the object and goal placement from the env's generator
when ``seeded_rand_vec`` is set, so the same seed gives the same episode in any process.
"""

from __future__ import annotations

import pickle
import warnings
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from sim.physics.gl import default_mujoco_gl
from sim.tasks.metaworld_tasks import MT50, MetaWorldTask
from vla.constants import (
    ACTION_SPACE_METAWORLD,
    CAMERAS,
    METAWORLD_CONTROL_HZ,
    OBS_IMAGES_PREFIX,
    OBS_STATE,
    TASK,
)

# GPU memory per rendered task model: Meta-World asks for a 4096^2 shadow map (64 MB) and a
# 640x480 4x-multisampled offscreen buffer (~10 MB) per model context. A generation or eval
# worker keeps all 50 task models (16 workers: 800 contexts, ~60 GB), so the adapter renders
# with a 2048^2 shadow map (16 MB) into an image-sized buffer. Measured on one 128x128 frame
# (pick-place-v3, scene camera): 45 of 16384 pixels move by more than 8 levels (shadow edges;
# mean difference 0.04 levels), the rest is byte-identical; the buffer size changes no pixel.
SHADOW_SIZE = 2048
SCENE_CAMERA = "corner2"
SCENE_CAMERA_POS = (0.75, 0.075, 0.7)  # LeRobot's corner2 placement (after arXiv:2206.14244)
WRIST_CAMERA = "gripperPOV"
#: our camera name -> (Meta-World camera, rotate the image 180 degrees)
CAMERA_MAP: dict[str, tuple[str, bool]] = {
    "scene": (SCENE_CAMERA, True),
    "wrist": (WRIST_CAMERA, False),
}
STATE_DIM = 4
ACTION_DIM = 4
INSTALL_HINT = "pip install -e '.[metaworld]' (metaworld==3.1.1, which pins mujoco==3.3.0)"

#: task -> its scripted policy class in ``metaworld.policies`` (Meta-World's own experts)
POLICY_CLASSES: dict[str, str] = {
    "assembly-v3": "SawyerAssemblyV3Policy",
    "basketball-v3": "SawyerBasketballV3Policy",
    "bin-picking-v3": "SawyerBinPickingV3Policy",
    "box-close-v3": "SawyerBoxCloseV3Policy",
    "button-press-topdown-v3": "SawyerButtonPressTopdownV3Policy",
    "button-press-topdown-wall-v3": "SawyerButtonPressTopdownWallV3Policy",
    "button-press-v3": "SawyerButtonPressV3Policy",
    "button-press-wall-v3": "SawyerButtonPressWallV3Policy",
    "coffee-button-v3": "SawyerCoffeeButtonV3Policy",
    "coffee-pull-v3": "SawyerCoffeePullV3Policy",
    "coffee-push-v3": "SawyerCoffeePushV3Policy",
    "dial-turn-v3": "SawyerDialTurnV3Policy",
    "disassemble-v3": "SawyerDisassembleV3Policy",
    "door-close-v3": "SawyerDoorCloseV3Policy",
    "door-lock-v3": "SawyerDoorLockV3Policy",
    "door-open-v3": "SawyerDoorOpenV3Policy",
    "door-unlock-v3": "SawyerDoorUnlockV3Policy",
    "drawer-close-v3": "SawyerDrawerCloseV3Policy",
    "drawer-open-v3": "SawyerDrawerOpenV3Policy",
    "faucet-close-v3": "SawyerFaucetCloseV3Policy",
    "faucet-open-v3": "SawyerFaucetOpenV3Policy",
    "hammer-v3": "SawyerHammerV3Policy",
    "hand-insert-v3": "SawyerHandInsertV3Policy",
    "handle-press-side-v3": "SawyerHandlePressSideV3Policy",
    "handle-press-v3": "SawyerHandlePressV3Policy",
    "handle-pull-side-v3": "SawyerHandlePullSideV3Policy",
    "handle-pull-v3": "SawyerHandlePullV3Policy",
    "lever-pull-v3": "SawyerLeverPullV3Policy",
    "peg-insert-side-v3": "SawyerPegInsertionSideV3Policy",
    "peg-unplug-side-v3": "SawyerPegUnplugSideV3Policy",
    "pick-out-of-hole-v3": "SawyerPickOutOfHoleV3Policy",
    "pick-place-v3": "SawyerPickPlaceV3Policy",
    "pick-place-wall-v3": "SawyerPickPlaceWallV3Policy",
    "plate-slide-back-side-v3": "SawyerPlateSlideBackSideV3Policy",
    "plate-slide-back-v3": "SawyerPlateSlideBackV3Policy",
    "plate-slide-side-v3": "SawyerPlateSlideSideV3Policy",
    "plate-slide-v3": "SawyerPlateSlideV3Policy",
    "push-back-v3": "SawyerPushBackV3Policy",
    "push-v3": "SawyerPushV3Policy",
    "push-wall-v3": "SawyerPushWallV3Policy",
    "reach-v3": "SawyerReachV3Policy",
    "reach-wall-v3": "SawyerReachWallV3Policy",
    "shelf-place-v3": "SawyerShelfPlaceV3Policy",
    "soccer-v3": "SawyerSoccerV3Policy",
    "stick-pull-v3": "SawyerStickPullV3Policy",
    "stick-push-v3": "SawyerStickPushV3Policy",
    "sweep-into-v3": "SawyerSweepIntoV3Policy",
    "sweep-v3": "SawyerSweepV3Policy",
    "window-close-v3": "SawyerWindowCloseV3Policy",
    "window-open-v3": "SawyerWindowOpenV3Policy",
}


@dataclass(frozen=True)
class MetaWorldConfig:
    """One MT50 environment instance (validated on construction; errors name the fix)."""

    task: str
    backend: str = "mujoco"
    suite: str = "mt50"
    image_size: tuple[int, int] = (128, 128)
    split: str = "train"
    max_steps: int | None = None  # None: Meta-World's horizon (500)
    action_space: str = ACTION_SPACE_METAWORLD
    render: bool = True

    def __post_init__(self) -> None:
        if self.task not in MT50:
            raise ValueError(f"unknown task {self.task!r} in suite 'mt50'; valid: {list(MT50)}")
        if self.backend != "mujoco":
            raise ValueError(f"Meta-World runs in MuJoCo only: use backend='mujoco', not "
                             f"{self.backend!r}")  # fmt: skip
        if self.split != "train":
            raise ValueError(f"MT50 has one split ('train': every task, objects and goals at "
                             f"random); got split={self.split!r}")  # fmt: skip
        if self.action_space != ACTION_SPACE_METAWORLD:
            raise ValueError(f"Meta-World's action space is {ACTION_SPACE_METAWORLD!r} (4-D); "
                             f"got {self.action_space!r}")  # fmt: skip
        h, w = self.image_size
        if not (isinstance(h, int) and isinstance(w, int) and 16 <= h <= 1024 and 16 <= w <= 1024):
            raise ValueError(f"image_size must be two ints (height, width) in [16, 1024], got "
                             f"{self.image_size}")  # fmt: skip
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1 or None, got {self.max_steps}")


def import_metaworld():
    """The ``metaworld`` package, or an ImportError that says how to install it."""
    default_mujoco_gl()  # metaworld imports mujoco, whose GL back end our renderer uses
    try:
        import metaworld
        import metaworld.policies  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"the mt50 suite needs the optional package metaworld: {INSTALL_HINT}"
                          f" ({exc})") from exc  # fmt: skip
    return metaworld


def _build_metaworld_env(name: str):
    """Meta-World's environment of ``name`` with the goal observable (the MT setting, which its
    scripted policies read) and placement drawn from its seeded generator at every reset."""
    import_metaworld()
    from metaworld.env_dict import MT50_V3
    from metaworld.types import Task as MWTask

    cls = MT50_V3[name]
    env = cls()
    space = env._random_reset_space
    # set_task needs a placement; the midpoint is never used: the seeded generator replaces it
    # at the first reset (MT1/MT50 would instead draw and store 50 placements, ~0.9 s per task).
    data = {"rand_vec": (space.low + space.high) / 2, "env_cls": cls, "partially_observable": False}
    env.set_task(MWTask(env_name=name, data=pickle.dumps(data)))
    env._freeze_rand_vec = False
    env.seeded_rand_vec = True
    return env


class MetaWorldEnv(gym.Env):
    """One MT50 task as a gymnasium env with our observation keys (module docstring).

    Reward: 1.0 on the step ``info["success"]`` holds, else 0.0; terminated on success;
    truncated after ``max_steps`` steps. ``render()`` returns scene | wrist side by side.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": int(METAWORLD_CONTROL_HZ)}

    def __init__(self, config: MetaWorldConfig, render_mode: str | None = None):
        default_mujoco_gl()  # before mujoco is imported: this env renders with mujoco.Renderer
        import mujoco

        self.config = config
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if render_mode == "rgb_array" and not config.render:
            raise ValueError("render_mode='rgb_array' needs render=True")
        self.render_mode = render_mode
        self.spec_task: MetaWorldTask = MT50[config.task]
        self.max_steps = config.max_steps or self.spec_task.max_steps
        self._mw = _build_metaworld_env(config.task)
        self._mw.max_path_length = self.max_steps  # Meta-World refuses steps past its horizon
        model = self._mw.model
        cam_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, SCENE_CAMERA)
        model.cam_pos[cam_id] = SCENE_CAMERA_POS
        self._renderer = None
        if config.render:
            h, w = config.image_size
            model.vis.quality.shadowsize = SHADOW_SIZE  # see SHADOW_SIZE
            model.vis.global_.offwidth, model.vis.global_.offheight = w, h
            self._renderer = mujoco.Renderer(model, h, w)
        h, w = config.image_size
        spaces: dict[str, gym.Space] = {
            OBS_STATE: gym.spaces.Box(-np.inf, np.inf, (STATE_DIM,), np.float32),
            TASK: gym.spaces.Text(200, charset=_CHARSET),
        }
        if config.render:
            for cam in CAMERAS:
                spaces[OBS_IMAGES_PREFIX + cam] = gym.spaces.Box(0, 255, (h, w, 3), np.uint8)
        self.observation_space = gym.spaces.Dict(spaces)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32)
        self.raw_observation: np.ndarray | None = None  # Meta-World's 39-D obs (privileged)
        self.episode_seed: int | None = None
        self.steps = 0
        self._last_obs: dict | None = None

    # ---- what the rest of the stack reads ------------------------------------------------------
    @property
    def family(self) -> str:
        return self.config.task

    @property
    def instruction(self) -> str:
        return self.spec_task.instruction

    def make_expert(self) -> MetaWorldExpert:
        """Meta-World's own scripted policy for this task (``sim.experts.make_expert`` calls
        this for environments that bring their own experts)."""
        return MetaWorldExpert(self)

    def render_camera(self, camera: str) -> np.ndarray:
        """One of our cameras ("scene" / "wrist") as uint8 (H, W, 3)."""
        if self._renderer is None:
            raise RuntimeError("this environment was made with render=False")
        name, rotate = CAMERA_MAP[camera]
        self._renderer.update_scene(self._mw.data, camera=name)
        image = self._renderer.render()
        return np.ascontiguousarray(image[::-1, ::-1] if rotate else image)

    def _observation(self) -> dict:
        obs = {OBS_STATE: self.raw_observation[:STATE_DIM].astype(np.float32),
               TASK: self.instruction}  # fmt: skip
        if self.config.render:
            for cam in CAMERAS:
                obs[OBS_IMAGES_PREFIX + cam] = self.render_camera(cam)
        return obs

    def _info(self, success: bool) -> dict:
        return {"task": self.instruction, "family": self.family, "is_success": bool(success),
                "difficulty": self.spec_task.difficulty, "split": self.config.split,
                "episode_seed": self.episode_seed, "steps": self.steps}  # fmt: skip

    # ---- gymnasium --------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode; with `seed` exactly that seed's placement, else the next seed drawn
        from the env's generator."""
        super().reset(seed=seed)
        self.episode_seed = int(seed) if seed is not None else int(
            self.np_random.integers(2**31 - 1))  # fmt: skip
        self._mw.seed(self.episode_seed)
        raw, _ = self._mw.reset()
        self.raw_observation = np.asarray(raw, dtype=np.float64)
        self.steps = 0
        self._last_obs = self._observation()
        return self._last_obs, self._info(False)

    def step(self, action):
        if self.raw_observation is None:
            raise RuntimeError("call reset() before step()")
        a = np.asarray(action, dtype=np.float64)
        if a.shape != (ACTION_DIM,):
            raise ValueError(f"action must have shape ({ACTION_DIM},) for Meta-World "
                             f"(dx, dy, dz, gripper), got shape {a.shape}")  # fmt: skip
        if not np.all(np.isfinite(a)):
            raise ValueError(f"action has non-finite values: {a}")
        raw, _, _, _, info = self._mw.step(np.clip(a, -1.0, 1.0).astype(np.float32))
        self.raw_observation = np.asarray(raw, dtype=np.float64)
        self.steps += 1
        success = bool(info["success"])
        truncated = bool(not success and self.steps >= self.max_steps)
        self._last_obs = self._observation()
        return self._last_obs, float(success), success, truncated, self._info(success)

    def render(self):
        if self.render_mode != "rgb_array" or self._last_obs is None:
            return None
        return np.concatenate([self._last_obs[OBS_IMAGES_PREFIX + c] for c in CAMERAS], axis=1)

    def close(self):
        if self._renderer is not None:
            self._renderer.close()  # explicitly: a renderer freed at exit prints EGL noise
            self._renderer = None
        self._mw.close()


class MetaWorldExpert:
    """Meta-World's scripted policy for the env's task, behind our expert interface
    (``reset()``, ``select_action(obs) -> (4,)``). It reads the privileged 39-D observation;
    actions are clipped to [-1, 1], what the environment applies and what the dataset stores."""

    def __init__(self, env):
        self.env = env.unwrapped
        policies = import_metaworld().policies
        self.policy = getattr(policies, POLICY_CLASSES[self.env.family])()
        # metaworld.policies.move() warns whenever its P-gain saturates (most steps); the env
        # clips, as the warning itself says
        warnings.filterwarnings("ignore", message=r"Constant\(s\) may be too high")

    def reset(self) -> None:
        """Meta-World's policies are stateless: nothing to forget."""

    def select_action(self, obs) -> np.ndarray:
        action = self.policy.get_action(self.env.raw_observation)
        return np.clip(np.asarray(action, dtype=np.float32), -1.0, 1.0)


_CHARSET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.'-"


def make_env(
    task: str,
    backend: str = "mujoco",
    *,
    suite: str = "mt50",
    seed: int | None = None,
    image_size: tuple[int, int] = (128, 128),
    split: str = "train",
    max_steps: int | None = None,
    action_space: str | None = None,
    render: bool = True,
    render_mode: str | None = None,
) -> MetaWorldEnv:
    """An MT50 task as a gymnasium env; ``sim.make(task, suite="mt50", ...)`` lands here."""
    config = MetaWorldConfig(task, backend, suite, tuple(int(s) for s in image_size), split,
                             max_steps, action_space or ACTION_SPACE_METAWORLD, render)  # fmt: skip
    env = MetaWorldEnv(config, render_mode=render_mode)
    if seed is not None:
        env.np_random, _ = gym.utils.seeding.np_random(seed)
    return env
