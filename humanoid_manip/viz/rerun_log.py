"""What the viewer shows, as Rerun entities: one function per kind of data, used alike by
`data view` (a whole episode, column by column) and the live view node (batches as they come).

Entity paths (the blueprint in viz/layout.py arranges them):
    world/robot/<link>                      link pose in the world (the URDF root is the world)
    world/robot/<link>/visual               its URDF shapes (static)
    world/robot/<camera link>/<camera>      pinhole + image: the camera in 3D and its picture
    world/teleop/<side>_palm_target         teleop palm targets (PoseStamped), as axes
    joints/<quantity>/<group>               one named series per joint (QUANTITIES)
    safety/interventions                    one marker per safety event, a row per type
    safety/events                           the events' text (type, reason, joints)
    task/progress, task/outcome             the task's progress and its end
    teleop/deadman                          1 while the operator holds the deadman
The timeline is TIMELINE, in seconds (episode time for files, simulated time live).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import rerun as rr
from scipy.spatial.transform import Rotation

from humanoid_manip.viz.kinematics import RobotKinematics

TIMELINE = "time"
ROBOT = "world/robot"
TELEOP = "world/teleop"
# quantity -> (label, unit) of the joint series
QUANTITIES = {
    "position": ("position", "rad"),
    "velocity": ("velocity", "rad/s"),
    "torque_request": ("requested torque", "N·m"),
    "torque_applied": ("applied torque", "N·m"),
}
# Safety event types in the order of their marker rows (safety monitor README): stops and
# faults on top. A type not listed goes below them all.
EVENT_TYPES = ("mode", "request_rejected", "request_timeout", "torque_limit", "rate_limit",
               "velocity_limit", "position_soft_limit", "workspace", "self_collision",
               "loop_overrun", "enable_refused", "reset_refused", "position_hard_limit",
               "joint_state_timeout", "foreign_publisher", "estop")
SEVERE = {"position_hard_limit", "joint_state_timeout", "foreign_publisher", "estop"}
IMAGE_PLANE_M = 0.08  # how far in front of a camera its picture is drawn in 3D


def link_path(link: str) -> str:
    return f"{ROBOT}/{link}"


def camera_path(robot, camera: str) -> str:
    return f"{link_path(robot.camera(camera).link)}/{camera}"


def series_path(quantity: str, group: str) -> str:
    return f"joints/{quantity}/{group}"


def _rgba8(rgba) -> list[int]:
    return [int(round(255 * min(1.0, max(0.0, c)))) for c in rgba]


def _quat_xyzw(rotations: np.ndarray) -> np.ndarray:
    return Rotation.from_matrix(np.asarray(rotations).reshape(-1, 3, 3)).as_quat()


def _times(t) -> rr.TimeColumn:
    return rr.TimeColumn(TIMELINE, duration=np.asarray(t, dtype=float))


def log_robot_model(rec: rr.RecordingStream, kin: RobotKinematics, robot) -> None:
    """The robot's shapes, its cameras' pinholes and the series' names (all static)."""
    rec.log("world", rr.ViewCoordinates.RIGHT_HAND_Z_UP, static=True)
    for link, visuals in kin.visuals.items():
        boxes = [v for v in visuals if v.kind == "box"]
        cyls = [v for v in visuals if v.kind == "cylinder"]
        spheres = [v for v in visuals if v.kind == "sphere"]
        base = f"{link_path(link)}/visual"
        if boxes:
            rec.log(f"{base}/boxes", rr.Boxes3D(
                half_sizes=[np.asarray(v.size) / 2 for v in boxes],
                centers=[v.xyz for v in boxes],
                quaternions=_quat_xyzw([v.rotation for v in boxes]),
                colors=[_rgba8(v.rgba) for v in boxes], fill_mode="solid"), static=True)
        if cyls:
            rec.log(f"{base}/cylinders", rr.Cylinders3D(
                radii=[v.size[0] for v in cyls], lengths=[v.size[1] for v in cyls],
                centers=[v.xyz for v in cyls], quaternions=_quat_xyzw([v.rotation for v in cyls]),
                colors=[_rgba8(v.rgba) for v in cyls], fill_mode="solid"), static=True)
        if spheres:
            rec.log(f"{base}/spheres", rr.Ellipsoids3D(
                radii=[v.size[0] for v in spheres], centers=[v.xyz for v in spheres],
                colors=[_rgba8(v.rgba) for v in spheres], fill_mode="solid"), static=True)
        for i, v in enumerate(x for x in visuals if x.kind == "mesh"):
            rec.log(f"{base}/mesh_{i}", rr.Transform3D(
                translation=v.xyz, mat3x3=v.rotation, scale=v.size), static=True)
            rec.log(f"{base}/mesh_{i}", rr.Asset3D(path=v.mesh), static=True)
    h, w = robot.image.height, robot.image.width
    for cam in robot.cameras:
        focal = 0.5 * h / math.tan(math.radians(cam.fovy_deg) / 2)
        rec.log(camera_path(robot, cam.name), rr.Pinhole(
            focal_length=focal, width=w, height=h, camera_xyz=rr.ViewCoordinates.FLU,
            image_plane_distance=IMAGE_PLANE_M), static=True)
    for quantity in QUANTITIES:
        for group in robot.groups:
            names = [robot.names[i] for i in robot.group_indices(group)]
            rec.log(series_path(quantity, group), rr.SeriesLines(names=names), static=True)
    rec.log("safety/interventions", rr.SeriesPoints(markers="diamond", marker_sizes=4),
            static=True)
    rec.log("task/progress", rr.SeriesLines(names="progress", colors=[40, 160, 60]),
            static=True)
    rec.log("teleop/deadman", rr.SeriesLines(names="deadman held"), static=True)


