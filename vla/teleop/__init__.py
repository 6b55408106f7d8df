"""Teleoperation: devices producing the policy's 7-D EEF-delta action, demonstration recording
in simulation (`vla record`) and replay (`vla replay`).

Public API::

    from vla.teleop import DEVICES, make_device, Event, DeviceStep, TeleopDevice, ScriptedDevice
    from vla.teleop.recorder import RecordConfig, record
    from vla.teleop.replay import replay_episode
"""

from vla.teleop.devices import (
    DeviceStep,
    DeviceUnavailableError,
    Event,
    ScriptedDevice,
    SpeedConfig,
    TeleopDevice,
)
from vla.teleop.registry import DEVICES, make_device

__all__ = [
    "DEVICES",
    "DeviceStep",
    "DeviceUnavailableError",
    "Event",
    "ScriptedDevice",
    "SpeedConfig",
    "TeleopDevice",
    "make_device",
]
