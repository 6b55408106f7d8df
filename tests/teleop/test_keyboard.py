"""Keyboard device through a real pseudo-terminal; gamepad and SpaceMouse through fake inputs."""

from __future__ import annotations

import os
import struct
import sys
import termios

import numpy as np
import pytest

from vla.constants import EEF_ACTION_HIGH
from vla.teleop.devices import DeviceUnavailableError, Event, ScriptedDevice
from vla.teleop.keyboard import KeyboardDevice, parse_keys


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def pty_keyboard():
    master, slave = os.openpty()
    clock = Clock()
    before = termios.tcgetattr(slave)
    dev = KeyboardDevice(fd=slave, clock=clock)
    yield dev, master, clock, slave, before
    dev.close()
    os.close(master)
    os.close(slave)


def test_keys_map_to_actions_and_events(pty_keyboard):
    dev, master, clock, slave, before = pty_keyboard
    assert termios.tcgetattr(slave)[3] & termios.ECHO == 0  # raw mode: no echo
    os.write(master, b"w")
    step = dev.poll()
    assert step.action[0] == pytest.approx(0.02) and np.all(step.action[1:6] == 0)
    assert step.action[6] == -1.0 and step.events == []
    # a tap lasts one period once the hold timeout passed
    clock.t += 1.0
    assert np.all(dev.poll().action[:6] == 0)
    # arrow left (+y), z down, yaw; gripper toggle; start + finish events
    os.write(master, b"\x1b[Dfj \ry")
    step = dev.poll()
    assert step.action[1] == pytest.approx(0.02)
    assert step.action[2] == pytest.approx(-0.02)
    assert step.action[5] == pytest.approx(0.1)
    assert step.action[6] == 1.0  # space toggled the gripper closed
    assert step.events == [Event.START, Event.FINISH]
    clock.t += 1.0
    os.write(master, b"xnq\x03")
    assert dev.poll().events == [Event.DISCARD, Event.RESET, Event.QUIT, Event.QUIT]


def test_held_key_by_repeat_and_speed_scaling(pty_keyboard):
    dev, master, clock, *_ = pty_keyboard
    os.write(master, b"r")
    assert dev.poll().action[2] > 0
    clock.t += 0.1  # auto-repeat keeps arriving faster than the hold timeout -> still held
    os.write(master, b"r")
    clock.t += 0.1
    assert dev.poll().action[2] > 0
    clock.t += 0.1  # no repeat since 0.1 s (< 0.15 s timeout): still held
    assert dev.poll().action[2] > 0
    clock.t += 0.2  # released
    assert dev.poll().action[2] == 0
    os.write(master, b"++++++++w")  # speed saturates at 2x, clipped to the action limit
    assert dev.poll().action[0] == pytest.approx(min(0.04, EEF_ACTION_HIGH[0]))
    clock.t += 1.0
    os.write(master, b"ws")  # opposite keys cancel
    assert dev.poll().action[0] == 0


def test_terminal_restored_and_non_tty_rejected(tmp_path):
    master, slave = os.openpty()
    before = termios.tcgetattr(slave)
    KeyboardDevice(fd=slave).close()
    assert termios.tcgetattr(slave) == before
    os.close(master)
    os.close(slave)
    with open(tmp_path / "f", "w") as f, pytest.raises(DeviceUnavailableError, match="terminal"):
        KeyboardDevice(fd=f.fileno())


def test_parse_keys():
    assert parse_keys("\x1b[A\x1bOBW") == ["up", "down", "w"]


class FakeJoystick:
    def __init__(self):
        self.axes, self.buttons, self.hat = [0.0] * 6, [0] * 9, (0, 0)

    def read(self):
        return list(self.axes), list(self.buttons), self.hat

    def close(self):
        pass


