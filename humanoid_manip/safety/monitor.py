"""SafetyMonitor: each tick, the latest torque request and joint state in, safe torque out.

The pipeline, in the order it runs: watchdogs and mode, the base torque of the mode (policy,
hold or stop, ramped on enable), torque limit, rate limit, then the functions that act on the
net torque (output minus the gravity/Coriolis bias): workspace and self-collision barriers,
velocity limit, position soft limits, and a final clip to the torque limit. Nothing here knows
ROS; the node shell converts messages and keeps time.
"""
from __future__ import annotations

import math
from collections import Counter

import mujoco
import numpy as np

from humanoid_manip.robot.dynamics import RobotDynamics
from humanoid_manip.robot.spec import RobotSpec
from humanoid_manip.safety.config import SafetyConfig
from humanoid_manip.safety.geometry import SelfCollisionModel, collision_model, joint_reach
from humanoid_manip.safety.types import JointState, Mode, SafetyEvent, TickResult, TorqueRequest

TORQUE_OFF = (Mode.STOPPED, Mode.FAULT)
SIDES = ("left", "right")


class SafetyMonitor:
    """The only hand-coded layer between the policy and the motors: limits, holds or stops."""

    SWEEPS = 3  # Gauss-Seidel passes over the Cartesian barriers each tick

    def __init__(self, robot: RobotSpec, config: SafetyConfig):
        self.robot, self.config = robot, config
        # a private robot-alone model: dynamics, forward kinematics and collision distances
        margin = config.self_collision.margin
        self.dyn = RobotDynamics(robot, collision_model(robot, margin))
        self.model, self.data = self.dyn.model, self.dyn.data
        self.collision = SelfCollisionModel(self.model, margin)
        self.dof = self.dyn.index.dof
        self.reach = joint_reach(self.model)[self.dof]  # m of point motion per rad, canonical
        self.period = 1.0 / robot.rates.safety_hz
        self.request_timeout = config.watchdog.request_timeout_periods / robot.rates.policy_hz
        self.limit = config.torque.limit_fraction * robot.effort_limit
        self.rate = config.torque.rate_limit_per_s * robot.effort_limit
        pos = config.position
        self.zone_lo = robot.lower + pos.soft_zone
        self.zone_hi = robot.upper - pos.soft_zone
        self.hard_lo = robot.lower - pos.hard_tolerance
        self.hard_hi = robot.upper + pos.hard_tolerance
        self.kp_zone = pos.zone_kp_scale * robot.kp
        self.kd_zone = pos.zone_kd_scale * robot.kd
        self.vmax = config.velocity.limit_fraction * robot.velocity_limit
        self.kd_vel = config.velocity.damping_scale * robot.kd
        self.kd_hold = config.hold.damping_scale * robot.kd
        self.kd_stop = config.stop.damping_scale * robot.kd
        self.palm_site = {s: self.model.site(f"{s}_palm").id for s in SIDES}
        box = {"left": config.workspace.left, "right": config.workspace.right}
        self.box_min = {s: np.array(box[s].min) for s in SIDES}
        self.box_max = {s: np.array(box[s].max) for s in SIDES}
        self._palm_ids = np.array([self.palm_site[s] for s in SIDES])
        self._inv_limit = 1.0 / self.limit
        self._zone_mid = 0.5 * (self.zone_hi + self.zone_lo)
        self._zone_half = 0.5 * (self.zone_hi - self.zone_lo)
        self._qpos_idx, self._dof_idx = self.dyn.index.qpos, self.dyn.index.dof
        self._rne = np.zeros(self.model.nv)
        self._inv_vmax = 1.0 / self.vmax
        self._zero = np.zeros(robot.n)
        self._zero.setflags(write=False)
        self._box_min = np.array([self.box_min[s] for s in SIDES])
        self._box_max = np.array([self.box_max[s] for s in SIDES])
        self._canonical = robot.names
        self._name_index = {n: i for i, n in enumerate(robot.names)}
        self._jac = np.zeros((3, self.model.nv))
        self._jac_b = np.zeros((3, self.model.nv))
        self._minv = np.zeros((1, self.model.nv))
        self._qpos, self._qvel = self.data.qpos, self.data.qvel  # views: no wrapper per tick
        self._site_xpos = self.data.site_xpos
        self._moved = np.zeros(robot.n)  # |q - q at the last geometry pass|, per tick
        # state
        self.mode = Mode.HOLD
        self.enabled = False
        self.estop_pressed = False
        self.estop_latched = False
        self.fault_reason = ""
        self.stop_reason = ""
        self.foreign_publishers: tuple[str, ...] = ()
        self.counts: Counter[str] = Counter()
        self.ticks = 0
        self.overruns = 0
        self._request: np.ndarray | None = None
        self._request_time: float | None = None
        self._state_seen = False
        self._q: np.ndarray | None = None
        # the geometry's last pass: where the joints were and how far every margin was then
        self._geometry_q: np.ndarray | None = None
        self._clearance = 0.0
        self._in_zone = False
        self._state_names: tuple[str, ...] = ()
        self._state_take: np.ndarray | None = None
        self._upper_zone = self._lower_zone = np.zeros(robot.n, dtype=bool)
        self._last_state_time: float | None = None
        self._output = np.zeros(robot.n)
        self._prev_tick: float | None = None
        self._prev_dt: float | None = None
        self._ramp_start: float | None = None
        self._stop_start: float | None = None
        self._active: set[str] = set()
        self._active_prev: set[str] = set()
        self._last_emit: dict[str, float] = {}
        self._events: list[SafetyEvent] = []
        self._pending: list[SafetyEvent] = []
        self._now = 0.0

    # ----------------------------------------------------------------- operator interface
    def enable(self, on: bool = True) -> tuple[bool, str]:
        """Arm (or disarm) the policy path; refused while stopped, faulted or blind."""
        if not on:
            self.enabled = False
            if self.mode == Mode.ACTIVE:
                self._set_mode(Mode.HOLD, "disabled by the operator")
            return True, f"disabled; mode {self.mode.value}"
        if self.mode in (Mode.STOPPING, Mode.STOPPED, Mode.FAULT):
            cause = self.stop_reason or self.fault_reason
            reason = f"mode is {self.mode.value} ({cause}); reset first"
            self._emit("enable_refused", reason, pending=True)
            return False, reason
        if not self._state_seen:
            return False, "no joint states received yet"
        self.enabled = True
        return True, "enabled; ACTIVE once valid torque requests arrive"

    def estop(self, pressed: bool, now: float | None = None) -> None:
        """The e-stop input; pressing latches a controlled stop (next tick) until reset."""
        self.estop_pressed = bool(pressed)
        if pressed and not self.estop_latched:
            self.estop_latched = True
            if now is not None:
                self._now = now
            self._emit("estop", "e-stop pressed", pending=True)

    def set_foreign_publishers(self, publishers) -> None:
        """Other nodes publishing torque commands (from the ROS graph); any one is a FAULT."""
        publishers = tuple(sorted(publishers))
        if publishers and publishers != self.foreign_publishers:
            self._emit("foreign_publisher", "another node publishes torque commands: "
                       + ", ".join(publishers), values={"publishers": list(publishers)},
                       pending=True)
        self.foreign_publishers = publishers
        if publishers and self.mode != Mode.FAULT:  # at once: torque off from the next tick
            self._fault("foreign torque publisher(s): " + ", ".join(publishers), pending=True)

    def reset(self, now: float) -> tuple[bool, str]:
        """Clear a stop or fault; refused, with the reason, while its cause persists."""
        if self.mode not in (Mode.STOPPING, Mode.STOPPED, Mode.FAULT) and not self.estop_latched:
            return True, f"nothing to reset; mode {self.mode.value}"
        causes = []
        if self.estop_pressed:
            causes.append("e-stop still pressed")
        if self.foreign_publishers:
            causes.append("foreign torque publisher(s): " + ", ".join(self.foreign_publishers))
        if self._last_state_time is None or now - self._last_state_time > \
                self.config.watchdog.joint_state_timeout:
            causes.append("joint states stale or missing")
        elif self._q is not None:
            beyond = self._beyond_hard_limit(self._q)
            if beyond:
                causes.append("joint(s) beyond hard limit: " + ", ".join(beyond))
        if causes:
            reason = "reset refused: " + "; ".join(causes)
            self._emit("reset_refused", reason, pending=True)
            return False, reason
        self.estop_latched = False
        self.enabled = False
        self.fault_reason = self.stop_reason = ""
        self._set_mode(Mode.HOLD, "reset by the operator; enable to go ACTIVE", pending=True)
        return True, "reset; HOLD until enabled"

    def status(self) -> dict:
        """What /diagnostics shows."""
        return {"mode": self.mode.value, "enabled": self.enabled,
                "estop_pressed": self.estop_pressed, "estop_latched": self.estop_latched,
                "fault": self.fault_reason, "stop": self.stop_reason,
                "foreign_publishers": list(self.foreign_publishers), "ticks": self.ticks,
                "overruns": self.overruns, "counts": dict(self.counts)}

    # ---------------------------------------------------------------------------- the tick
    def tick(self, now: float, request: TorqueRequest | None = None,
             state: JointState | None = None) -> TickResult:
        """One control period: the torque to apply (canonical order, N·m), mode and events."""
        self._now = now
        self._events = self._pending
        self._pending = []
        self._active = set()
        self.ticks += 1
        self._check_loop(now)
        if request is not None:
            self._accept(request, now)
        torque = self._torque(now, state)
        if not math.isfinite(float(np.add.reduce(torque))):  # belt and braces: never non-finite
            self._fault("non-finite torque computed; torque off")
            torque = np.zeros(self.robot.n)
        self._output = torque
        self._active_prev = self._active
        return TickResult(torque.copy(), self.mode, self._events)

    def _torque(self, now: float, state: JointState | None) -> np.ndarray:
        zero = self._zero
        if state is not None:
            self._state_seen = True
        q_dq = self._read_state(now, state)
        if self.foreign_publishers and self.mode != Mode.FAULT:
            self._fault("foreign torque publisher(s): " + ", ".join(self.foreign_publishers))
        if self.mode in TORQUE_OFF:
            return zero
        if q_dq is None:
            return zero  # no joint state yet: nothing to hold with, torque stays off
        q, dq = q_dq
        self._in_zone = np.maximum.reduce(np.abs(q - self._zone_mid) - self._zone_half) > 0.0
        if self._in_zone:
            self._upper_zone, self._lower_zone = q > self.zone_hi, q < self.zone_lo
        beyond = self._beyond_hard_limit(q) if self._in_zone else []
        if beyond and self.mode != Mode.STOPPING:
            self._stop(now, "joint(s) beyond hard limit: " + ", ".join(beyond),
                       "position_hard_limit", beyond)
        if self.estop_latched and self.mode != Mode.STOPPING:
            self._stop(now, "e-stop", "estop")
        if self.mode == Mode.STOPPING and now - self._stop_start >= self.config.stop.stop_time:
            self._set_mode(Mode.STOPPED, f"torque off {self.config.stop.stop_time:g} s after "
                                         f"the controlled stop ({self.stop_reason})")
            return zero
        fresh = self._request_time is not None and \
            now - self._request_time <= self.request_timeout
        if self.mode == Mode.ACTIVE and not fresh:
            age = "never" if self._request_time is None else f"{now - self._request_time:.3f} s"
            self._set_mode(Mode.HOLD, f"no valid torque request for {age} (timeout "
                                      f"{self.request_timeout:.3f} s)")
            self.counts["request_timeout"] += 1
        elif self.mode == Mode.HOLD and self.enabled and fresh:
            self._set_mode(Mode.ACTIVE, f"enabled and requests arriving; ramping in over "
                                        f"{self.config.ramp_time:g} s")
            self._ramp_start = now

        alpha = (now - self._ramp_start) / self.config.ramp_time \
            if self.mode == Mode.ACTIVE else 0.0
        # gravity + Coriolis: only where something needs it (HOLD, STOPPING, the ramp)
        bias = None if self.mode == Mode.ACTIVE and alpha >= 1.0 else self._bias_torque(q, dq)
        if self.mode == Mode.ACTIVE:
            cmd = self._request
            if alpha < 1.0:
                hold = bias - self.kd_hold * dq
                cmd = hold + max(alpha, 0.0) * (cmd - hold)
        elif self.mode == Mode.STOPPING:
            cmd = bias - self.kd_stop * dq
        else:
            cmd = bias - self.kd_hold * dq
        if np.maximum.reduce(np.abs(cmd) * self._inv_limit) > 1.0:
            if self.mode == Mode.ACTIVE:
                self._intervene("torque_limit", "request above the torque limit",
                                np.abs(cmd) > self.limit, cmd)
            cmd = np.minimum(np.maximum(cmd, -self.limit), self.limit)
        cmd = self._rate_limit(now, cmd)
        constraints = []
        if not self._geometry_clear(q):
            if bias is None:
                bias = self._bias_torque(q, dq)  # and the kinematics the geometry needs
            constraints = self._cartesian_constraints(q)
        too_fast = np.maximum.reduce(np.abs(dq) * self._inv_vmax) > 1.0
        if not (constraints or too_fast or self._in_zone):
            return cmd  # nothing near a limit: the limited command as it is
        if bias is None:
            bias = self._bias_torque(q, dq)
        net = cmd - bias  # the functions below act on the torque net of gravity and Coriolis
        if constraints:
            net = self._barriers(net, dq, bias, constraints)
        if too_fast:
            net = self._velocity_limit(net, dq)
        net = self._position_zones(net, q, dq)
        return np.minimum(np.maximum(bias + net, -self.limit), self.limit)

    def _geometry_clear(self, q: np.ndarray) -> bool:
        """True when no point can have moved into a workspace or self-collision margin since
        the geometry's last pass (a bound, so skipping the pass changes nothing)."""
        if self._geometry_q is None:
            return False
        moved = np.abs(np.subtract(q, self._geometry_q, out=self._moved), out=self._moved)
        return float(self.reach @ moved) < self._clearance

    def _bias_torque(self, q: np.ndarray, dq: np.ndarray) -> np.ndarray:
        """Gravity + Coriolis at (q, dq), canonical order; leaves kinematics in self.data.

        RobotDynamics.set_state + bias_torque, inlined: every robot dof is set, so no zeroing.
        """
        data = self.data
        self._qpos[self._qpos_idx] = q
        self._qvel[self._dof_idx] = dq
        mujoco.mj_kinematics(self.model, data)
        mujoco.mj_comPos(self.model, data)
        mujoco.mj_comVel(self.model, data)
        mujoco.mj_rne(self.model, data, 0, self._rne)
        return self._rne[self._dof_idx]

    # --------------------------------------------------------------------- the functions
    def _rate_limit(self, now: float, cmd: np.ndarray) -> np.ndarray:
        dt = self.period if self._prev_dt is None else \
            min(max(self._prev_dt, 0.0), 2 * self.period)
        step = self.rate * dt
        delta = cmd - self._output
        if np.maximum.reduce(np.abs(delta) - step) <= 0.0:
            return cmd
        fast = np.abs(delta) > step
        if self.mode == Mode.ACTIVE:
            self._intervene("rate_limit", "torque changing faster than the rate limit", fast,
                            delta / max(dt, 1e-9))
        return self._output + np.minimum(np.maximum(delta, -step), step)

    def _position_zones(self, net: np.ndarray, q: np.ndarray, dq: np.ndarray) -> np.ndarray:
        """In the zone near a limit: no net torque into it, plus repulsion and damping."""
        if not self._in_zone:
            return net
        out = net.copy()
        hi = np.flatnonzero(self._upper_zone)
        if hi.size:
            cap = -self.kp_zone[hi] * (q[hi] - self.zone_hi[hi]) - \
                self.kd_zone[hi] * np.maximum(dq[hi], 0.0)
            out[hi] = np.minimum(net[hi], cap)
        lo = np.flatnonzero(self._lower_zone)
        if lo.size:
            floor = self.kp_zone[lo] * (self.zone_lo[lo] - q[lo]) + \
                self.kd_zone[lo] * np.maximum(-dq[lo], 0.0)
            out[lo] = np.maximum(net[lo], floor)
        changed = out != net
        if changed.any():
            self._intervene("position_soft_limit", "joint in the soft zone near its limit: "
                            "torque into the limit removed", changed, q)
        return out

    def _velocity_limit(self, net: np.ndarray, dq: np.ndarray) -> np.ndarray:
        """Above the velocity limit: nothing that speeds the joint up, damping on the excess."""
        over = np.abs(dq) > self.vmax
        excess = dq - np.minimum(np.maximum(dq, -self.vmax), self.vmax)
        bound = -self.kd_vel * excess
        out = np.where(over & (dq > 0), np.minimum(net, bound), net)
        out = np.where(over & (dq < 0), np.maximum(out, bound), out)
        self._intervene("velocity_limit", "joint above its velocity limit", over, dq)
        return out

    def _cartesian_constraints(self, q: np.ndarray) -> list:
        """Palm faces and body pairs inside their margins: (Jacobian row, distance, margin).

        Also records the clearance to every margin at q, for _geometry_clear.
        """
        constraints = []
        ws_margin = self.config.workspace.margin
        palms = self._site_xpos[self._palm_ids]
        inside = np.concatenate([palms - self._box_min, self._box_max - palms], axis=1)
        ws_clearance = float(inside.min()) - ws_margin
        if ws_clearance >= 0.0:
            sides = ()
        else:
            sides = [(s, side) for s, side in enumerate(SIDES) if inside[s].min() < ws_margin]
        for s, side in sides:
            p = palms[s]
            lo, hi = inside[s, :3], inside[s, 3:]
            mujoco.mj_jacSite(self.model, self.data, self._jac, None, self.palm_site[side])
            for k in range(3):
                for dist, sign, face in ((lo[k], 1.0, "min"), (hi[k], -1.0, "max")):
                    if dist < ws_margin:
                        constraints.append((sign * self._jac[k].copy(), dist, ws_margin))
                        self._intervene("workspace", f"{side} palm near its workspace box "
                                        f"({'xyz'[k]} {face})", key=f"workspace:{side}",
                                        values={"palm": side, "position": p.copy(),
                                                "distance": dist})
        sc_margin = self.config.self_collision.margin
        scan = self.collision.scan(self.data)
        self._geometry_q = q.copy()
        self._clearance = min(ws_clearance, scan.clearance)
        for prox in scan.proximities:
            mujoco.mj_jac(self.model, self.data, self._jac, None, prox.point_a, prox.body_a)
            mujoco.mj_jac(self.model, self.data, self._jac_b, None, prox.point_b, prox.body_b)
            row = prox.normal @ (self._jac_b - self._jac)
            constraints.append((row, prox.distance, sc_margin))
            a, b = self.model.body(prox.body_a).name, self.model.body(prox.body_b).name
            self._intervene("self_collision", f"{a} and {b} closer than the margin",
                            key=f"self_collision:{a}:{b}",
                            values={"bodies": [a, b], "distance": prox.distance})
        return constraints

    def _barriers(self, net: np.ndarray, dq: np.ndarray, bias: np.ndarray,
                  constraints: list) -> np.ndarray:
        """The smallest forces (inertia metric) that make each separation accelerate enough."""
        mujoco.mj_crb(self.model, self.data)
        mujoco.mj_factorM(self.model, self.data)
        nv = self.model.nv
        g, v, lo, hi = np.zeros(nv), np.zeros(nv), np.zeros(nv), np.zeros(nv)
        g[self.dof], v[self.dof] = net, dq
        lo[self.dof], hi[self.dof] = -self.limit - bias, self.limit - bias
        kp, kd = self.config.cartesian_kp, self.config.cartesian_kd
        rows = []
        for row, dist, margin in constraints:
            minv = np.zeros((1, nv))
            mujoco.mj_solveM(self.model, self.data, minv, row[None, :])
            w = float(minv[0] @ row)
            if w > 1e-12:
                wanted = kp * min(margin - dist, margin) - kd * float(row @ v)
                rows.append((row, minv[0], w, wanted))
        # a few projected Gauss-Seidel sweeps: every barrier met as far as the torque limit allows
        for _ in range(self.SWEEPS):
            for row, minv, w, wanted in rows:
                accel = float(minv @ g)
                if accel < wanted:
                    g += row * ((wanted - accel) / w)
            np.clip(g, lo, hi, out=g)
        return g[self.dof]

    # ---------------------------------------------------------------- watchdogs and modes
    def _check_loop(self, now: float) -> None:
        self._prev_dt = None if self._prev_tick is None else now - self._prev_tick
        if self._prev_dt is not None and \
                self._prev_dt > self.config.watchdog.overrun_periods * self.period:
            self.overruns += 1
            self.counts["loop_overrun"] += 1
            self._emit("loop_overrun", f"tick came {self._prev_dt * 1e3:.2f} ms after the "
                       f"previous one (period {self.period * 1e3:.2f} ms)",
                       values={"dt_ms": self._prev_dt * 1e3}, throttle="loop_overrun")
        self._prev_tick = now

    def _read_state(self, now: float, state: JointState | None):
        timeout = self.config.watchdog.joint_state_timeout
        if state is None:
            if self._last_state_time is not None and now - self._last_state_time > timeout:
                self._stale(now)
            return None
        self._last_state_time = state.stamp
        age = now - state.stamp
        if age > timeout:
            self._stale(now)
            return None
        names = state.names
        if names is self._canonical or tuple(names) == self._canonical:
            q, dq = np.asarray(state.position, float), np.asarray(state.velocity, float)
        else:  # another order, or more joints than ours (extra ones are ignored)
            names = tuple(names)
            if names != self._state_names:
                self._state_names = names
                where = {n: i for i, n in enumerate(names)}
                self._state_take = (np.array([where[n] for n in self._canonical])
                                    if all(n in where for n in self._canonical) else None)
            q = dq = np.full(self.robot.n, np.nan)
            if self._state_take is not None and \
                    len(state.position) == len(state.velocity) == len(names):
                q = np.asarray(state.position, float)[self._state_take]
                dq = np.asarray(state.velocity, float)[self._state_take]
        if q.shape != (self.robot.n,) or dq.shape != (self.robot.n,) or \
                not math.isfinite(float(q @ q + dq @ dq)):  # NaN/Inf (or absurd values)
            self._fault("joint state incomplete or not finite (needs every joint's position "
                        "and velocity)")
            return None
        self._q = q
        return q, dq

    def _stale(self, now: float) -> None:
        if self.mode != Mode.FAULT:
            age = now - self._last_state_time
            self.counts["joint_state_timeout"] += 1
            self._fault(f"joint states stale: last one {age * 1e3:.1f} ms ago (timeout "
                        f"{self.config.watchdog.joint_state_timeout * 1e3:.0f} ms); torque off")

    def _beyond_hard_limit(self, q: np.ndarray) -> list[str]:
        bad = np.flatnonzero((q < self.hard_lo) | (q > self.hard_hi))
        return [self._canonical[i] for i in bad]

    def _accept(self, request: TorqueRequest, now: float) -> None:
        reason, joints = self._check_request(request, now)
        if reason:
            self.counts["request_rejected"] += 1
            self._emit("request_rejected", reason, joints=joints,
                       throttle=f"request_rejected:{reason.split(':')[0]}")
            return
        self._request = self._request_vector
        self._request_time = now

    def _check_request(self, request: TorqueRequest, now: float) -> tuple[str, tuple]:
        names, effort = tuple(request.names), np.asarray(request.effort, dtype=float)
        n = self.robot.n
        if effort.ndim != 1 or len(names) != len(effort):
            return f"wrong length: {len(names)} names but {effort.size} efforts", ()
        if len(effort) != n:
            return f"wrong length: {len(effort)} joints, expected {n}", ()
        if names != self._canonical:
            unknown = [x for x in names if x not in self._name_index]
            missing = [x for x in self._canonical if x not in set(names)]
            if unknown or missing or len(set(names)) != n:
                return (f"wrong joint names: unknown {unknown[:5]}, missing {missing[:5]}",
                        tuple(unknown[:5]))
            order = np.array([self._name_index[x] for x in names])
            effort = effort[np.argsort(order)]
            names = self._canonical
        if not np.isfinite(effort.sum()):  # NaN/Inf somewhere (or a sum that overflows)
            bad = np.flatnonzero(~np.isfinite(effort))
            return "non-finite effort (NaN/Inf)", tuple(names[i] for i in bad)
        if not request.stamp > 0:
            return "no stamp (header stamp is zero)", ()
        age = now - request.stamp
        if age > self.config.request.max_age:
            return f"out of date: stamp {age * 1e3:.1f} ms old", ()
        if age < -self.config.request.max_age:
            return f"out of date: stamp {-age * 1e3:.1f} ms in the future", ()
        self._request_vector = effort.copy()
        return "", ()

    def _stop(self, now: float, reason: str, kind: str, joints=()) -> None:
        self.stop_reason = reason
        self.enabled = False
        self._stop_start = now
        self.counts[kind] += 1
        self._set_mode(Mode.STOPPING, f"controlled stop: {reason}", joints=tuple(joints))

    def _fault(self, reason: str, pending: bool = False) -> None:
        self.fault_reason = reason
        self.enabled = False
        self._set_mode(Mode.FAULT, reason, pending=pending)

    def _set_mode(self, mode: Mode, reason: str, joints=(), pending=False) -> None:
        old = self.mode
        self.mode = mode
        self._emit("mode", f"{old.value} -> {mode.value}: {reason}", joints=joints,
                   values={"from": old.value, "to": mode.value}, pending=pending)

    # ------------------------------------------------------------------------- events
    def _intervene(self, kind: str, reason: str, mask=None, per_joint=None,
                   key: str | None = None, values: dict | None = None) -> None:
        """Count a tick of intervention; publish its onset and repeat it at most every so often."""
        key = key or kind
        self.counts[kind] += 1
        self._active.add(key)
        if key in self._active_prev and \
                self._now - self._last_emit.get(key, -np.inf) < self.config.event_repeat_s:
            return
        joints: tuple = ()
        vals = dict(values or {})
        if mask is not None:
            idx = np.flatnonzero(mask)
            joints = tuple(self._canonical[i] for i in idx)
            vals["values"] = np.asarray(per_joint)[idx]
        self._last_emit[key] = self._now
        self._events.append(SafetyEvent(self._now, kind, reason, self.mode.value, joints, vals,
                                        self.ticks))

    def _emit(self, kind: str, reason: str, joints=(), values=None, throttle: str | None = None,
              pending: bool = False) -> None:
        if throttle is not None:
            if self._now - self._last_emit.get(throttle, -np.inf) < self.config.event_repeat_s:
                return
            self._last_emit[throttle] = self._now
        event = SafetyEvent(self._now, kind, reason, self.mode.value, tuple(joints),
                            dict(values or {}), self.ticks)
        (self._pending if pending else self._events).append(event)
