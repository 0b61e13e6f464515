"""What an expert or operator asks of the robot in task terms, and its torque at a measured state.

A `PalmHandCommand` names where each palm should go, what each hand's joints should do and any
extra torque (a grip squeeze), nothing about time. `CommandTracker` turns one into torque at the
state it is given: IK seeded from the measured joint positions (so the answer depends on the
state, not on a solver's history), then joint PD plus gravity compensation. DAgger labels and
re-entrant experts need exactly that: the same state gives the same torque.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from humanoid_manip.control.ik import SIDES, WristIK, WristTarget
from humanoid_manip.control.pd import JointPD
from humanoid_manip.robot import RobotSpec


@dataclass(frozen=True)
class PalmHandCommand:
    """Palm targets (world frame) and hand joint targets (group order) per side, extra torque.

    A side missing from `palms` holds its palm where it is; a hand missing from `hands` holds
    its joints where they are. `extra_torque` (canonical order, N·m) is added after the PD law.
    """

    palms: dict[str, WristTarget] = field(default_factory=dict)
    hands: dict[str, np.ndarray] = field(default_factory=dict)
    extra_torque: np.ndarray | None = None


class CommandTracker:
    """PalmHandCommand + measured state -> joint targets and torque (IK, PD, gravity)."""

    def __init__(self, robot: RobotSpec):
        self.robot = robot
        self.ik = WristIK(robot)
        self.pd = JointPD(robot)
        self.hand_idx = {s: robot.group_indices(f"{s}_hand") for s in SIDES}
        self.head_idx = robot.group_indices("head")

    def targets(self, q: np.ndarray, command: PalmHandCommand) -> np.ndarray:
        """Joint targets (canonical order): arms by IK from q, hands as commanded, head home."""
        q = np.asarray(q, dtype=float)
        rest = q.copy()
        rest[self.head_idx] = self.robot.home[self.head_idx]
        for side, q_hand in command.hands.items():
            rest[self.hand_idx[side]] = q_hand
        self.ik.reset(q)
        palms = {s: command.palms.get(s) or WristTarget(*self.ik.palm_pose(s)) for s in SIDES}
        return self.ik.solve(palms, rest)

    def torque(self, q: np.ndarray, dq: np.ndarray, q_des: np.ndarray, bias: np.ndarray,
               extra_torque: np.ndarray | None = None) -> np.ndarray:
        """PD toward q_des plus the bias (gravity + Coriolis) and any extra torque, clipped."""
        tau = self.pd.torque(q, dq, q_des, bias)
        if extra_torque is not None:
            tau = np.clip(tau + extra_torque, -self.pd.limit, self.pd.limit)
        return tau
