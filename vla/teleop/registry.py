"""The teleoperation devices by name: ``vla record --teleop-device NAME`` -> a constructor.

An explicit dictionary above the device modules (``devices.py`` holds the interface they
share, so it imports none of them). Opening a device imports its library (pygame, evdev, hid)
only then; one that is missing raises ``DeviceUnavailableError`` naming what to install.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vla.teleop.devices import TeleopDevice, load_script
from vla.teleop.gamepad import GamepadDevice
from vla.teleop.keyboard import KeyboardDevice
from vla.teleop.spacemouse import SpaceMouseDevice


def _scripted(script: str | None = None, **kw: Any) -> TeleopDevice:
    if script is None:
        raise ValueError(
            "--teleop-device scripted needs --script FILE.json (actions and event names)"
        )
    return load_script(script)


#: names accepted by ``vla record --teleop-device`` -> constructor(**options)
DEVICES: dict[str, Callable[..., TeleopDevice]] = {
    "keyboard": KeyboardDevice,
    "gamepad": GamepadDevice,
    "spacemouse": SpaceMouseDevice,
    "scripted": _scripted,
}


def make_device(name: str, **options: Any) -> TeleopDevice:
    """Open the device ``name`` (a key of ``DEVICES``)."""
    if name not in DEVICES:
        raise ValueError(f"unknown device {name!r}; choose one of {sorted(DEVICES)}")
    return DEVICES[name](**options)
