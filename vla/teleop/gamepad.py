"""Gamepad teleoperation through pygame's joystick module (SDL, no display needed), else evdev.

The stick -> action mapping is the ROS teleop node's (:class:`vla.ros_core.teleop.TeleopMapper`,
so a demonstration recorded here and one recorded on the robot share their map), with signs
chosen so that pushing a stick away/left moves the gripper forward/left. Xbox-style layout
(SDL / joy_node indices)::

    hold LB (button 4)          : deadman, nothing moves while released
    left stick  up/down, l/r    : +x/-x, +y/-y (2 cm per step at full deflection, speed 1)
    right stick up/down         : +z/-z          right stick left/right : +yaw/-yaw
    A (0) : close gripper       B (1) : open gripper
    Start (7) : start recording Y (3) : finish and keep    X (2) : discard and re-record
    Back (6)  : reset (new scene)                           Guide (8) : quit
    D-pad up/down : faster / slower (x1.25, speed scale 0.25 .. 2)
"""

from __future__ import annotations

import os
from typing import Any, Protocol

import numpy as np

from vla.teleop.devices import (
    GRIPPER_CLOSED,
    GRIPPER_OPEN,
    DeviceStep,
    DeviceUnavailableError,
    Event,
    SpeedConfig,
    TeleopDevice,
)

BUTTON_EVENTS: dict[int, Event] = {
    7: Event.START, 3: Event.FINISH, 2: Event.DISCARD, 6: Event.RESET, 8: Event.QUIT,
}  # fmt: skip


_HELP = __doc__.split("indices)::")[1]


class JoystickReader(Protocol):
    """Current state of one joystick: axes in [-1, 1], buttons 0/1, D-pad (x, y) in {-1,0,1}."""

    def read(self) -> tuple[list[float], list[int], tuple[int, int]]: ...

    def close(self) -> None: ...


def default_mapper_config():
    """TeleopConfig of the ROS teleop node with this module's stick signs (see docstring)."""
    from vla.ros_core.node_configs import TeleopConfig

    return TeleopConfig(axis_scale=[-0.02, -0.02, -0.02, 0.1, 0.1, -0.1])


class GamepadDevice(TeleopDevice):
    """A gamepad read through ``reader`` (default: :func:`open_joystick`)."""

    name = "gamepad"
    help_text = _HELP

    def __init__(self, reader: JoystickReader | None = None, speed: SpeedConfig | None = None,
                 index: int = 0):  # fmt: skip
        from vla.ros_core.teleop import TeleopMapper

        self.reader = reader if reader is not None else open_joystick(index)
        self.speed = speed or SpeedConfig()
        self.scale = self.speed.scale
        self.mapper = TeleopMapper(default_mapper_config())
        self._prev_buttons: list[int] = []
        self._prev_hat = (0, 0)

    def poll(self) -> DeviceStep:
        axes, buttons, hat = self.reader.read()
        pressed = [
            i for i, b in enumerate(buttons)
            if b and not (i < len(self._prev_buttons) and self._prev_buttons[i])
        ]  # fmt: skip
        self._prev_buttons = list(buttons)
        events = [BUTTON_EVENTS[i] for i in pressed if i in BUTTON_EVENTS]
        if hat[1] != self._prev_hat[1] and hat[1] != 0:
            factor = self.speed.step if hat[1] > 0 else 1 / self.speed.step
            self.scale = float(np.clip(self.scale * factor, self.speed.min_scale,
                                       self.speed.max_scale))  # fmt: skip
        self._prev_hat = tuple(hat)
        action = self.mapper.action(axes, buttons)
        gripper = GRIPPER_CLOSED if self.mapper.gripper_closed else GRIPPER_OPEN
        if action is None:  # deadman released: hold still, keep the gripper command
            action = np.zeros(7)
        else:
            action = np.asarray(action, dtype=np.float64) * self.scale
        action[6] = gripper
        return DeviceStep(action.astype(np.float32), events)

    def reset(self) -> None:
        self.mapper.gripper_closed = False

    def close(self) -> None:
        self.reader.close()


