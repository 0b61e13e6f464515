"""A recorded hand-tracking stream as a teleop device: any headset or glove, played back."""
from __future__ import annotations

from humanoid_manip.errors import ConfigError
from humanoid_manip.teleop.devices.base import Device, register_device
from humanoid_manip.teleop.devices.replay.config import ReplayConfig
from humanoid_manip.teleop.replay import read_hand_stream, sample_at
from humanoid_manip.teleop.types import TeleopInput


@register_device
class ReplayDevice(Device):
    """Plays frames at their own times from the first get_action call; then releases."""

    name = "replay"
    Config = ReplayConfig

    def __init__(self, config: ReplayConfig, robot):
        super().__init__(config, robot)
        if not config.file:
            raise ConfigError("the replay device needs a hand-stream file (file=...)")
        self.frames = read_hand_stream(config.file)
        self.t_first = self.frames[0].t
        self.length = self.frames[-1].t - self.t_first
        self.t0: float | None = None

    def _stream_time(self, t: float) -> float | None:
        if self.t0 is None:
            self.t0 = t
        s = (t - self.t0) * self.config.speed
        if s > self.length:
            if not self.config.loop:
                return None
            s = s % self.length if self.length > 0 else 0.0
        return self.t_first + s

    def done(self, t: float) -> bool:
        return self.t0 is not None and not self.config.loop and \
            (t - self.t0) * self.config.speed > self.length

    def get_action(self, t: float) -> TeleopInput:
        s = self._stream_time(t)
        if s is None:  # the end: no more heartbeat, so the robot holds where it is
            return TeleopInput(t, {}, deadman=False)
        frame = sample_at(self.frames, s)
        mode = self.config.deadman
        deadman = frame.deadman if mode == "stream" else mode == "always"
        return TeleopInput(t, frame.hands, deadman)
