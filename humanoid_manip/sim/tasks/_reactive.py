"""Re-entrant experts: each control tick, decide what to do from the state found, never a clock.

A `ReactiveExpert` keeps no plan and no timeline. Every tick it reads the simulator's privileged
state (object poses, contacts, the measured palms and fingers), picks a mode with `decide` and
turns that mode into a `PalmHandCommand` whose targets are taken from the measured poses: a palm
target lies a bounded step ("carrot") from where the palm is, toward where the mode wants it;
a hand's target closure lies a bounded step from its measured closure. So a freshly built
expert dropped into any state of an episode continues from there, and its command at a state
is (up to a mode's hysteresis) a function of that state: what DAgger needs as a label.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import mujoco
import numpy as np

from humanoid_manip.control import HAND_POSES, WristTarget, hand_targets
from humanoid_manip.control.command import PalmHandCommand
from humanoid_manip.sim.tasks.base import Expert, touching_bodies

if TYPE_CHECKING:
    from humanoid_manip.sim.core import Simulation

SIDES = ("left", "right")
PALM_STEP_M = 0.02  # how far ahead of the measured palm its target may lie (the carrot)
PALM_TURN_RAD = 0.3  # how far the target orientation may turn ahead of the measured one
CLOSURE_RATE = 2.5  # 1/s: a hand's commanded closure moves at most this fast (0.4 s to close)
GRIP_LEAD = 0.3  # how far past the measured closure a closing hand is told to go
OPEN_LEAD = 0.3  # how far short of it an opening hand is told to go (lets go gently)


def slerp(q0: np.ndarray, q1: np.ndarray, s: float) -> np.ndarray:
    """Spherical interpolation of unit quaternions, the short way round."""
    d = float(np.dot(q0, q1))
    if d < 0:
        q1, d = -q1, -d
    if d > 0.9995:
        q = q0 + s * (q1 - q0)
    else:
        th = np.arccos(d)
        q = (np.sin((1 - s) * th) * q0 + np.sin(s * th) * q1) / np.sin(th)
    return q / np.linalg.norm(q)


def quat_of(xmat: np.ndarray) -> np.ndarray:
    q = np.zeros(4)
    mujoco.mju_mat2Quat(q, np.asarray(xmat, dtype=float).reshape(9))
    return q


def quat_angle(q0: np.ndarray, q1: np.ndarray) -> float:
    """The rotation angle (rad) between two unit quaternions."""
    return float(2.0 * np.arccos(min(1.0, abs(float(np.dot(q0, q1))))))


def rotate_z(quat: np.ndarray, angle: float) -> np.ndarray:
    """quat turned by `angle` about the world z axis."""
    turn, out = np.zeros(4), np.zeros(4)
    mujoco.mju_axisAngle2Quat(turn, np.array([0.0, 0.0, 1.0]), angle)
    mujoco.mju_mulQuat(out, turn, quat)
    return out


class ReactiveExpert(Expert):
    """Mode from state (`decide`), targets from measured poses (`steer`); see the module doc.

    Subclasses implement `decide(sim, mode) -> mode` (the previous mode only for hysteresis:
    the same rules must pick a sensible mode with mode None) and `steer(sim, mode)`, which
    returns the command using `toward`, `grip` and `park`.
    """

    palm_step_m = PALM_STEP_M

    def __init__(self, sim: Simulation):
        super().__init__(sim)
        self.mode: str | None = None
        self.anchor: dict[str, np.ndarray] = {}
        self._closure_cmd: dict[str, float] = {}
        self.hand_idx = {s: sim.robot.group_indices(f"{s}_hand") for s in SIDES}
        self._body_side = self._hand_bodies(sim.model)

    # -- the two things a task says ----------------------------------------------------------
    def decide(self, sim: Simulation, mode: str | None) -> str:
        raise NotImplementedError

    def steer(self, sim: Simulation, mode: str) -> PalmHandCommand:
        raise NotImplementedError

    def enter(self, sim: Simulation, mode: str) -> None:  # noqa: B027
        """Called when `mode` starts: measure what it must hold fixed (an anchor), in
        `self.anchor`. A fresh expert measures it again: the only memory an expert keeps."""

    def command(self, sim: Simulation) -> PalmHandCommand:
        mode = self.decide(sim, self.mode)
        if mode != self.mode:
            self.mode = mode
            self.enter(sim, mode)
        return self.steer(sim, mode)

    # -- measurements -------------------------------------------------------------------------
    @staticmethod
    def palm(sim: Simulation, side: str) -> tuple[np.ndarray, np.ndarray]:
        """Measured palm site pose: world position and wxyz orientation."""
        site = sim.data.site(f"{side}_palm")
        return site.xpos.copy(), quat_of(site.xmat)

    def closure(self, sim: Simulation, side: str, posture: str) -> float:
        """How far the measured fingers are from open toward `posture`, in [0, 1]."""
        q = sim.joint_state().position[self.hand_idx[side]]
        open_ = hand_targets(self.robot, side, posture, 0.0)
        span = hand_targets(self.robot, side, posture, 1.0) - open_
        return float(np.clip(np.dot(q - open_, span) / max(np.dot(span, span), 1e-9), 0, 1))

    def _hand_bodies(self, model: mujoco.MjModel) -> dict[int, str]:
        """Body id -> side, for the palm and finger bodies of both hands."""
        fingers = ("palm", "thumb", "index", "middle", "ring", "little")
        out = {}
        for b in range(model.nbody):
            name = model.body(b).name
            for side in SIDES:
                if any(name.startswith(f"{side}_{f}") for f in fingers):
                    out[b] = side
        return out

    def touching(self, sim: Simulation, side: str, geoms) -> set[str]:
        """Names of the hand's bodies in contact with any of `geoms` (ids) now."""
        return {sim.model.body(b).name for b in touching_bodies(sim.model, sim.data, geoms)
                if self._body_side.get(b) == side}

    # -- commands -----------------------------------------------------------------------------
    def toward(self, sim: Simulation, side: str, goal: np.ndarray, quat: np.ndarray | None = None,
               step: float | None = None) -> WristTarget:
        """A palm target a bounded step from the measured palm toward (goal, quat)."""
        pos, q_now = self.palm(sim, side)
        step = self.palm_step_m if step is None else step
        delta = np.asarray(goal, dtype=float) - pos
        dist = float(np.linalg.norm(delta))
        target = pos + delta * min(1.0, step / max(dist, 1e-9))
        if quat is None:
            return WristTarget(target, None)
        angle = quat_angle(q_now, quat)
        frac = 1.0 if angle < 1e-6 else min(1.0, PALM_TURN_RAD / angle)
        return WristTarget(target, slerp(q_now, np.asarray(quat, dtype=float), frac))

    def grip(self, sim: Simulation, side: str, posture: str, goal: float,
             rate: float = CLOSURE_RATE) -> np.ndarray:
        """Hand joint targets: the commanded closure ramps toward `goal` at `rate` per second.

        The ramp starts from the measured closure when the expert is new, so a grip already
        closed stays closed; it keeps its own value after that, so fingers blocked by an object
        are still told to close further and squeeze (position control, no force sensing).
        """
        if posture not in HAND_POSES:
            raise KeyError(posture)
        now = self._closure_cmd.get(side)
        if now is None:
            now = self.closure(sim, side, posture)
        step = rate * self.control_period_s
        now = float(np.clip(now + np.clip(goal - now, -step, step), 0.0, 1.0))
        self._closure_cmd[side] = now
        return hand_targets(self.robot, side, posture, now)

    def grip_to(self, sim: Simulation, side: str, posture: str, goal: float,
                lead: float = GRIP_LEAD) -> np.ndarray:
        """Hand joint targets a bounded step (`lead` of closure) from the measured closure
        toward `goal`: a function of the state alone (the label DAgger needs). Fingers blocked
        by an object are told `lead` further, which is how they squeeze."""
        if posture not in HAND_POSES:
            raise KeyError(posture)
        now = self.closure(sim, side, posture)
        target = now + float(np.clip(goal - now, -OPEN_LEAD, lead))
        return hand_targets(self.robot, side, posture, target)

    def park(self, sim: Simulation, side: str, where: np.ndarray) -> WristTarget:
        """The idle hand: to its parking spot, position only."""
        return self.toward(sim, side, where)