# ---- input back ends ----------------------------------------------------------------------------
class PygameJoystick:
    """pygame (SDL) joystick; SDL's video driver is set to "dummy" so no display is needed."""

    def __init__(self, index: int = 0):
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        import pygame

        self.pygame = pygame
        pygame.init()
        pygame.joystick.init()
        count = pygame.joystick.get_count()
        if index >= count:
            names = [pygame.joystick.Joystick(i).get_name() for i in range(count)]
            raise DeviceUnavailableError(
                f"gamepad: joystick {index} not found; pygame sees {count}: {names or 'none'}. "
                "Plug in a gamepad (check `ls /dev/input/js*`) or choose --teleop-device keyboard"
            )
        self.joy = pygame.joystick.Joystick(index)
        self.joy.init()

    def read(self) -> tuple[list[float], list[int], tuple[int, int]]:
        self.pygame.event.pump()
        j = self.joy
        hat = j.get_hat(0) if j.get_numhats() else (0, 0)
        return ([j.get_axis(i) for i in range(j.get_numaxes())],
                [j.get_button(i) for i in range(j.get_numbuttons())], tuple(hat))  # fmt: skip

    def close(self) -> None:
        self.pygame.joystick.quit()


class EvdevJoystick:
    """Linux evdev gamepad, axes/buttons renumbered to the SDL/joy_node layout."""

    AXES = ("ABS_X", "ABS_Y", "ABS_Z", "ABS_RX", "ABS_RY", "ABS_RZ")
    BUTTONS = ("BTN_SOUTH", "BTN_EAST", "BTN_NORTH", "BTN_WEST", "BTN_TL", "BTN_TR",
               "BTN_SELECT", "BTN_START", "BTN_MODE")  # fmt: skip

    def __init__(self, device: Any):
        import evdev

        self.ecodes = evdev.ecodes
        self.dev = device
        caps = device.capabilities()
        self._info = {code: info for code, info in caps.get(evdev.ecodes.EV_ABS, [])}
        self.axes = [0.0] * len(self.AXES)
        self.buttons = [0] * len(self.BUTTONS)
        self.hat = [0, 0]

    def read(self) -> tuple[list[float], list[int], tuple[int, int]]:
        ec = self.ecodes
        while True:
            try:
                event = self.dev.read_one()
            except BlockingIOError:
                event = None
            if event is None:
                break
            if event.type == ec.EV_ABS:
                name = ec.ABS.get(event.code)
                if name == "ABS_HAT0X":
                    self.hat[0] = int(event.value)
                elif name == "ABS_HAT0Y":
                    self.hat[1] = -int(event.value)  # evdev: up is -1; SDL: up is +1
                elif name in self.AXES:
                    info = self._info[event.code]
                    span = max(info.max - info.min, 1)
                    value = 2.0 * (event.value - info.min) / span - 1.0
                    self.axes[self.AXES.index(name)] = value
            elif event.type == ec.EV_KEY:
                names = ec.BTN.get(event.code, ())
                names = names if isinstance(names, list | tuple) else (names,)
                for n in names:
                    if n in self.BUTTONS:
                        self.buttons[self.BUTTONS.index(n)] = int(event.value != 0)
        return list(self.axes), list(self.buttons), (self.hat[0], self.hat[1])

    def close(self) -> None:
        self.dev.close()


def open_joystick(index: int = 0) -> JoystickReader:
    """pygame's joystick ``index`` if pygame is installed, else the evdev gamepad ``index``;
    raises DeviceUnavailableError listing what was found."""
    try:
        import pygame  # noqa: F401
    except ImportError:
        pass
    else:
        return PygameJoystick(index)
    try:
        import evdev
    except ImportError:
        raise DeviceUnavailableError(
            "gamepad: neither pygame nor evdev is installed; `pip install pygame` (or evdev on "
            "Linux), or choose --teleop-device keyboard"
        ) from None
    found = []
    pads = []
    for path in evdev.list_devices():
        dev = evdev.InputDevice(path)
        found.append(f"{path} ({dev.name})")
        if evdev.ecodes.EV_ABS in dev.capabilities():
            pads.append(dev)
        else:
            dev.close()
    if index >= len(pads):
        raise DeviceUnavailableError(
            f"gamepad: evdev gamepad {index} not found; input devices: {found or 'none'} "
            "(check permissions on /dev/input/event*: add yourself to the 'input' group)"
        )
    return EvdevJoystick(pads[index])
