"""config/policy.yaml as a dataclass: how the runtime loads and runs a policy file."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from humanoid_manip import paths
from humanoid_manip.config import from_dict, load_yaml
from humanoid_manip.errors import ConfigError

PROVIDERS = ("auto", "cuda", "cpu")


@dataclass(frozen=True)
class DemoPolicyConfig:
    """The built-in policy used until a trained one exists: PD to home + gravity at home."""

    kp_scale: float = 1.0  # × config/robot.yaml kp
    kd_scale: float = 1.0  # × config/robot.yaml kd
    ki: float = 0.0  # 1/s; integral of the position error, carried in the recurrent state
    gravity: bool = True  # add the gravity torque at the home pose (a constant feedforward)


@dataclass(frozen=True)
class PolicyConfig:
    model: str = ""  # .onnx path; empty = the built-in demo policy
    provider: str = "auto"  # auto: CUDA when ONNX Runtime has it, else CPU
    threads: int = 1  # ONNX Runtime intra-op threads on the CPU
    task: str = ""  # task name fed to the policy; empty = the file's first task
    rate_hz: float = 0.0  # 0 = the rate the file declares (control_rate_hz)
    max_joint_state_age_s: float = 0.05  # older joint states: publish nothing (monitor holds)
    max_image_age_s: float = 0.5  # older images: still run, report WARN in /diagnostics
    diagnostics_period_s: float = 1.0
    demo: DemoPolicyConfig = field(default_factory=DemoPolicyConfig)

    def __post_init__(self):
        if self.provider not in PROVIDERS:
            raise ValueError(f"provider {self.provider!r} is not one of {list(PROVIDERS)}")
        if self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")
        if not 0 <= self.rate_hz < float("inf"):  # NaN too
            raise ValueError(f"rate_hz must be >= 0 (0 = the file's rate), got {self.rate_hz}")
        if self.max_joint_state_age_s <= 0 or self.max_image_age_s <= 0:
            raise ValueError("max_joint_state_age_s and max_image_age_s must be > 0")


def load_policy_config(path: str | os.PathLike | None = None, **overrides) -> PolicyConfig:
    """Read config/policy.yaml (or `path`), then apply non-None overrides (node parameters)."""
    p = paths.resolve(path) if path else paths.config_path("policy.yaml")
    data = load_yaml(p)
    for k, v in overrides.items():
        if v is not None:
            data[k] = v
    cfg = from_dict(PolicyConfig, data, str(p))
    if not isinstance(cfg.demo, DemoPolicyConfig):
        raise ConfigError(f"{p}: demo must be a mapping")
    return cfg
