"""A waypoint expert: palm targets and hand closures per phase, through IK and PD to torques."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from humanoid_manip.control import JointPD, WristIK, WristTarget, hand_targets
from humanoid_manip.control.command import PalmHandCommand
from humanoid_manip.sim.tasks.base import Expert

if TYPE_CHECKING:
    from humanoid_manip.sim.core import Simulation

SIDES = ("left", "right")
Targets = dict[str, WristTarget]


def smoothstep(s: float) -> float:
    """Minimum-jerk time scaling of s in [0, 1]."""
    s = min(max(s, 0.0), 1.0)
    return s * s * s * (10 - 15 * s + 6 * s * s)


def slerp(q0: np.ndarray, q1: np.ndarray, s: float) -> np.ndarray:
    d = float(np.dot(q0, q1))
    if d < 0:
        q1, d = -q1, -d
    if d > 0.9995:
        q = q0 + s * (q1 - q0)
    else:
        th = np.arccos(d)
        q = (np.sin((1 - s) * th) * q0 + np.sin(s * th) * q1) / np.sin(th)
    return q / np.linalg.norm(q)


@dataclass
class Phase:
    """One segment of a script.

    `palms`: where each palm ends the phase (reached along a minimum-jerk path from where it
    started), or a function (sim, s, start) -> targets followed as s runs 0→1, where start maps
    each side to its commanded (position, wxyz) at the phase's start; a side not named holds.
    `hands`: (posture, closure) each hand reaches by the phase's end; unnamed hands hold.
    `until`: an optional early exit, checked once the phase is at least `min_s` old.
    `begin`: called with (sim, start) as the phase starts, to measure what the phase needs.
    """

    duration: float
    palms: Targets | Callable[..., Targets] = field(default_factory=dict)
    hands: dict[str, tuple[str, float]] = field(default_factory=dict)
    until: Callable[[Simulation], bool] | None = None
    min_s: float = 0.0
    begin: Callable[..., None] | None = None


class ScriptedExpert(Expert):
    """Plays the phases `plan(sim)` makes at the start; IK at `ik_hz`, PD every physics step."""

    def __init__(self, sim: Simulation, plan: Callable[[Simulation], list[Phase]],
                 ik_hz: float = 50.0):
        super().__init__(sim)
        self._advanced_at: float | None = None
        self.ik = WristIK(sim.robot)
        self.pd = JointPD(sim.robot)
        q = sim.joint_state().position
        self.ik.reset(q)
        self.q_des = q.copy()
        self.q_des[:] = sim.robot.home
        self.ik_period_s = max(1, int(round(1.0 / (ik_hz * sim.dt)))) * sim.dt
        self._next_ik_t = sim.time
        self.phases = plan(sim)
        self.k = -1
        self.hand_now = {s: ("open", 0.0) for s in SIDES}
        self.hand_from = dict(self.hand_now)
        self.hidx = {s: sim.robot.group_indices(f"{s}_hand") for s in SIDES}
        self.hand_and_head = np.concatenate([*self.hidx.values(),
                                             sim.robot.group_indices("head")])
        self.dq_des = np.zeros(sim.robot.n)
        self._next_phase(sim)

    def _next_phase(self, sim: Simulation) -> None:
        self.k += 1
        self.t0 = sim.time
        self.start = {s: self.ik.palm_pose(s) for s in SIDES}
        self.hand_from = dict(self.hand_now)
        self._next_ik_t = sim.time  # solve IK on the phase's first step
        ph = self.phase
        if ph is not None and ph.begin is not None:
            ph.begin(sim, self.start)

    @property
    def phase(self) -> Phase | None:
        return self.phases[self.k] if self.k < len(self.phases) else None

    def done(self, sim: Simulation) -> bool:
        return self.phase is None

    def _targets(self, sim: Simulation, ph: Phase, s: float) -> Targets:
        if callable(ph.palms):
            return ph.palms(sim, s, self.start)
        out = {}
        a = smoothstep(s)
        for side, tgt in ph.palms.items():
            p0, q0 = self.start[side]
            pos = (1 - a) * p0 + a * np.asarray(tgt.position)
            quat = None if tgt.quat is None else slerp(q0, np.asarray(tgt.quat), a)
            out[side] = WristTarget(pos, quat)
        return out

    def _advance(self, sim: Simulation) -> None:
        """Play the script up to sim.time: phase changes, IK at its rate, hand blends."""
        if self._advanced_at == sim.time:
            return
        self._advanced_at = sim.time
        ph = self.phase
        while ph is not None:
            age = sim.time - self.t0
            if age >= ph.duration or (ph.until is not None and age >= ph.min_s
                                      and ph.until(sim)):
                self._next_phase(sim)
                ph = self.phase
            else:
                break
        if ph is None:
            self.dq_des[:] = 0.0
            return
        s = (sim.time - self.t0) / max(ph.duration, 1e-9)
        if sim.time + 1e-9 >= self._next_ik_t:
            self._next_ik_t = sim.time + self.ik_period_s
            targets = self._targets(sim, ph, s)
            holds = {side: WristTarget(*self.ik.palm_pose(side)) for side in SIDES
                     if side not in targets}
            q_new = self.ik.solve({**holds, **targets}, self.q_des)
            # Feed the IK's own speed forward, so the arms do not lag behind by kd/kp.
            self.dq_des = (q_new - self.q_des) / self.ik_period_s
            self.dq_des[self.hand_and_head] = 0.0
            self.q_des = q_new
        a = smoothstep(s)
        for side in SIDES:
            post0, c0 = self.hand_from[side]
            post1, c1 = ph.hands.get(side, self.hand_from[side])
            if post0 != post1 and c0 > 0:  # change posture through open
                q_hand = (1 - a) * hand_targets(self.robot, side, post0, c0) \
                    + a * hand_targets(self.robot, side, post1, c1)
            else:
                q_hand = hand_targets(self.robot, side, post1, (1 - a) * c0 + a * c1)
            self.q_des[self.hidx[side]] = q_hand
            self.hand_now[side] = (post1, (1 - a) * c0 + a * c1)

    def extra_torque(self, sim: Simulation) -> np.ndarray | None:
        """Torque added after the PD law (none by default)."""
        return None

    def command(self, sim: Simulation) -> PalmHandCommand:
        """The script's palm poses and hand targets at sim.time."""
        self._advance(sim)
        return PalmHandCommand({s: WristTarget(*self.ik.palm_pose(s)) for s in SIDES},
                               {s: self.q_des[self.hidx[s]].copy() for s in SIDES},
                               self.extra_torque(sim))

    def act(self, sim: Simulation) -> np.ndarray:
        """Called every physics step: the script's joint targets, with their speed fed forward."""
        self._advance(sim)
        js = sim.joint_state()
        bias = sim.data.qfrc_bias[sim.index.dof]
        tau = self.pd.torque(js.position, js.velocity, self.q_des, bias, self.dq_des)
        extra = self.extra_torque(sim)
        if extra is not None:
            tau = np.clip(tau + extra, -self.robot.effort_limit, self.robot.effort_limit)
        return tau
