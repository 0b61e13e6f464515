"""Replay device settings (config/teleop.yaml devices.replay); `file` comes from the caller."""
from __future__ import annotations

from dataclasses import dataclass

DEADMAN_MODES = ("stream", "always", "never")


@dataclass(frozen=True)
class ReplayConfig:
    file: str = ""  # the hand stream (.jsonl or .csv, see teleop/replay.py)
    rate_hz: float = 30.0  # publish rate; frames are sampled at the stream's own times
    speed: float = 1.0  # playback speed factor
    loop: bool = False  # start again at the end
    deadman: str = "stream"  # stream: the file's values; always / never: override

    def __post_init__(self):
        if self.deadman not in DEADMAN_MODES:
            raise ValueError(f"deadman must be one of {DEADMAN_MODES}, got {self.deadman!r}")
        if self.rate_hz <= 0 or self.speed <= 0:
            raise ValueError("rate_hz and speed must be positive")
