"""Keyboard device settings (config/teleop.yaml devices.keyboard)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KeyboardConfig:
    rate_hz: float = 30.0  # how often the driver publishes targets, keypoints and heartbeat
    step_m: float = 0.01  # palm move per key press (m)
    side: str = "right"  # the hand the keys move first; tab switches

    def __post_init__(self):
        if self.side not in ("left", "right"):
            raise ValueError(f"side must be left or right, got {self.side!r}")
        if self.rate_hz <= 0 or self.step_m <= 0:
            raise ValueError("rate_hz and step_m must be positive")
