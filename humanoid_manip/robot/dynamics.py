"""Rigid-body dynamics of the robot alone: gravity compensation and frame positions."""
from __future__ import annotations

import mujoco
import numpy as np

from humanoid_manip.robot.mujoco_model import RobotIndex, build_model
from humanoid_manip.robot.spec import RobotSpec


class RobotDynamics:
    """A private MjData of the robot model, fed measured joint states in canonical order."""

    def __init__(self, robot: RobotSpec, model: mujoco.MjModel | None = None):
        self.robot = robot
        self.model = model if model is not None else build_model(robot)
        self.data = mujoco.MjData(self.model)
        self.index = RobotIndex.of(self.model, robot)
        self._bias = np.zeros(self.model.nv)

    def set_state(self, q: np.ndarray, dq: np.ndarray | None = None) -> None:
        """Positions (and velocities) in canonical order; runs kinematics."""
        self.data.qpos[self.index.qpos] = q
        self.data.qvel[:] = 0.0
        if dq is not None:
            self.data.qvel[self.index.dof] = dq
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)

    def bias_torque(self) -> np.ndarray:
        """Gravity plus Coriolis torques at the last set_state, canonical order (N·m)."""
        mujoco.mj_comVel(self.model, self.data)
        mujoco.mj_rne(self.model, self.data, 0, self._bias)
        return self._bias[self.index.dof].copy()

    def body_position(self, name: str) -> np.ndarray:
        """World position of a body (a URDF link) at the last set_state."""
        return self.data.body(name).xpos.copy()
