"""3Dconnexion SpaceMouse teleoperation over HID (the ``hid`` package, hidapi).

Reports (little-endian int16, about +-350 at full deflection): id 1 = translation x, y, z
(wireless/compact models append rotation rx, ry, rz in the same report), id 2 = rotation,
id 3 = button bitmask. Device axes: x right, y towards the user, z down; mapped to the robot
base frame as seen from the operator facing the robot::

    push the cap forward / left / up  : +x / +y / +z  (2 cm per step at full deflection)
    tilt / twist the cap              : roll, pitch, yaw (0.1 rad per step at full deflection)
    left button  : toggle the gripper
    right button : start recording, press again to finish and keep the episode
    (discard / reset / quit: Ctrl-C ends the session; the episode in progress is dropped)
"""

from __future__ import annotations

from typing import Any

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

VENDOR_IDS = (0x046D, 0x256F)  # Logitech-era 3Dconnexion, 3Dconnexion
FULL_SCALE = 350.0
DEADBAND = 0.05
#: device (x, y, z, rx, ry, rz) -> base-frame (dx, dy, dz, droll, dpitch, dyaw): index, sign
AXIS_MAP: tuple[tuple[int, float], ...] = ((1, -1.0), (0, -1.0), (2, -1.0),
                                           (4, -1.0), (3, -1.0), (5, -1.0))  # fmt: skip


def _int16s(data: bytes | list[int], start: int, count: int) -> list[float]:
    raw = bytes(data[start : start + 2 * count])
    return list(np.frombuffer(raw, dtype="<i2").astype(float))


_HELP = __doc__.split("robot::")[1]


class SpaceMouseDevice(TeleopDevice):
    """A SpaceMouse read through ``hid_device`` (an object with ``read(size) -> list[int]``,
    non-blocking), by default the first 3Dconnexion device hidapi enumerates."""

    name = "spacemouse"
    help_text = _HELP

    def __init__(self, hid_device: Any | None = None, speed: SpeedConfig | None = None):
        self.dev = hid_device if hid_device is not None else open_spacemouse()
        self.speed = speed or SpeedConfig()
        self.raw = np.zeros(6)  # device axes, last report
        self.gripper = GRIPPER_OPEN
        self._buttons = 0
        self._recording = False

    def _handle(self, report: list[int]) -> list[Event]:
        events: list[Event] = []
        rid = report[0]
        if rid == 1:
            self.raw[0:3] = _int16s(report, 1, 3)
            if len(report) >= 13:
                self.raw[3:6] = _int16s(report, 7, 3)
        elif rid == 2:
            self.raw[3:6] = _int16s(report, 1, 3)
        elif rid == 3:
            buttons = report[1] if len(report) > 1 else 0
            pressed = buttons & ~self._buttons
            self._buttons = buttons
            if pressed & 1:
                self.gripper = GRIPPER_OPEN if self.gripper == GRIPPER_CLOSED else GRIPPER_CLOSED
            if pressed & 2:
                events.append(Event.FINISH if self._recording else Event.START)
                self._recording = not self._recording
        return events

    def poll(self) -> DeviceStep:
        events: list[Event] = []
        while True:
            report = self.dev.read(64)
            if not report:
                break
            events += self._handle(list(report))
        unit = np.clip(self.raw / FULL_SCALE, -1.0, 1.0)
        unit[np.abs(unit) < DEADBAND] = 0.0
        direction = [sign * unit[i] for i, sign in AXIS_MAP]
        return DeviceStep(motion_action(direction, self.gripper, self.speed, 1.0), events)

    def reset(self) -> None:
        self.gripper = GRIPPER_OPEN
        self._recording = False

    def close(self) -> None:
        self.dev.close()


def open_spacemouse() -> Any:
    """Open the first 3Dconnexion HID device (non-blocking); clear error otherwise."""
    try:
        import hid
    except ImportError:
        raise DeviceUnavailableError(
            "spacemouse: the `hid` package (hidapi) is not installed; `pip install hidapi` "
            "(needs libhidapi), or choose --teleop-device keyboard"
        ) from None
    found = hid.enumerate()
    for info in found:
        if info["vendor_id"] in VENDOR_IDS:
            dev = hid.device()
            dev.open_path(info["path"])
            dev.set_nonblocking(1)
            return dev
    names = [f"{d['vendor_id']:04x}:{d['product_id']:04x} {d.get('product_string')}"
             for d in found]  # fmt: skip
    raise DeviceUnavailableError(
        f"spacemouse: no 3Dconnexion device (vendor {[hex(v) for v in VENDOR_IDS]}); HID "
        f"devices found: {names or 'none'} (check udev permissions on /dev/hidraw*)"
    )
