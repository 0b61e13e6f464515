"""One episode file into a Rerun recording: the robot posed at every joint state, the cameras,
the joint series, the safety monitor's events and the outcome, on one timeline from its start."""
from __future__ import annotations

import numpy as np
import rerun as rr

from humanoid_manip.data.episode import Episode
from humanoid_manip.viz import rerun_log
from humanoid_manip.viz.kinematics import RobotKinematics


def _canonical(ep: Episode, robot, values: np.ndarray) -> np.ndarray:
    """A joint-state array in canonical order (the recording's own order may differ)."""
    if not values.size or not ep.joint_names or list(ep.joint_names) == list(robot.names):
        return values
    col = {n: i for i, n in enumerate(ep.joint_names)}
    out = np.full((len(values), robot.n), np.nan)
    for i, name in enumerate(robot.names):
        if name in col and col[name] < values.shape[1]:
            out[:, i] = values[:, col[name]]
    return out


def event_times(ep: Episode) -> np.ndarray:
    """Each safety event's time in episode seconds (when it was logged)."""
    return np.asarray(ep.event_t, dtype=float) - ep.start_s


def log_episode(rec: rr.RecordingStream, ep: Episode, robot, kin: RobotKinematics) -> dict:
    """Log everything of ep; returns what was logged (counts), for the command's summary."""
    t0 = ep.start_s
    rerun_log.log_robot_model(rec, kin, robot)
    position = _canonical(ep, robot, ep.position)
    if len(ep.t):
        rerun_log.log_robot_poses(rec, kin, robot.names, ep.t - t0, position)
    rerun_log.log_joint_series(rec, robot, "position", ep.t - t0, position)
    rerun_log.log_joint_series(rec, robot, "velocity", ep.t - t0,
                               _canonical(ep, robot, ep.velocity))
    rerun_log.log_joint_series(rec, robot, "torque_request", ep.request_t - t0, ep.request)
    rerun_log.log_joint_series(rec, robot, "torque_applied", ep.command_t - t0, ep.command)
    frames = {}
    for cam in robot.camera_names:
        if cam in ep.images:
            ts, fr = ep.images[cam]
            rerun_log.log_camera_frames(rec, robot, cam, ts - t0, fr)
            frames[cam] = len(ts)
    rerun_log.log_safety_events(rec, event_times(ep), ep.events)
    outcome = ep.metadata.get("outcome") or {}
    success, progress = outcome.get("success"), outcome.get("progress")
    task = ep.metadata.get("task", "?")
    text = {True: "success", False: "failure"}.get(success, "outcome not recorded")
    if isinstance(progress, (int, float)):
        text += f", progress {progress:.2f}"
    rerun_log.log_task(rec, ep.duration_s,
                       float(progress) if isinstance(progress, (int, float)) else None,
                       f"{task} seed {ep.metadata.get('seed', '?')}: {text}")
    return {"joint_states": len(ep.t), "requests": len(ep.request_t),
            "commands": len(ep.command_t), "frames": frames, "events": len(ep.events),
            "outcome": text}