def log_robot_poses(rec: rr.RecordingStream, kin: RobotKinematics, names: Sequence[str],
                    t, q) -> None:
    """Every link's world pose at each of the T joint states q (T×len(names)), at times t."""
    t = np.asarray(t, dtype=float)
    if not len(t):
        return
    for link, (p, r) in kin.link_poses(names, q).items():
        rec.send_columns(link_path(link), indexes=[_times(t)], columns=rr.Transform3D.columns(
            translation=p, quaternion=_quat_xyzw(r)))


def log_joint_series(rec: rr.RecordingStream, robot, quantity: str, t, values) -> None:
    """One quantity of QUANTITIES for all joints (T×n, canonical order) as named series."""
    t = np.asarray(t, dtype=float)
    values = np.asarray(values, dtype=float)
    if not len(t) or values.ndim != 2 or values.shape[1] != robot.n:
        return  # a stream absent from the recording (or not in canonical order): nothing shown
    for group in robot.groups:
        rec.send_columns(series_path(quantity, group), indexes=[_times(t)],
                         columns=rr.Scalars.columns(scalars=values[:, robot.group_indices(group)]))


def log_camera_frames(rec: rr.RecordingStream, robot, camera: str, t, frames) -> None:
    """Frames (N×H×W×3 uint8) of one camera at times t."""
    t = np.asarray(t, dtype=float)
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    if not len(t):
        return
    h, w = frames.shape[1:3]
    path = camera_path(robot, camera)
    rec.log(path, rr.Image.from_fields(format=rr.components.ImageFormat(
        width=w, height=h, color_model="RGB", channel_datatype="U8")), static=True)
    rec.send_columns(path, indexes=[_times(t)],
                     columns=rr.Image.columns(buffer=frames.reshape(len(t), -1)))


def event_row(kind: str) -> int:
    """The marker row of an event type (EVENT_TYPES order; unknown types at the bottom)."""
    return EVENT_TYPES.index(kind) + 1 if kind in EVENT_TYPES else 0


def event_text(event: dict) -> str:
    joints = list(event.get("joints") or [])
    shown = f" [{', '.join(joints[:4])}{' …' if len(joints) > 4 else ''}]" if joints else ""
    mode = f" ({event['mode']})" if event.get("mode") else ""
    return f"{event.get('type', '?')}{mode}: {event.get('reason', '')}{shown}"


def log_safety_events(rec: rr.RecordingStream, t: Iterable[float], events: Sequence[dict]
                      ) -> None:
    """The safety monitor's events at times t: a text line each and a marker on its type's row."""
    for ti, e in zip(t, events):
        kind = str(e.get("type", "?"))
        rec.set_time(TIMELINE, duration=float(ti))
        level = "ERROR" if kind in SEVERE else ("INFO" if kind == "mode" else "WARN")
        rec.log("safety/events", rr.TextLog(event_text(e), level=level))
        rec.log("safety/interventions", rr.Scalars(float(event_row(kind))))
    rec.reset_time()


def log_task(rec: rr.RecordingStream, t: float, progress: float | None = None,
             outcome: str | None = None) -> None:
    """The task's progress (0-1) at time t, and its outcome text when it ends."""
    rec.set_time(TIMELINE, duration=float(t))
    if progress is not None and math.isfinite(progress):
        rec.log("task/progress", rr.Scalars(float(progress)))
    if outcome:
        rec.log("task/outcome", rr.TextLog(outcome, level="INFO"))
    rec.reset_time()


def log_palm_target(rec: rr.RecordingStream, side: str, t: float, position, quat_wxyz) -> None:
    """A teleop palm target (world frame) as a small set of axes with a label."""
    w, x, y, z = (float(c) for c in quat_wxyz)
    path = f"{TELEOP}/{side}_palm_target"
    rec.set_time(TIMELINE, duration=float(t))
    rec.log(path, rr.Transform3D(translation=np.asarray(position, float),
                                 quaternion=rr.Quaternion(xyzw=[x, y, z, w])),
            rr.TransformAxes3D(0.08))
    rec.log(f"{path}/marker", rr.Points3D([[0.0, 0.0, 0.0]], radii=0.015,
                                          colors=[[230, 120, 20]], labels=[f"{side} target"]))
    rec.reset_time()


def log_deadman(rec: rr.RecordingStream, t, held) -> None:
    """The deadman as a 0/1 series."""
    rec.send_columns("teleop/deadman", indexes=[_times(np.atleast_1d(t))],
                     columns=rr.Scalars.columns(scalars=np.atleast_1d(held).astype(float)))
