"""The safety monitor's thresholds, loaded strictly from config/safety.yaml."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from humanoid_manip import paths
from humanoid_manip.config import from_dict, load_yaml
from humanoid_manip.errors import ConfigError


@dataclass(frozen=True)
class TorqueConfig:
    limit_fraction: float = 0.8
    rate_limit_per_s: float = 50.0


@dataclass(frozen=True)
class PositionConfig:
    soft_zone: float = 0.1
    zone_kp_scale: float = 1.0
    zone_kd_scale: float = 3.0
    hard_tolerance: float = 0.02


@dataclass(frozen=True)
class VelocityConfig:
    limit_fraction: float = 1.0
    damping_scale: float = 3.0


@dataclass(frozen=True)
class Box:
    min: tuple[float, float, float]
    max: tuple[float, float, float]


@dataclass(frozen=True)
class WorkspaceConfig:
    left: Box = Box((-0.05, -0.45, 0.70), (0.90, 0.85, 1.90))
    right: Box = Box((-0.05, -0.85, 0.70), (0.90, 0.45, 1.90))
    margin: float = 0.05


@dataclass(frozen=True)
class SelfCollisionConfig:
    margin: float = 0.06


@dataclass(frozen=True)
class RequestConfig:
    max_age: float = 0.05


@dataclass(frozen=True)
class WatchdogConfig:
    request_timeout_periods: float = 2.0
    joint_state_timeout: float = 0.02
    overrun_periods: float = 1.5


@dataclass(frozen=True)
class HoldConfig:
    damping_scale: float = 1.0


@dataclass(frozen=True)
class StopConfig:
    damping_scale: float = 3.0
    stop_time: float = 0.5


@dataclass(frozen=True)
class SafetyConfig:
    torque: TorqueConfig = field(default_factory=TorqueConfig)
    position: PositionConfig = field(default_factory=PositionConfig)
    velocity: VelocityConfig = field(default_factory=VelocityConfig)
    workspace: WorkspaceConfig = field(default_factory=WorkspaceConfig)
    cartesian_kp: float = 400.0
    cartesian_kd: float = 40.0
    self_collision: SelfCollisionConfig = field(default_factory=SelfCollisionConfig)
    request: RequestConfig = field(default_factory=RequestConfig)
    watchdog: WatchdogConfig = field(default_factory=WatchdogConfig)
    hold: HoldConfig = field(default_factory=HoldConfig)
    stop: StopConfig = field(default_factory=StopConfig)
    ramp_time: float = 0.25
    event_repeat_s: float = 1.0

    def __post_init__(self):
        if not 0.0 < self.torque.limit_fraction <= 1.0:
            raise ValueError("torque.limit_fraction must be in (0, 1]: the URDF effort limit is "
                             f"never exceeded, got {self.torque.limit_fraction}")
        positive = {
            "torque.rate_limit_per_s": self.torque.rate_limit_per_s,
            "position.soft_zone": self.position.soft_zone,
            "velocity.limit_fraction": self.velocity.limit_fraction,
            "self_collision.margin": self.self_collision.margin,
            "workspace.margin": self.workspace.margin,
            "request.max_age": self.request.max_age,
            "watchdog.request_timeout_periods": self.watchdog.request_timeout_periods,
            "watchdog.joint_state_timeout": self.watchdog.joint_state_timeout,
            "watchdog.overrun_periods": self.watchdog.overrun_periods,
            "stop.stop_time": self.stop.stop_time,
            "ramp_time": self.ramp_time,
        }
        bad = {k: v for k, v in positive.items() if not v > 0}
        if bad:
            raise ValueError(f"these must be positive: {bad}")
        for side, box in (("left", self.workspace.left), ("right", self.workspace.right)):
            if not all(lo < hi for lo, hi in zip(box.min, box.max)):
                raise ValueError(f"workspace.{side}: min {box.min} must be below max {box.max}")


def load_safety_config(path: str | os.PathLike | None = None) -> SafetyConfig:
    """config/safety.yaml (or `path`) → SafetyConfig; a mistyped key or bad value is an error."""
    p = paths.resolve(path) if path else paths.config_path("safety.yaml")
    data = load_yaml(p)
    if not data:
        raise ConfigError(f"{p}: empty; see config/safety.yaml in the repository")
    return from_dict(SafetyConfig, data, str(p))
