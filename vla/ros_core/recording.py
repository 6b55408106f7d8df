"""Synchronised episode recording into the project's LeRobot v3 dataset, without ROS.

    cameras ----+  (latest sample per stream, with its stamp)
    joints -----+--> sample(now) at the dataset fps: every stream fresh? --yes--> add_frame
    command ----+                                                       --no---> skipped += 1
    instruction-+
    start / stop (save) / discard  (topic words or std_srvs/Trigger services in the node)

The recorded ``action`` is in the dataset's action space (EEF delta + gripper, vla.constants):
a joint command is labelled with the TCP pose change from the measured to the commanded joint
position (``kinematics.pose_delta``), a twist command with twist * frame period; both are
clipped to ``EEF_ACTION_LOW/HIGH`` (the count is reported). Gripper: +1 close, -1 open, from the
last gripper command, else from the measured opening.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from vla.constants import (
    ACTION,
    EEF_ACTION_HIGH,
    EEF_ACTION_LOW,
    OBS_IMAGES_PREFIX,
    OBS_STATE,
    TASK,
)
from vla.robot.kinematics import pose_delta
from vla.ros_core.images import resize_rgb
from vla.ros_core.node_configs import RecorderConfig
from vla.ros_core.policy_loop import build_state

NS = 1_000_000_000


def _finite(what: str, values, size: int) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.shape != (size,):
        raise ValueError(f"{what}: expected {size} values, got {arr.shape[0]}; dropped")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} is not finite ({arr.tolist()}); dropped")
    return arr


@dataclass
class RecorderStats:
    """Counters for the status topic."""

    frames: int = 0
    skipped_stale: int = 0
    clipped_actions: int = 0
    episodes_saved: int = 0
    episodes_discarded: int = 0


class EpisodeRecorder:
    """Latest-sample synchroniser + episode state machine over a ``DatasetWriter``."""

    def __init__(self, config: RecorderConfig, writer_factory: Callable[[], Any]):
        self.config = config
        self._writer_factory = writer_factory
        self._writer = None
        self.recording = False
        self.stats = RecorderStats()
        self._images: dict[str, tuple[np.ndarray, int]] = {}
        self._joints: tuple[np.ndarray, float, int] | None = None
        self._joint_cmd: tuple[np.ndarray, int] | None = None
        self._twist_cmd: tuple[np.ndarray, int] | None = None
        self._gripper_cmd: float | None = None
        self._task: str | None = None
        self.last_action: np.ndarray | None = None  # the action of the last frame added

    # ---- streams --------------------------------------------------------------------------------
    def set_image(self, camera: str, rgb: np.ndarray, stamp_ns: int) -> None:
        size = (self.config.image_height, self.config.image_width)
        self._images[camera] = (resize_rgb(rgb, size), stamp_ns)

    # A non-finite value raises ValueError (the node logs it and drops the message): recorded,
    # it would poison the dataset's statistics and every model trained on them.
    def set_joint_state(self, q, gripper_opening: float, stamp_ns: int) -> None:
        q = _finite("joint state", q, 7)
        self._joints = (q, float(_finite("gripper opening", [gripper_opening], 1)[0]), stamp_ns)

    def set_joint_command(self, q_target, stamp_ns: int) -> None:
        self._joint_cmd = (_finite("joint command", q_target, 7), stamp_ns)

    def set_twist_command(self, twist, stamp_ns: int) -> None:
        self._twist_cmd = (_finite("twist command", twist, 6), stamp_ns)

    def set_gripper_command(self, opening: float) -> None:
        self._gripper_cmd = float(_finite("gripper command", [opening], 1)[0])

    def set_instruction(self, text: str) -> None:
        self._task = text.strip() or None

    # ---- controls -------------------------------------------------------------------------------
    def start(self) -> tuple[bool, str]:
        if self.recording:
            return False, "already recording"
        if self._task is None:
            return False, "no instruction yet: publish one on the instruction topic first"
        if self._writer is None:
            self._writer = self._writer_factory()
        self.recording = True
        return True, f"recording episode for task {self._task!r}"

    def stop(self) -> tuple[bool, str]:
        """Stop and save the episode (an empty one is discarded)."""
        if not self.recording:
            return False, "not recording"
        self.recording = False
        if self._writer.episode_buffer_length == 0:
            self._writer.discard_episode()
            return False, "no frames recorded (streams stale?); nothing saved"
        index = self._writer.save_episode()
        self.stats.episodes_saved += 1
        return True, f"saved episode {index}"

    def discard(self) -> tuple[bool, str]:
        if self._writer is None:
            return False, "nothing to discard"
        self._writer.discard_episode()
        was = self.recording
        self.recording = False
        self.stats.episodes_discarded += 1
        return True, "discarded the current episode" if was else "discarded buffered frames"

    def control(self, word: str) -> tuple[bool, str]:
        """The control topic's words: start | stop | discard."""
        handlers = {"start": self.start, "stop": self.stop, "discard": self.discard}
        word = word.strip().lower()
        if word not in handlers:
            return False, f"unknown recorder control {word!r}; use one of {sorted(handlers)}"
        return handlers[word]()

    def finalize(self) -> str:
        """Merge the dataset's files (call on shutdown). An episode still recording is discarded:
        a demonstration cut off by a shutdown is incomplete. Returns what happened."""
        if self._writer is None:
            return "nothing recorded"
        note = ""
        if self.recording:
            self.discard()
            note = "discarded the unfinished episode; "
        self._writer.finalize()
        return note + f"dataset finalized ({self.stats.episodes_saved} episodes saved)"

    # ---- sampling -------------------------------------------------------------------------------
    def _fresh(self, stamp: int | None, now_ns: int) -> bool:
        return stamp is not None and now_ns - stamp <= self.config.max_sample_age_s * NS

    def _action(self, q: np.ndarray, opening: float, now_ns: int) -> np.ndarray:
        cfg = self.config
        motion = np.zeros(6)
        if cfg.command_interface == "twist":
            if self._twist_cmd is not None and self._fresh(self._twist_cmd[1], now_ns):
                motion = self._twist_cmd[0] / cfg.fps
        elif self._joint_cmd is not None:  # a position controller tracks its last target
            motion = pose_delta(q, self._joint_cmd[0])
        grip_src = self._gripper_cmd if self._gripper_cmd is not None else opening
        gripper = 1.0 if grip_src < cfg.gripper_close_below else -1.0
        action = np.concatenate([motion, [gripper]])
        clipped = np.clip(action, EEF_ACTION_LOW, EEF_ACTION_HIGH)
        if not np.allclose(clipped, action):
            self.stats.clipped_actions += 1
        return clipped.astype(np.float32)

    def sample(self, now_ns: int) -> bool:
        """Add one frame if recording and every stream is fresh; returns whether it did."""
        if not self.recording:
            return False
        stamps = [self._images.get(c, (None, None))[1] for c in self.config.camera_names]
        stamps.append(None if self._joints is None else self._joints[2])
        if not all(self._fresh(s, now_ns) for s in stamps):
            self.stats.skipped_stale += 1
            return False
        q, opening, _ = self._joints
        frame = {OBS_IMAGES_PREFIX + c: self._images[c][0] for c in self.config.camera_names}
        frame[OBS_STATE] = build_state(q, opening)
        frame[ACTION] = self.last_action = self._action(q, opening, now_ns)
        frame[TASK] = self._task
        self._writer.add_frame(frame)
        self.stats.frames += 1
        return True

    def stale_streams(self, now_ns: int) -> list[str]:
        """The streams a frame would wait for now: cameras and joint states older than
        ``max_sample_age_s`` (or never received), and the command and instruction when none has
        arrived yet. What an operator checks when no frames are recorded."""
        out = [c for c in self.config.camera_names
               if not self._fresh(self._images.get(c, (None, None))[1], now_ns)]  # fmt: skip
        if not self._fresh(None if self._joints is None else self._joints[2], now_ns):
            out.append("joint_states")
        command = self._twist_cmd if self.config.command_interface == "twist" else self._joint_cmd
        if command is None:
            out.append("command")
        if self._task is None:
            out.append("instruction")
        return out

    def status(self, now_ns: int | None = None) -> dict:
        """Counters and state for the status topic; with ``now_ns``, also the stale streams."""
        out = {
            "recording": self.recording,
            "task": self._task,
            **vars(self.stats),
            "buffered": 0 if self._writer is None else self._writer.episode_buffer_length,
        }
        if now_ns is not None:
            out["stale"] = self.stale_streams(now_ns)
        return out
