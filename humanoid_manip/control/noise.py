"""Smooth random torques: the perturbation of DART demonstrations and of the takeover test."""
from __future__ import annotations

import numpy as np

from humanoid_manip.robot import RobotSpec

NOISE_TAU_S = 0.2  # correlation time: errors that last, as a policy's do, not white jitter


class TorqueNoise:
    """An Ornstein-Uhlenbeck process per joint, stepped at the control rate, seeded.

    Its stationary standard deviation is `fraction` of each joint's effort limit; a draw is
    held between control ticks like a policy's torque. `sample()` advances it one tick.
    """

    def __init__(self, robot: RobotSpec, fraction: float, seed, tau_s: float = NOISE_TAU_S):
        if not np.isfinite(fraction) or fraction < 0:
            raise ValueError(f"noise fraction must be a non-negative number, got {fraction}")
        self.scale = float(fraction) * robot.effort_limit
        self.keep = float(np.exp(-1.0 / (robot.rates.policy_hz * tau_s)))
        self.rng = np.random.default_rng(seed)
        self.value = np.zeros(robot.n)

    def sample(self) -> np.ndarray:
        """The next control tick's noise (N·m, canonical order)."""
        w = self.rng.standard_normal(len(self.scale))
        self.value = self.keep * self.value + np.sqrt(1.0 - self.keep ** 2) * w * self.scale
        return self.value.copy()