def test_gamepad_mapping_deadman_and_events():
    from vla.teleop.gamepad import GamepadDevice

    joy = FakeJoystick()
    dev = GamepadDevice(reader=joy)
    joy.axes[1] = -1.0  # left stick pushed away
    assert np.all(dev.poll().action[:6] == 0)  # deadman (LB) released
    joy.buttons[4] = 1
    step = dev.poll()
    assert step.action[0] == pytest.approx(0.02) and step.action[6] == -1.0
    joy.buttons[0] = 1  # A closes the gripper; Start -> START once (edge-triggered)
    joy.buttons[7] = 1
    assert dev.poll().events == [Event.START]
    step = dev.poll()
    assert step.events == [] and step.action[6] == 1.0
    joy.hat = (0, 1)  # D-pad up: faster
    assert dev.poll().action[0] == pytest.approx(0.025)


def test_spacemouse_reports():
    from vla.teleop.spacemouse import SpaceMouseDevice

    class FakeHid:
        def __init__(self):
            self.reports: list[list[int]] = []

        def read(self, size):
            return self.reports.pop(0) if self.reports else []

        def close(self):
            pass

    hid = FakeHid()
    dev = SpaceMouseDevice(hid_device=hid)
    # device y = -350 (pushed away from the user) -> +x; button 2 pressed -> START
    hid.reports = [[1, *struct.pack("<hhh", 0, -350, 0)], [3, 2], [3, 0]]
    step = dev.poll()
    assert step.action[0] == pytest.approx(0.02) and step.events == [Event.START]
    hid.reports = [[3, 2], [3, 1]]  # right again -> FINISH; left -> gripper closed
    step = dev.poll()
    assert step.events == [Event.FINISH] and step.action[6] == 1.0


def test_scripted_device_and_unavailable_devices():
    dev = ScriptedDevice(["start", [0.01, 0, 0, 0, 0, 0, -1], Event.FINISH])
    assert dev.poll().events == [Event.START]
    assert dev.poll().events == [Event.FINISH]
    assert dev.poll().events == [Event.QUIT]
    with pytest.raises(ValueError, match="unknown event"):
        ScriptedDevice(["jump"])
    from vla.teleop.registry import make_device

    # this machine has neither the libraries nor the devices: the errors say what to install
    with pytest.raises(DeviceUnavailableError, match="pygame"):
        make_device("gamepad")
    with pytest.raises(DeviceUnavailableError, match="hidapi"):
        make_device("spacemouse")
    with pytest.raises(ValueError, match="keyboard"):
        make_device("theremin")


def test_evdev_backend_renumbers_and_lists_devices(monkeypatch):
    """evdev events -> SDL-layout axes/buttons; with no gamepad, the error lists inputs."""
    import types

    from vla.teleop import gamepad

    codes = types.SimpleNamespace(
        EV_ABS=3, EV_KEY=1, ABS={1: "ABS_Y", 17: "ABS_HAT0Y"}, BTN={310: ["BTN_TL", "BTN_X"]}
    )
    Info = types.SimpleNamespace
    Ev = types.SimpleNamespace

    class FakeInput:
        def __init__(self, path):
            self.path, self.name = path, "Pad" if path.endswith("1") else "Keyboard"
            self.events = [Ev(type=3, code=1, value=0), Ev(type=1, code=310, value=1),
                           Ev(type=3, code=17, value=-1)]  # fmt: skip

        def capabilities(self):
            return {3: [(1, Info(min=0, max=255))]} if self.name == "Pad" else {1: []}

        def read_one(self):
            return self.events.pop(0) if self.events else None

        def close(self):
            pass

    fake = types.ModuleType("evdev")
    fake.ecodes = codes
    fake.InputDevice = FakeInput
    fake.list_devices = lambda: ["/dev/input/event0", "/dev/input/event1"]
    monkeypatch.setitem(sys.modules, "evdev", fake)
    monkeypatch.setitem(sys.modules, "pygame", None)  # import pygame -> ImportError
    reader = gamepad.open_joystick(0)
    axes, buttons, hat = reader.read()
    assert axes[1] == -1.0 and buttons[4] == 1 and hat == (0, 1)  # stick up, LB held, D-pad up
    with pytest.raises(DeviceUnavailableError, match="Keyboard"):
        gamepad.open_joystick(1)
