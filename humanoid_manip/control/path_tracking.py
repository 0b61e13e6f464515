"""Following a planned joint path with torque requests (reset motions before an episode).

A path (from moveit_py on the robot, or given) is tracked with joint PD plus gravity
compensation, as the teleop path drives the arms; what comes out is a torque *request*: the
safety monitor stays between it and the motors and remains the only publisher of torque. No ROS
here: the reset node feeds it joint states and publishes its requests; the tests run it through
the monitor's core in MuJoCo.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from humanoid_manip.control.pd import JointPD
from humanoid_manip.errors import HumanoidManipError
from humanoid_manip.robot import RobotDynamics, RobotSpec


class PathError(HumanoidManipError):
    """A path that cannot be followed: unknown joints, bad times, outside limits, or not
    starting where the robot is."""


@dataclass(frozen=True)
class JointPath:
    """Waypoints of some joints at increasing times (s from the path's start), with velocities.

    Between waypoints the reference is the cubic Hermite curve through their positions and
    velocities (a time-parameterized MoveIt trajectory gives both).
    """

    names: tuple[str, ...]
    times: np.ndarray  # (K,), times[0] == 0, strictly increasing
    positions: np.ndarray  # (K, len(names)), rad
    velocities: np.ndarray  # (K, len(names)), rad/s

    def __post_init__(self):
        k, n = len(self.times), len(self.names)
        if k < 2 or self.positions.shape != (k, n) or self.velocities.shape != (k, n):
            raise PathError(f"a path needs 2+ waypoints of {n} joints with times and "
                            f"velocities; got times {self.times.shape}, positions "
                            f"{self.positions.shape}, velocities {self.velocities.shape}")
        if len(set(self.names)) != n:
            raise PathError(f"a path names a joint twice: {list(self.names)}")
        if self.times[0] != 0.0 or np.any(np.diff(self.times) <= 0.0):
            raise PathError("path times must start at 0 and strictly increase")
        for what, a in (("times", self.times), ("positions", self.positions),
                        ("velocities", self.velocities)):
            if not np.all(np.isfinite(a)):
                raise PathError(f"path {what} have NaN or Inf")

    @property
    def duration(self) -> float:
        return float(self.times[-1])

    @classmethod
    def through(cls, names, waypoints, max_velocity, scaling: float = 0.2) -> JointPath:
        """Waypoints (K, n) timed so that no joint passes `scaling` × its max velocity, at rest
        at each waypoint (smoothstep segments: peak speed 1.5 × the mean)."""
        q = np.asarray(waypoints, dtype=float)
        vmax = scaling * np.asarray(max_velocity, dtype=float)
        seg = np.max(1.5 * np.abs(np.diff(q, axis=0)) / vmax, axis=1)
        times = np.concatenate([[0.0], np.cumsum(np.maximum(seg, 0.05))])
        return cls(tuple(names), times, q, np.zeros_like(q))

    def sample(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Reference positions and velocities at t (held at the ends outside [0, duration])."""
        if t <= 0.0:
            return self.positions[0].copy(), np.zeros(len(self.names))
        if t >= self.duration:
            return self.positions[-1].copy(), np.zeros(len(self.names))
        i = int(np.searchsorted(self.times, t, side="right")) - 1
        h = self.times[i + 1] - self.times[i]
        s = (t - self.times[i]) / h
        p0, p1 = self.positions[i], self.positions[i + 1]
        m0, m1 = self.velocities[i] * h, self.velocities[i + 1] * h
        h00, h10, h01, h11 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, \
            -2 * s**3 + 3 * s**2, s**3 - s**2
        q = h00 * p0 + h10 * m0 + h01 * p1 + h11 * m1
        d00, d10, d01, d11 = 6 * s**2 - 6 * s, 3 * s**2 - 4 * s + 1, -6 * s**2 + 6 * s, \
            3 * s**2 - 2 * s
        dq = (d00 * p0 + d10 * m0 + d01 * p1 + d11 * m1) / h
        return q, dq

    def with_joints(self, names, start, goal) -> JointPath:
        """This path plus more joints going from `start` to `goal` on its time base (smoothstep
        over the whole duration): the hands and head follow a planned arm motion."""
        names = tuple(names)
        start, goal = np.asarray(start, dtype=float), np.asarray(goal, dtype=float)
        s = self.times / self.duration
        ease = 3 * s**2 - 2 * s**3
        rate = (6 * s - 6 * s**2) / self.duration
        pos = start + ease[:, None] * (goal - start)
        vel = rate[:, None] * (goal - start)
        return JointPath(self.names + names, self.times, np.hstack([self.positions, pos]),
                         np.hstack([self.velocities, vel]))


class PathTracker:
    """Torque requests that follow a JointPath: PD to its reference plus gravity compensation.

    Joints the path does not name are held where they were at the start.
    """

    def __init__(self, robot: RobotSpec, path: JointPath, q_start: np.ndarray,
                 dynamics: RobotDynamics | None = None, start_tolerance: float = 0.05):
        unknown = [n for n in path.names if n not in robot.names]
        if unknown:
            raise PathError(f"the path names joints the robot lacks: {unknown}")
        self.robot, self.path = robot, path
        self.idx = robot.indices(path.names)
        lo, hi = robot.lower[self.idx] - 1e-6, robot.upper[self.idx] + 1e-6
        outside = np.flatnonzero(np.any((path.positions < lo) | (path.positions > hi), axis=0))
        if outside.size:
            raise PathError("the path leaves the joint limits of "
                            f"{[path.names[i] for i in outside]}")
        off = np.abs(path.positions[0] - np.asarray(q_start)[self.idx])
        if np.any(off > start_tolerance):
            j = int(np.argmax(off))
            raise PathError(f"the path starts {off[j]:.3f} rad from where {path.names[j]} is "
                            f"(tolerance {start_tolerance} rad): plan from the current state")
        self.dynamics = dynamics or RobotDynamics(robot)
        self.pd = JointPD(robot)
        self.hold = np.array(q_start, dtype=float)

    @property
    def goal(self) -> np.ndarray:
        """The full joint vector the path ends at (held joints at their start)."""
        q = self.hold.copy()
        q[self.idx] = self.path.positions[-1]
        return q

    def reference(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Desired positions and velocities of every joint at t (s from the path's start)."""
        q, dq = self.hold.copy(), np.zeros(self.robot.n)
        q[self.idx], dq[self.idx] = self.path.sample(t)
        return q, dq

    def torque(self, t: float, q: np.ndarray, dq: np.ndarray) -> np.ndarray:
        """The torque request (canonical order, N·m) for the measured state at time t."""
        q_des, dq_des = self.reference(t)
        self.dynamics.set_state(q, dq)
        return self.pd.torque(q, dq, q_des, self.dynamics.bias_torque(), dq_des)

    def arrived(self, t: float, q: np.ndarray, dq: np.ndarray, tolerance: float = 0.02,
                speed: float = 0.05) -> bool:
        """Past the path's end, every path joint within `tolerance` rad of its goal and slower
        than `speed` rad/s."""
        err = np.abs(np.asarray(q)[self.idx] - self.path.positions[-1])
        return t >= self.path.duration and bool(np.all(err <= tolerance)) and \
            bool(np.all(np.abs(np.asarray(dq)[self.idx]) <= speed))
