"""Plain data the monitor exchanges with its node shell: requests, states, events, results."""
from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass, field

import numpy as np


class Mode(str, enum.Enum):
    """What the monitor is doing; the value is what /diagnostics and events show."""

    HOLD = "HOLD"          # gravity compensation + joint damping, waiting for enable or requests
    ACTIVE = "ACTIVE"      # forwarding the policy's limited torque
    STOPPING = "STOPPING"  # controlled stop (e-stop, hard limit), then torque off
    STOPPED = "STOPPED"    # torque off until reset
    FAULT = "FAULT"        # torque off until the cause is gone and reset is called


@dataclass(frozen=True)
class TorqueRequest:
    """A torque request: joint names and efforts (N·m), stamped with its creation time (s)."""

    names: tuple[str, ...]
    effort: np.ndarray
    stamp: float


@dataclass(frozen=True)
class JointState:
    """Measured joint state; `stamp` is when the monitor received it (s, monitor clock)."""

    names: tuple[str, ...]
    position: np.ndarray
    velocity: np.ndarray
    stamp: float


def _plain(value):
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return round(v, 6) if math.isfinite(v) else str(v)
    if isinstance(value, np.integer):
        return int(value)
    return value


@dataclass(frozen=True)
class SafetyEvent:
    """One intervention or mode change, serialisable to one JSON line."""

    time: float
    type: str
    reason: str
    mode: str
    joints: tuple[str, ...] = ()
    values: dict = field(default_factory=dict)
    tick: int = 0  # the monitor's tick count when it happened (between ticks: the last one)

    def as_dict(self) -> dict:
        return {"time": round(self.time, 6), "tick": self.tick, "type": self.type,
                "reason": self.reason, "mode": self.mode, "joints": list(self.joints),
                "values": _plain(self.values)}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), separators=(",", ":"))


@dataclass(frozen=True)
class TickResult:
    """The torque to apply (canonical order, N·m), the mode after the tick, and its events."""

    torque: np.ndarray
    mode: Mode
    events: list[SafetyEvent]
