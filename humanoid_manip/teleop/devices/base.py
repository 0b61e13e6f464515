"""The teleop device contract and its one registry (config and device registered together)."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from humanoid_manip.config import from_dict
from humanoid_manip.errors import UnknownNameError
from humanoid_manip.robot import RobotSpec
from humanoid_manip.teleop.types import TeleopInput


class Device(ABC):
    """A source of teleop inputs: get_action(t) → wrist targets, 21 keypoints, deadman."""

    name: ClassVar[str]
    Config: ClassVar[type]

    def __init__(self, config: Any, robot: RobotSpec):
        self.config = config
        self.robot = robot

    @abstractmethod
    def get_action(self, t: float) -> TeleopInput:
        """What the operator (or file) commands at time t (s, the driver's clock)."""

    def done(self, t: float) -> bool:
        """True once the device has nothing more to send (the end of a file)."""
        return False


DEVICES: dict[str, type[Device]] = {}


def register_device(cls: type[Device]) -> type[Device]:
    """Class decorator: add a device under its `name`, with its `Config` dataclass."""
    if cls.name in DEVICES and DEVICES[cls.name] is not cls:
        raise ValueError(f"teleop device {cls.name!r} is registered twice")
    DEVICES[cls.name] = cls
    return cls


def device_names() -> tuple[str, ...]:
    from humanoid_manip.teleop import devices as _all  # noqa: F401 - registers every device

    return tuple(sorted(DEVICES))


def make_device(name: str, robot: RobotSpec, settings: dict | None = None,
                overrides: dict | None = None) -> Device:
    """A device by name; settings from config/teleop.yaml `devices.<name>`, then overrides."""
    from humanoid_manip.teleop import devices as _all  # noqa: F401

    if name not in DEVICES:
        raise UnknownNameError("teleop device", name, DEVICES)
    cls = DEVICES[name]
    data = {**(settings or {}), **{k: v for k, v in (overrides or {}).items() if v is not None}}
    return cls(from_dict(cls.Config, data, f"teleop device {name}"), robot)
