"""Record teleoperated demonstrations in simulation into a LeRobot v3 dataset.

    every 1/fps s (time.perf_counter schedule):
        device.poll() -> events (start/finish/discard/reset/quit) + action (7,)
        recording?  writer.add_frame(obs_t, action_t, instruction); obs_{t+1} = env.step(action_t)
        status: OpenCV window (display) | one terminal line; optional preview PNG/MP4
    finish -> meta/vla_record.json entry (seed, family, ...) -> writer.save_episode()

A tick that starts after its deadline is a *late frame*: it is still recorded (the dataset's
timestamps are the nominal 1/fps grid), counted per episode and reported. The dataset writer
commits each saved episode atomically, so a SIGKILL loses at most the episode in progress and
``--resume`` continues with contiguous indices.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vla.constants import ACTION, CONTROL_HZ, DEFAULT_IMAGE_SIZE, IMAGE_KEYS, OBS_STATE, TASK
from vla.teleop import session_meta
from vla.teleop.devices import Event, TeleopDevice
from vla.teleop.status import StatusDisplay


@dataclass(frozen=True)
class RecordConfig:
    """One recording session. ``episodes`` counts episodes to keep in *this* session."""

    dataset: Path
    task: str = "pick"
    suite: str = "pick_place"
    backend: str = "mujoco"
    episodes: int = 1
    seed: int = 0
    split: str = "train"
    image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE
    fps: float = CONTROL_HZ
    resume: bool = False
    realtime: bool = True  # False: run as fast as possible (scripted devices, tests)
    preview: Path | None = None
    window: bool | None = None  # OpenCV window: None = when a display exists
    device_name: str = "device"

    def __post_init__(self) -> None:
        from vla.rollout.jobs import BACKENDS

        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.episodes < 1:
            raise ValueError(f"episodes must be >= 1, got {self.episodes}")
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if self.preview is not None and Path(self.preview).suffix.lower() not in (".png", ".mp4"):
            raise ValueError(f"--preview must end in .png or .mp4, got {self.preview}")


@dataclass
class SessionResult:
    """What a session did: saved episode indices, discarded attempts, late frames."""

    saved: list[int] = field(default_factory=list)
    discarded: int = 0
    late_frames: int = 0
    frames: int = 0
    quit: bool = False


def scene_seed(seed: int, episode_index: int, attempt: int) -> int:
    """Seed of the scene for dataset episode ``episode_index``, ``attempt``-th reset."""
    return int(np.random.SeedSequence([seed, episode_index, attempt]).generate_state(1)[0])


def open_writer(cfg: RecordConfig):
    """A DatasetWriter for cfg.dataset: new, or resumed (checking image size and fps)."""
    from vla.data import DatasetWriter, default_features

    root = Path(cfg.dataset)
    if cfg.resume:
        if not (root / "meta" / "info.json").exists():
            raise FileNotFoundError(f"--resume: {root} holds no dataset; drop --resume to create")
        writer = DatasetWriter.resume(root)
        want = list(cfg.image_size)
        for key in IMAGE_KEYS:
            have = list(writer.features[key]["shape"][:2])
            if have != want:
                raise ValueError(f"--resume: {root} has {key} of size {have}, this run {want}")
        if float(writer.fps) != float(cfg.fps):
            raise ValueError(f"--resume: {root} is at {writer.fps} fps, this run at {cfg.fps}")
        meta = session_meta.prune(session_meta.load(root), writer.num_episodes)
        session_meta.save(root, meta)
        return writer, meta
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} exists and is not empty; pass --resume to append to it")
    features = default_features(tuple(cfg.image_size), cfg.fps)
    writer = DatasetWriter(root, cfg.fps, features, robot_type="panda")
    meta = session_meta.load(root)
    session_meta.save(root, meta)
    return writer, meta


def log(message: str) -> None:
    """An event line on stdout (\\r\\n: the terminal may be in raw mode)."""
    sys.stdout.write(f"\r[record] {message}\r\n")
    sys.stdout.flush()


def record(cfg: RecordConfig, device: TeleopDevice) -> SessionResult:
    """Run one recording session with ``device``; returns what was kept. Always finalizes."""
    import sim

    # the env first: a bad family/suite/split fails before any dataset folder is created
    env = sim.make(cfg.task, cfg.backend, suite=cfg.suite, image_size=cfg.image_size,
                   split=cfg.split)  # fmt: skip
    try:
        writer, meta = open_writer(cfg)
    except BaseException:
        env.close()
        raise
    status = StatusDisplay(cfg.preview, window=cfg.window, fps=cfg.fps)
    result = SessionResult()
    period = 1.0 / cfg.fps
    attempt = 0
    seed = scene_seed(cfg.seed, writer.num_episodes, attempt)
    obs, info = env.reset(seed=seed)
    device.reset()
    recording, limit_hit, success = False, False, False
    steps, late, t_start = 0, 0, 0.0
    log(f"dataset {cfg.dataset}: {writer.num_episodes} episodes; press start (device: "
        f"{cfg.device_name}). Instruction: {info['task']}")  # fmt: skip

    def new_scene(next_attempt: int) -> None:
        nonlocal obs, info, seed, attempt, recording, limit_hit, success, steps, late
        attempt = next_attempt
        seed = scene_seed(cfg.seed, writer.num_episodes, attempt)
        obs, info = env.reset(seed=seed)
        device.reset()
        status.end_episode()
        recording, limit_hit, success, steps, late = False, False, False, 0, 0

    try:
        deadline = time.perf_counter()
        while len(result.saved) < cfg.episodes:
            step = device.poll()
            for event in step.events:
                if event is Event.QUIT:
                    result.quit = True
                elif event is Event.START and not recording:
                    recording, t_start = True, time.perf_counter()
                    log(f"recording episode {writer.num_episodes} (seed {seed}): {info['task']}")
                elif event is Event.FINISH and recording and writer.episode_buffer_length:
                    index = writer.num_episodes
                    meta["episodes"][str(index)] = {
                        "suite": cfg.suite, "family": cfg.task, "seed": seed, "split": cfg.split,
                        "backend": cfg.backend, "image_size": list(cfg.image_size),
                        "fps": cfg.fps, "device": cfg.device_name, "success": bool(success),
                        "late_frames": late, "steps": steps,
                        "wall_duration_s": round(time.perf_counter() - t_start, 3),
                    }  # fmt: skip
                    session_meta.save(cfg.dataset, meta)  # before the save: never an orphan
                    writer.save_episode()
                    result.saved.append(index)
                    log(f"saved episode {index}: {steps} frames, success={success}, "
                        f"late frames {late}")  # fmt: skip
                    new_scene(0)
                elif event in (Event.DISCARD, Event.RESET) and (recording or steps):
                    writer.discard_episode()
                    result.discarded += 1
                    log(f"{event.value}: dropped {steps} frames")
                    new_scene(attempt if event is Event.DISCARD else attempt + 1)
                elif event is Event.RESET:
                    new_scene(attempt + 1)
                if result.quit or len(result.saved) >= cfg.episodes:
                    break
            if result.quit or len(result.saved) >= cfg.episodes:
                break
            if recording and not limit_hit:
                action = np.asarray(step.action, dtype=np.float32)
                frame = {k: obs[k] for k in (*IMAGE_KEYS, OBS_STATE)}
                writer.add_frame({**frame, ACTION: action, TASK: info["task"]})
                obs, _, _, truncated, info = env.step(action)
                success = bool(info["is_success"])
                steps += 1
                result.frames += 1
                if truncated:
                    limit_hit = True
                    log(f"time limit ({steps} steps): finish to keep or discard to re-record")
            line = _status_line(cfg, writer, result, info, recording, steps, late, t_start,
                                success)  # fmt: skip
            status.update(obs, line, recording=recording)
            if not cfg.realtime:  # as fast as possible: no schedule, nothing can be late
                continue
            deadline += period
            now = time.perf_counter()
            if now > deadline:  # this tick overran: counted, schedule re-anchored (no bursts)
                if recording:
                    late += 1
                    result.late_frames += 1
                deadline = now
            else:
                time.sleep(deadline - now)
    except KeyboardInterrupt:
        result.quit = True
    finally:
        if writer.episode_buffer_length:
            log(f"dropping the unfinished episode ({writer.episode_buffer_length} frames)")
            writer.discard_episode()
        writer.finalize()
        status.close()
        env.close()
    log(f"session: kept {len(result.saved)} episode(s) {result.saved}, discarded "
        f"{result.discarded}, late frames {result.late_frames}; dataset has "
        f"{writer.num_episodes} episodes")  # fmt: skip
    return result


def _status_line(cfg: RecordConfig, writer: Any, result: SessionResult, info: dict,
                 recording: bool, steps: int, late: int, t_start: float,
                 success: bool) -> str:  # fmt: skip
    elapsed = time.perf_counter() - t_start if recording else 0.0
    state = "REC " if recording else "idle"
    return (f"{state} ep {len(result.saved) + 1}/{cfg.episodes} (#{writer.num_episodes}) "
            f"{elapsed:5.1f}s {steps:4d} steps success={'YES' if success else 'no '} "
            f"late={late} | {info['task']}")  # fmt: skip
