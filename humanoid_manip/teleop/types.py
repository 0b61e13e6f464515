"""What a teleop device produces each tick: wrist targets, hand keypoints, deadman."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SIDES = ("left", "right")


@dataclass(frozen=True)
class HandSample:
    """One hand at one instant: palm target in the robot's world frame, 21 keypoints (any frame).

    `wrist_quat` is wxyz; None means "position only". `keypoints` None means not tracked.
    """

    wrist_pos: np.ndarray | None = None
    wrist_quat: np.ndarray | None = None
    keypoints: np.ndarray | None = None


@dataclass(frozen=True)
class TeleopInput:
    """A device's output at time t (s): per-side samples and the deadman heartbeat.

    `extra_torque` (canonical order, N·m) is added to the controller's PD torque while fresh: a
    device that asks for grip force beyond what a posture gives (a scripted expert's squeeze).
    """

    t: float
    hands: dict[str, HandSample] = field(default_factory=dict)
    deadman: bool = False
    extra_torque: np.ndarray | None = None
