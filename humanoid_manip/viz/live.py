"""The live view's core: samples arrive one by one (from the view node), are thinned to a rate a
viewer needs, buffered, and written to Rerun in columns at each flush(); no ROS here.

Thinning keeps a stream's sample when at least `period_s` (on the samples' own clock) has passed
since the last one kept, so a 500 Hz joint-state stream becomes `rate_hz` poses and series
points; events, episode starts and outcomes are never thinned.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import rerun as rr

from humanoid_manip.viz import rerun_log
from humanoid_manip.viz.kinematics import RobotKinematics


class _Stream:
    """Times and rows of one buffered stream, thinned to one sample per period_s."""

    def __init__(self, period_s: float):
        self.period_s = period_s
        self.last = -np.inf
        self.t: list[float] = []
        self.rows: list = []

    def due(self, t: float) -> bool:
        """Whether a sample at t would be kept (checked before decoding it)."""
        return t >= self.last + self.period_s or t < self.last  # a clock reset starts over

    def add(self, t: float, row) -> bool:
        if not self.due(t):
            return False
        self.last = t
        self.t.append(t)
        self.rows.append(row)
        return True

    def take(self) -> tuple[np.ndarray, list]:
        t, rows = np.asarray(self.t, dtype=float), self.rows
        self.t, self.rows = [], []
        return t, rows


class LiveView:
    """Buffers what the live stack publishes and logs it to `rec` on flush()."""

    def __init__(self, rec: rr.RecordingStream, robot, kin: RobotKinematics,
                 rate_hz: float = 50.0, camera_hz: float | None = None):
        if not rate_hz > 0:
            raise ValueError(f"rate_hz must be > 0, got {rate_hz}")
        self.rec, self.robot, self.kin = rec, robot, kin
        period = 1.0 / rate_hz
        cam_period = 1.0 / camera_hz if camera_hz else 0.0
        self.joints = _Stream(period)  # rows: (q, v)
        self.requests = _Stream(period)
        self.commands = _Stream(period)
        self.deadman_stream = _Stream(period)
        self.targets = {side: _Stream(period) for side in ("left", "right")}
        self.cameras = {c: _Stream(cam_period) for c in robot.camera_names}
        self.progress_t = -np.inf
        self.counts = {"joint_states": 0, "requests": 0, "commands": 0, "frames": 0,
                       "events": 0, "episodes": 0}
        rerun_log.log_robot_model(rec, kin, robot)

    # -- samples -------------------------------------------------------------------------
    def joint_state(self, t: float, position: np.ndarray, velocity: np.ndarray) -> None:
        """Canonical-order joint positions and velocities at t (seconds)."""
        if self.joints.add(t, (np.asarray(position, float), np.asarray(velocity, float))):
            self.counts["joint_states"] += 1

    def request(self, t: float, torque: np.ndarray) -> None:
        if self.requests.add(t, np.asarray(torque, float)):
            self.counts["requests"] += 1

    def command(self, t: float, torque: np.ndarray) -> None:
        if self.commands.add(t, np.asarray(torque, float)):
            self.counts["commands"] += 1

    def image(self, camera: str, t: float, frame: np.ndarray) -> None:
        if camera in self.cameras and self.cameras[camera].add(t, np.array(frame, np.uint8)):
            self.counts["frames"] += 1

    def palm_target(self, side: str, t: float, position, quat_wxyz) -> None:
        if side in self.targets and self.targets[side].add(t, (position, quat_wxyz)):
            rerun_log.log_palm_target(self.rec, side, t, position, quat_wxyz)

    def deadman(self, t: float, held: bool) -> None:
        self.deadman_stream.add(t, float(bool(held)))

    def safety_event(self, t: float, event: dict) -> None:
        rerun_log.log_safety_events(self.rec, [t], [event])
        self.counts["events"] += 1

    def episode_start(self, t: float, info: dict) -> None:
        self.counts["episodes"] += 1
        text = (f"episode {info.get('episode', '?')} starts: {info.get('task', '?')}, seed "
                f"{info.get('seed', '?')}")
        self.rec.set_time(rerun_log.TIMELINE, duration=float(t))
        self.rec.log("task/outcome", rr.TextLog(text, level="INFO"))
        self.rec.reset_time()

    def task_status(self, t: float, progress: float | None, outcome: str | None = None) -> None:
        """The sim's progress (at most once per simulated 0.1 s) and, at an end, the outcome."""
        if outcome or t >= self.progress_t + 0.1 or t < self.progress_t:
            self.progress_t = t
            rerun_log.log_task(self.rec, t, progress, outcome)

    # -- output --------------------------------------------------------------------------
    def flush(self) -> None:
        """Write everything buffered since the last flush, in columns."""
        t, rows = self.joints.take()
        if len(t):
            q = np.stack([r[0] for r in rows])
            v = np.stack([r[1] for r in rows])
            rerun_log.log_robot_poses(self.rec, self.kin, self.robot.names, t, q)
            rerun_log.log_joint_series(self.rec, self.robot, "position", t, q)
            rerun_log.log_joint_series(self.rec, self.robot, "velocity", t, v)
        for quantity, stream in (("torque_request", self.requests),
                                 ("torque_applied", self.commands)):
            t, rows = stream.take()
            if len(t):
                rerun_log.log_joint_series(self.rec, self.robot, quantity, t, np.stack(rows))
        for cam, stream in self.cameras.items():
            t, rows = stream.take()
            if len(t):
                rerun_log.log_camera_frames(self.rec, self.robot, cam, t, np.stack(rows))
        t, rows = self.deadman_stream.take()
        if len(t):
            rerun_log.log_deadman(self.rec, t, np.asarray(rows))


def canonical(names: Sequence[str], robot_names: Sequence[str], values: np.ndarray
              ) -> np.ndarray | None:
    """values (in the order of names) in canonical order, or None if a joint is missing."""
    if tuple(names) == tuple(robot_names):
        return values
    where = {n: i for i, n in enumerate(names)}
    if not all(n in where for n in robot_names) or len(values) != len(names):
        return None
    return values[[where[n] for n in robot_names]]
