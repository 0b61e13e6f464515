"""The driver contract: what the episode loop hands a driver each control tick, and what it gets.

A driver is whatever decides the torque request of an episode: a scripted expert (plainly, or
as a device through the teleop path), a policy file, a DAgger pair (one acts, one labels),
recorded torques, or a wrapper around any of these (DART noise, a takeover). The loop ticks it
at the control rate with the simulation (privileged access, for experts and teachers) and an
`Observation` (what a policy on the robot would see); it returns an `Action`: the request that
is executed (through the safety monitor, `delay_steps` physics steps later), the label recorded
as /policy/torque_request (the request itself unless said otherwise) and, when the command went
through the teleop path, the teleop inputs to record. Drivers carry their own state; `reset`
is called after the simulation's reset, before the first tick.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from humanoid_manip.errors import HumanoidManipError

if TYPE_CHECKING:
    from humanoid_manip.sim import Simulation
    from humanoid_manip.teleop.types import TeleopInput


class LoopError(HumanoidManipError):
    """An episode that cannot run as asked (a monitor that refuses to arm, no images)."""


@dataclass(frozen=True)
class Observation:
    """What the robot's own sensors give at a control tick (no privileged state).

    `t` is simulated time since the reset (s); `stamp` the same instant on the stack's clock
    (sim.CLOCK_START_S + t, in whole nanoseconds, as the sim stack's messages carry it);
    `images` the latest camera frames {camera: H×W×3 uint8}, None when not rendering.
    """

    t: float
    stamp: float
    position: np.ndarray
    velocity: np.ndarray
    effort: np.ndarray
    images: dict[str, np.ndarray] | None = None


@dataclass(frozen=True)
class Action:
    """A driver's answer to one tick.

    `torque` (canonical order, N·m) is executed: it goes to the safety monitor core as the
    torque request. `label` is recorded as /policy/torque_request (None: the torque itself);
    `teleop` the device inputs to record when the command went through the teleop path.
    """

    torque: np.ndarray
    label: np.ndarray | None = None
    teleop: TeleopInput | None = None

    @property
    def recorded_label(self) -> np.ndarray:
        return self.torque if self.label is None else self.label


class Driver:
    """Base of every driver: `act` each control tick; `reset`, `done`, `source` as needed.

    `rate_hz` None ticks the driver at the robot's control rate (robot.rates.policy_hz); a
    replay of 500 Hz commands sets the physics rate. Between ticks the request is held.
    """

    rate_hz: float | None = None

    def reset(self, sim: Simulation) -> None:
        """A new episode: sim has just been reset (to the episode's seed)."""

    def act(self, sim: Simulation, obs: Observation) -> Action:
        raise NotImplementedError

    def done(self, sim: Simulation) -> bool:
        """True once the driver has nothing left to do (the episode then settles and ends)."""
        return False

    def source(self) -> dict[str, Any]:
        """The episode file's `source` lineage: who drove (and who labelled)."""
        return {"type": "policy"}
