"""Keyboard teleoperation in a plain terminal (works over SSH, needs no display).

The terminal is put in raw mode (termios/tty) and read without blocking (select). A terminal
reports key presses, not releases, so a *held* key is recognised by its auto-repeat: a motion
key counts as held while its bytes keep arriving within ``hold_timeout`` seconds (longer than
the repeat interval, ~33-100 ms); a single tap moves for exactly one control period.

Key map (lower or upper case)::

    w / s  : +x / -x (forward / back)        arrow up / down    : +x / -x
    a / d  : +y / -y (left / right)          arrow left / right : +y / -y
    r / f  : +z / -z (up / down)
    u / o  : +roll / -roll    i / k : +pitch / -pitch    j / l : +yaw / -yaw
    space  : toggle gripper    c : close gripper    v : open gripper
    + / =  : faster (x1.25)    - : slower (/1.25)   (speed scale 0.25 .. 2)
    Enter  : start recording   y : finish and keep the episode
    x / Backspace : discard and re-record     n : reset (new scene)     q / Ctrl-C : quit

At speed scale 1 a held translation key moves 2 cm per step (0.2 m/s at 10 Hz) and a rotation
key 0.1 rad per step.
"""

from __future__ import annotations

import os
import select
import sys
import termios
import time
import tty
from collections.abc import Callable

import numpy as np

from vla.teleop.devices import (
    GRIPPER_CLOSED,
    GRIPPER_OPEN,
    DeviceStep,
    DeviceUnavailableError,
    Event,
    SpeedConfig,
    TeleopDevice,
    motion_action,
)

#: key -> (axis index 0..5, sign)
MOTION_KEYS: dict[str, tuple[int, float]] = {
    "w": (0, 1.0), "s": (0, -1.0), "up": (0, 1.0), "down": (0, -1.0),
    "a": (1, 1.0), "d": (1, -1.0), "left": (1, 1.0), "right": (1, -1.0),
    "r": (2, 1.0), "f": (2, -1.0),
    "u": (3, 1.0), "o": (3, -1.0),
    "i": (4, 1.0), "k": (4, -1.0),
    "j": (5, 1.0), "l": (5, -1.0),
}  # fmt: skip
EVENT_KEYS: dict[str, Event] = {
    "\r": Event.START, "\n": Event.START, "y": Event.FINISH,
    "x": Event.DISCARD, "\x7f": Event.DISCARD, "\x08": Event.DISCARD,
    "n": Event.RESET, "q": Event.QUIT, "\x03": Event.QUIT,
}  # fmt: skip
ARROWS = {"A": "up", "B": "down", "C": "right", "D": "left"}


def parse_keys(data: str) -> list[str]:
    """Split terminal input into key names (ANSI arrow sequences -> "up"/"down"/...)."""
    keys: list[str] = []
    i = 0
    while i < len(data):
        ch = data[i]
        if ch == "\x1b":
            if data[i + 1 : i + 2] in ("[", "O") and data[i + 2 : i + 3] in ARROWS:
                keys.append(ARROWS[data[i + 2]])
                i += 3
            else:  # a lone Escape or an unsupported sequence: skip the escape byte
                i += 1
            continue
        keys.append(ch if ch in EVENT_KEYS else ch.lower())
        i += 1
    return keys


_HELP = __doc__.split("Key map (lower or upper case)::")[1].split("At speed")[0]


class KeyboardDevice(TeleopDevice):
    """Raw-terminal keyboard; ``fd`` defaults to stdin (must be a terminal)."""

    name = "keyboard"
    help_text = _HELP

    def __init__(
        self,
        fd: int | None = None,
        speed: SpeedConfig | None = None,
        hold_timeout: float = 0.15,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.fd = sys.stdin.fileno() if fd is None else fd
        if not os.isatty(self.fd):
            raise DeviceUnavailableError(
                f"keyboard: file descriptor {self.fd} is not a terminal; run `vla record` in an "
                "interactive terminal (ssh -t for remote sessions) or use --teleop-device scripted"
            )
        self.speed = speed or SpeedConfig()
        self.scale = self.speed.scale
        self.hold_timeout = hold_timeout
        self.clock = clock
        self.gripper = GRIPPER_OPEN
        self._last_seen: dict[str, float] = {}
        self._fresh: set[str] = set()
        self._saved_attrs = termios.tcgetattr(self.fd)
        tty.setraw(self.fd, termios.TCSANOW)  # no echo, no line buffering, Ctrl-C as a byte

    def _read_available(self) -> str:
        chunks = []
        while select.select([self.fd], [], [], 0)[0]:
            data = os.read(self.fd, 1024)
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks).decode("utf-8", errors="ignore")

    def poll(self) -> DeviceStep:
        now = self.clock()
        events: list[Event] = []
        for key in parse_keys(self._read_available()):
            if key in MOTION_KEYS:
                self._last_seen[key] = now
                self._fresh.add(key)
            elif key in EVENT_KEYS:
                events.append(EVENT_KEYS[key])
            elif key == " ":
                self.gripper = GRIPPER_OPEN if self.gripper == GRIPPER_CLOSED else GRIPPER_CLOSED
            elif key == "c":
                self.gripper = GRIPPER_CLOSED
            elif key == "v":
                self.gripper = GRIPPER_OPEN
            elif key in ("+", "="):
                self.scale = min(self.scale * self.speed.step, self.speed.max_scale)
            elif key == "-":
                self.scale = max(self.scale / self.speed.step, self.speed.min_scale)
        held = {k for k, t in self._last_seen.items() if now - t <= self.hold_timeout}
        held |= self._fresh  # a tap moves for at least one period
        self._fresh = set()
        direction = np.zeros(6)
        for key in held:
            axis, sign = MOTION_KEYS[key]
            direction[axis] += sign
        direction = np.clip(direction, -1.0, 1.0)  # opposite keys cancel; duplicates don't add
        return DeviceStep(motion_action(direction, self.gripper, self.speed, self.scale), events)

    def reset(self) -> None:
        self.gripper = GRIPPER_OPEN
        self._last_seen.clear()
        self._fresh.clear()

    def close(self) -> None:
        if self._saved_attrs is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved_attrs)
            self._saved_attrs = None
