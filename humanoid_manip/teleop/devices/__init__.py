"""Teleop devices, one folder each (config.py + device.py); importing this registers them all."""
from humanoid_manip.teleop.devices.base import (
    DEVICES,
    Device,
    device_names,
    make_device,
    register_device,
)
from humanoid_manip.teleop.devices.keyboard.device import KeyboardDevice
from humanoid_manip.teleop.devices.replay.device import ReplayDevice

__all__ = ["DEVICES", "Device", "KeyboardDevice", "ReplayDevice", "device_names",
           "make_device", "register_device"]
