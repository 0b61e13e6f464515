"""A terminal keyboard as a teleop device, for testing the path without a tracker.

Keys: w/s forward/back, a/d left/right, r/f up/down (the selected palm, step_m per press);
tab: other hand; 1 open, 2 fist, 3 pinch (the selected hand's keypoints, from a synthetic
human hand); space: toggle the deadman (held = heartbeat true every tick); x: release it.
Session keys, carried out by the driver node: e arms the safety monitor, c resets it after a
stop, y / n record the episode's outcome (success / failure) with the recorder.
"""
from __future__ import annotations

import numpy as np

from humanoid_manip.control import WristIK
from humanoid_manip.teleop import synthetic
from humanoid_manip.teleop.devices.base import Device, register_device
from humanoid_manip.teleop.devices.keyboard.config import KeyboardConfig
from humanoid_manip.teleop.types import SIDES, HandSample, TeleopInput

MOVES = {"w": (1, 0, 0), "s": (-1, 0, 0), "a": (0, 1, 0), "d": (0, -1, 0),
         "r": (0, 0, 1), "f": (0, 0, -1)}
GRIPS = {"1": synthetic.OPEN, "2": synthetic.FIST, "3": None}  # 3: pinch, made on first use
POSTURES = {"1": "open", "2": "fist", "3": "pinch"}
SESSION_KEYS = {"e": "enable", "c": "reset", "y": "success", "n": "failure"}
HELP = ("keys: w/s a/d r/f move the palm, tab other hand, 1 open 2 fist 3 pinch, "
        "space toggles the deadman, x releases it; e arms the safety monitor, c resets it "
        "after a stop, y/n: outcome")


@register_device
class KeyboardDevice(Device):
    name = "keyboard"
    Config = KeyboardConfig

    def __init__(self, config: KeyboardConfig, robot):
        super().__init__(config, robot)
        ik = WristIK(robot)
        ik.reset(robot.home)
        self.palm = {s: ik.palm_pose(s) for s in SIDES}  # start where home puts the palms
        self.side = config.side
        self.grip = {s: synthetic.OPEN for s in SIDES}
        self.posture = {s: "open" for s in SIDES}
        self.deadman = False

    def press(self, key: str) -> str | None:
        """Apply one key; returns a short description of what changed (None if nothing)."""
        if key in MOVES:
            pos, quat = self.palm[self.side]
            self.palm[self.side] = (pos + self.config.step_m * np.array(MOVES[key]), quat)
            return f"{self.side} palm → {np.round(self.palm[self.side][0], 3).tolist()}"
        if key == "\t":
            self.side = "left" if self.side == "right" else "right"
            return f"moving the {self.side} hand"
        if key in GRIPS:
            pose = GRIPS[key] if GRIPS[key] is not None else synthetic.pinch_pose()
            self.grip[self.side] = pose
            self.posture[self.side] = POSTURES[key]
            return f"{self.side} hand: {POSTURES[key]}"
        if key == " ":
            self.deadman = not self.deadman
            return f"deadman {'held' if self.deadman else 'released'}"
        if key == "x":
            self.deadman = False
            return "deadman released"
        return None

    def get_action(self, t: float) -> TeleopInput:
        hands = {s: HandSample(self.palm[s][0].copy(), self.palm[s][1].copy(),
                               synthetic.keypoints(self.grip[s], s)) for s in SIDES}
        return TeleopInput(t, hands, self.deadman)
