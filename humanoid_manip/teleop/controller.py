"""The teleop core: wrist targets + hand keypoints + deadman → joint targets → torques.

Device-agnostic: every device (keyboard, replay file, headset, scripted expert) feeds the same
inputs. Wrist targets go through the wrist IK (control.WristIK, mink), keypoints through the
hand retargeter, and the joint targets through joint PD plus gravity compensation
(control.JointPD, robot.RobotDynamics) at the policy rate. Without a fresh deadman heartbeat
the controller holds the pose it had when the deadman was released (gravity compensated).
"""
from __future__ import annotations

import numpy as np

from humanoid_manip.control import JointPD, WristIK, WristTarget
from humanoid_manip.robot import RobotDynamics, RobotSpec
from humanoid_manip.teleop.config import TeleopConfig
from humanoid_manip.teleop.deadman import Deadman
from humanoid_manip.teleop.retarget import HandRetargeter
from humanoid_manip.teleop.types import SIDES, TeleopInput


class TeleopController:
    """Call `feed` with device inputs as they come and `torque` at the control rate."""

    def __init__(self, robot: RobotSpec, config: TeleopConfig,
                 dynamics: RobotDynamics | None = None):
        self.robot = robot
        self.config = config
        self.dynamics = dynamics or RobotDynamics(robot)
        self.ik = WristIK(robot)
        self.pd = JointPD(robot)
        self.hands = {s: HandRetargeter(robot, s, config.retarget, self.dynamics.model)
                      for s in SIDES}
        self.hand_idx = {s: robot.group_indices(f"{s}_hand") for s in SIDES}
        self.deadman = Deadman(config.deadman_timeout_s)
        self.ik_period = 1.0 / config.ik_hz
        self._wrist: dict[str, tuple[float, np.ndarray, np.ndarray | None]] = {}
        self._keypoints: dict[str, tuple[float, np.ndarray]] = {}
        self._extra: tuple[float, np.ndarray] | None = None
        self._palm: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # rate-limited IK targets
        self._last_ik: float | None = None
        self.q_des: np.ndarray | None = None
        self.engaged = False

    # -- inputs --------------------------------------------------------------------------
    def wrist(self, side: str, t: float, pos, quat=None) -> None:
        """A palm target (robot world frame, wxyz quaternion or None) received at t."""
        self._wrist[side] = (t, np.asarray(pos, dtype=float),
                             None if quat is None else np.asarray(quat, dtype=float))

    def keypoints(self, side: str, t: float, kp) -> None:
        """21 hand keypoints (any frame) received at t."""
        self._keypoints[side] = (t, np.asarray(kp, dtype=float))

    def heartbeat(self, t: float, value: bool) -> None:
        self.deadman.heartbeat(bool(value), t)

    def feed(self, inp: TeleopInput) -> None:
        """Everything a device produced at inp.t."""
        for side, h in inp.hands.items():
            if h.wrist_pos is not None:
                self.wrist(side, inp.t, h.wrist_pos, h.wrist_quat)
            if h.keypoints is not None:
                self.keypoints(side, inp.t, h.keypoints)
        self.heartbeat(inp.t, inp.deadman)
        if inp.extra_torque is not None:
            self._extra = (inp.t, np.asarray(inp.extra_torque, dtype=float))

    # -- control -------------------------------------------------------------------------
    def reset(self, q: np.ndarray) -> None:
        """Hold q; forget inputs (a new episode or session)."""
        self.q_des = np.array(q, dtype=float)
        self.ik.reset(self.q_des)
        for s in SIDES:
            self.hands[s].reset(self.q_des[self.hand_idx[s]])
        self._wrist.clear()
        self._keypoints.clear()
        self._palm.clear()
        self._extra = None
        self._last_ik = None
        self.deadman.reset()
        self.engaged = False

    def _engage(self, q: np.ndarray) -> None:
        self.ik.reset(q)
        self._palm = {s: self.ik.palm_pose(s) for s in SIDES}
        self.q_des = np.array(q, dtype=float)
        for s in SIDES:
            self.hands[s].reset(q[self.hand_idx[s]])
        self._last_ik = None

    def _update_targets(self, t: float) -> None:
        c = self.config
        dt = self.ik_period if self._last_ik is None else min(t - self._last_ik, 0.1)
        targets = {}
        for side in SIDES:
            pos0, quat0 = self._palm[side]
            got = self._wrist.get(side)
            if got is not None and t - got[0] <= c.input_timeout_s:
                _, pos, quat = got
                step = pos - pos0
                dist = float(np.linalg.norm(step))
                max_step = c.max_palm_speed * max(dt, 1e-3)
                if dist > max_step:
                    pos = pos0 + step * (max_step / dist)
                if quat is not None and c.use_orientation:
                    quat0 = quat
                self._palm[side] = (pos, quat0)
            pos, quat = self._palm[side]
            targets[side] = WristTarget(pos, quat if c.use_orientation else None)
        self.q_des = self.ik.solve(targets, self.q_des)
        for side in SIDES:
            got = self._keypoints.get(side)
            if got is not None and t - got[0] <= c.input_timeout_s:
                self.q_des[self.hand_idx[side]] = self.hands[side].retarget(got[1])
        self._last_ik = t

    def torque(self, t: float, q: np.ndarray, dq: np.ndarray) -> np.ndarray:
        """Torques (canonical order, N·m) for measured q, dq at time t: PD + gravity comp."""
        if self.q_des is None:
            self.reset(q)
        engaged = self.deadman.engaged(t)
        if engaged and not self.engaged:
            self._engage(q)
        elif not engaged and self.engaged:
            self.q_des = np.array(q, dtype=float)  # hold where the release found it
        self.engaged = engaged
        if engaged and (self._last_ik is None or t - self._last_ik >= self.ik_period - 1e-9
                        or t < self._last_ik):
            self._update_targets(t)
        self.dynamics.set_state(q, dq)
        tau = self.pd.torque(q, dq, self.q_des, self.dynamics.bias_torque())
        fresh = self._extra is not None and t - self._extra[0] <= self.config.input_timeout_s
        if engaged and fresh:
            tau = np.clip(tau + self._extra[1], -self.pd.limit, self.pd.limit)
        return tau
