"""Teleop settings, config/teleop.yaml → dataclasses (a mistyped key fails with the valid ones)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from humanoid_manip import paths
from humanoid_manip.config import from_dict, load_yaml
from humanoid_manip.teleop.retarget import RetargetConfig


@dataclass(frozen=True)
class TeleopConfig:
    """The teleop core (teleop_node, collect); device sections stay as mappings for devices/."""

    deadman_timeout_s: float = 0.3  # a heartbeat older than this releases the deadman
    ik_hz: float = 50.0  # wrist IK and retargeting rate; PD runs at the policy rate
    max_palm_speed: float = 0.5  # m/s: palm targets are rate-limited toward the operator's
    input_timeout_s: float = 0.5  # a side whose inputs are older than this holds
    use_orientation: bool = True  # follow the wrist target's orientation (else position only)
    retarget: RetargetConfig = field(default_factory=RetargetConfig)
    devices: dict[str, dict] = field(default_factory=dict)  # per-device settings


def load_teleop_config(path: str | os.PathLike | None = None) -> TeleopConfig:
    p = path if path is not None else paths.config_path("teleop.yaml")
    return from_dict(TeleopConfig, load_yaml(p), str(p))
