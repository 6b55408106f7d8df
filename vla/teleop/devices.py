"""Teleoperation devices: one interface, the policy's own 7-D action space.

    device input (keys / stick axes / HID reports) --map + speed scale--> DeviceStep
        action: (7,) float32 EEF delta (dx, dy, dz, droll, dpitch, dyaw in the base frame,
                gripper -1 open / +1 close), clipped to EEF_ACTION_LOW/HIGH
        events: operator commands (start, finish, discard, reset, quit)

Every device is polled once per control period by the recorder (``poll()`` never blocks). The
registry ``DEVICES`` (``vla.teleop.registry``, above the device modules that build on this one)
maps the names accepted by ``vla record --teleop-device`` to constructors; devices whose library
or hardware is missing raise :class:`DeviceUnavailableError` naming what was found and what to
install or plug in.
"""

from __future__ import annotations

import enum
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vla.constants import ACTION_DIM, EEF_ACTION_HIGH, EEF_ACTION_LOW

GRIPPER_OPEN = -1.0
GRIPPER_CLOSED = 1.0


class Event(enum.Enum):
    """Operator commands. START begins recording an episode; FINISH keeps (saves) it; DISCARD
    drops it and re-records the same scene; RESET drops it and draws a new scene; QUIT ends the
    session (an episode in progress is dropped)."""

    START = "start"
    FINISH = "finish"
    DISCARD = "discard"
    RESET = "reset"
    QUIT = "quit"


class DeviceUnavailableError(RuntimeError):
    """The device's library is missing or no such device is connected (message says which)."""


@dataclass
class DeviceStep:
    """What a device produced during one control period."""

    action: np.ndarray
    events: list[Event] = field(default_factory=list)


@dataclass(frozen=True)
class SpeedConfig:
    """Per-step deltas at full deflection and speed scale 1 (translation m, rotation rad), and
    the range of the operator's speed scale (changed in ``step`` multiples)."""

    translation: float = 0.02
    rotation: float = 0.1
    scale: float = 1.0
    min_scale: float = 0.25
    max_scale: float = 2.0
    step: float = 1.25

    def __post_init__(self) -> None:
        if self.translation <= 0 or self.rotation <= 0:
            raise ValueError("SpeedConfig: translation and rotation must be positive")
        if not 0 < self.min_scale <= self.scale <= self.max_scale:
            raise ValueError(
                f"SpeedConfig: need 0 < min_scale <= scale <= max_scale, got {self.min_scale}, "
                f"{self.scale}, {self.max_scale}"
            )
        if self.step <= 1:
            raise ValueError(f"SpeedConfig: step must be > 1, got {self.step}")


def motion_action(direction: Sequence[float], gripper: float, speed: SpeedConfig,
                  scale: float) -> np.ndarray:  # fmt: skip
    """(7,) action from a unit-range 6-D direction (each in [-1, 1]) and a gripper command."""
    d = np.asarray(direction, dtype=np.float64)
    per_axis = np.array([speed.translation] * 3 + [speed.rotation] * 3) * scale
    action = np.append(d * per_axis, gripper).astype(np.float32)
    return np.clip(action, EEF_ACTION_LOW, EEF_ACTION_HIGH)


class TeleopDevice(ABC):
    """A teleoperation input. ``poll()`` returns the action for the coming control period and
    the events seen since the last poll; it must not block."""

    name: str = "device"
    #: human-readable key/axis map, shown by the recorder and ``vla record --help-device``
    help_text: str = ""

    @abstractmethod
    def poll(self) -> DeviceStep:
        """Action and events for this control period."""

    def reset(self) -> None:  # noqa: B027 (optional hook)
        """Called when a new episode's scene is set up (default: nothing)."""

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release the device (restore the terminal, close handles)."""

    def __enter__(self) -> TeleopDevice:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class ScriptedDevice(TeleopDevice):
    """Plays a fixed list of steps: each item is an action (7 numbers), an :class:`Event`, or a
    ``DeviceStep``. Events are delivered together with the next action; once the list is spent
    it yields QUIT. For tests and for replaying operator sessions from a JSON file."""

    name = "scripted"
    help_text = "scripted: plays a list of actions and events (JSON: numbers lists / event names)"

    def __init__(self, items: Iterable[Any]):
        self._steps: list[DeviceStep] = []
        pending: list[Event] = []
        for item in items:
            if isinstance(item, DeviceStep):
                self._steps.append(DeviceStep(item.action, pending + list(item.events)))
                pending = []
            elif isinstance(item, Event):
                pending.append(item)
            elif isinstance(item, str):
                try:
                    pending.append(Event(item))
                except ValueError:
                    raise ValueError(
                        f"ScriptedDevice: unknown event {item!r}; use one of "
                        f"{[e.value for e in Event]}"
                    ) from None
            else:
                action = np.asarray(item, dtype=np.float32)
                if action.shape != (ACTION_DIM,):
                    raise ValueError(
                        f"ScriptedDevice: actions must have {ACTION_DIM} numbers, got {item!r}"
                    )
                self._steps.append(DeviceStep(action, pending))
                pending = []
        if pending:
            self._steps.append(DeviceStep(self.idle_action(), pending))
        self._i = 0

    @staticmethod
    def idle_action() -> np.ndarray:
        return np.array([0, 0, 0, 0, 0, 0, GRIPPER_OPEN], dtype=np.float32)

    @property
    def remaining(self) -> int:
        return len(self._steps) - self._i

    def poll(self) -> DeviceStep:
        if self._i >= len(self._steps):
            return DeviceStep(self.idle_action(), [Event.QUIT])
        step = self._steps[self._i]
        self._i += 1
        return DeviceStep(step.action.copy(), list(step.events))


def load_script(path: str) -> ScriptedDevice:
    """A ScriptedDevice from a JSON file: a list of 7-number actions and event names."""
    with open(path) as f:
        items = json.load(f)
    if not isinstance(items, list):
        raise ValueError(f"{path}: a device script must be a JSON list, got {type(items).__name__}")
    return ScriptedDevice(items)
