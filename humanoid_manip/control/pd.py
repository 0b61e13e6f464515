"""Joint PD plus gravity compensation, turned into torques clipped to the effort limits."""
from __future__ import annotations

import numpy as np

from humanoid_manip.robot import RobotSpec


class JointPD:
    """τ = kp·(q* − q) + kd·(q̇* − q̇) + bias, clipped to each joint's effort limit (N·m)."""

    def __init__(self, robot: RobotSpec, kp_scale: np.ndarray | float = 1.0,
                 kd_scale: np.ndarray | float = 1.0):
        self.robot = robot
        self.kp = robot.kp * kp_scale
        self.kd = robot.kd * kd_scale
        self.limit = robot.effort_limit

    def torque(self, q: np.ndarray, dq: np.ndarray, q_des: np.ndarray,
               bias: np.ndarray | None = None, dq_des: np.ndarray | None = None) -> np.ndarray:
        """Canonical-order torques; `bias` is gravity+Coriolis at q (e.g. RobotDynamics)."""
        tau = self.kp * (q_des - q) - self.kd * dq
        if dq_des is not None:
            tau += self.kd * dq_des
        if bias is not None:
            tau += bias
        return np.clip(tau, -self.limit, self.limit)
