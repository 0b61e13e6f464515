"""The one module converting ROS messages to and from core types (numpy, canonical order)."""
from __future__ import annotations

import math

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from sensor_msgs.msg import CameraInfo, Image, JointState

from humanoid_manip.errors import HumanoidManipError

# -- time ----------------------------------------------------------------------------------


def seconds_to_time(t: float) -> Time:
    """A float time (s) as builtin_interfaces/Time."""
    ns = int(round(t * 1e9))
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


# two stamps this close are one instant (stamps carry whole nanoseconds; floats of sim time drift
# by far less): how the lockstep nodes pair a request with its state, a state with a tick time
STAMP_TOLERANCE_S = 1e-6


def time_to_seconds(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


# -- images --------------------------------------------------------------------------------


class ImageFormatError(HumanoidManipError):
    """An Image message this stack cannot read (encoding, size or step)."""


def image_to_array(msg: Image) -> np.ndarray:
    """rgb8 / bgr8 / rgba8 / bgra8 Image → uint8 H×W×3 RGB (a copy only when it must convert)."""
    channels = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4}.get(msg.encoding)
    if channels is None:
        raise ImageFormatError(f"image encoding {msg.encoding!r} not supported; publish rgb8 "
                               "(or bgr8, rgba8, bgra8)")
    h, w, step = msg.height, msg.width, msg.step
    buf = np.frombuffer(msg.data, np.uint8)
    if step < w * channels or buf.size < h * step:
        raise ImageFormatError(f"image {w}x{h} {msg.encoding}: step {step} and {buf.size} "
                               f"bytes do not fit (need step >= {w * channels})")
    a = buf[:h * step].reshape(h, step)[:, :w * channels].reshape(h, w, channels)
    if msg.encoding.startswith("bgr"):
        a = a[:, :, 2::-1]
    elif channels == 4:
        a = a[:, :, :3]
    return a


def resize_nearest(a: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of an H×W×C image (drivers that publish another size)."""
    if a.shape[:2] == (height, width):
        return a
    rows = (np.arange(height) * a.shape[0] // height).astype(np.intp)
    cols = (np.arange(width) * a.shape[1] // width).astype(np.intp)
    return a[rows][:, cols]


def array_to_image(a: np.ndarray, stamp: Time, frame_id: str) -> Image:
    """uint8 H×W×3 RGB → rgb8 Image, data filled from bytes (the fast path in rclpy)."""
    h, w = a.shape[:2]
    return Image(header=_header(stamp, frame_id), height=h, width=w, encoding="rgb8",
                 is_bigendian=0, step=w * 3, data=np.ascontiguousarray(a, np.uint8).tobytes())


def camera_info(width: int, height: int, fovy_deg: float, stamp: Time,
                frame_id: str) -> CameraInfo:
    """Pinhole CameraInfo of an ideal camera with vertical field of view fovy (no distortion)."""
    f = 0.5 * height / math.tan(math.radians(fovy_deg) / 2.0)
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    return CameraInfo(header=_header(stamp, frame_id), width=width, height=height,
                      distortion_model="plumb_bob", d=[0.0] * 5,
                      k=[f, 0.0, cx, 0.0, f, cy, 0.0, 0.0, 1.0],
                      r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                      p=[f, 0.0, cx, 0.0, 0.0, f, cy, 0.0, 0.0, 0.0, 1.0, 0.0])


def _header(stamp: Time, frame_id: str):
    from std_msgs.msg import Header

    return Header(stamp=stamp, frame_id=frame_id)


# -- joint states --------------------------------------------------------------------------


def joint_state_msg(names, position, velocity, effort, stamp: Time) -> JointState:
    """Canonical arrays → JointState (rad, rad/s, N·m)."""
    return JointState(header=_header(stamp, ""), name=list(names),
                      position=np.asarray(position, float).tolist(),
                      velocity=np.asarray(velocity, float).tolist(),
                      effort=np.asarray(effort, float).tolist())


def torque_request_msg(names, torque, stamp: Time) -> JointState:
    """A torque request: JointState with names and effort only (/policy/torque_request)."""
    return JointState(header=_header(stamp, ""), name=list(names),
                      effort=np.asarray(torque, float).tolist())


class JointOrder:
    """Reads JointState messages in any joint order into canonical arrays (mapping cached)."""

    def __init__(self, canonical_names):
        self.names = tuple(canonical_names)
        self._cache: tuple[tuple[str, ...], np.ndarray | None] = ((), None)

    def _perm(self, msg_names) -> np.ndarray | None:
        key = tuple(msg_names)
        if key != self._cache[0]:
            where = {n: i for i, n in enumerate(key)}
            if all(n in where for n in self.names):
                perm = np.array([where[n] for n in self.names], np.intp)
            else:
                perm = None
            self._cache = (key, perm)
        return self._cache[1]

    def missing(self, msg_names) -> list[str]:
        have = set(msg_names)
        return [n for n in self.names if n not in have]

    def read(self, msg: JointState) -> tuple[np.ndarray, np.ndarray] | None:
        """(q, dq) in canonical order, or None when a joint is missing (velocity 0 if absent)."""
        perm = self._perm(msg.name)
        if perm is None or len(msg.position) != len(msg.name):
            return None
        q = np.asarray(msg.position, float)[perm]
        dq = (np.asarray(msg.velocity, float)[perm] if len(msg.velocity) == len(msg.name)
              else np.zeros(len(self.names)))
        return q, dq


# -- diagnostics ---------------------------------------------------------------------------

LEVELS = {"OK": DiagnosticStatus.OK, "WARN": DiagnosticStatus.WARN,
          "ERROR": DiagnosticStatus.ERROR, "STALE": DiagnosticStatus.STALE}


def diagnostic_status(name: str, hardware_id: str, level: str, message: str,
                      values: dict) -> DiagnosticStatus:
    """One DiagnosticStatus; floats formatted compactly."""
    def fmt(v):
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    return DiagnosticStatus(level=LEVELS[level], name=name, message=message,
                            hardware_id=hardware_id,
                            values=[KeyValue(key=k, value=fmt(v)) for k, v in values.items()])


# -- safety monitor ------------------------------------------------------------------------


def torque_request_from_msg(msg: JointState):
    """/policy/torque_request (names + effort, header stamp) → safety TorqueRequest."""
    from humanoid_manip.safety.types import TorqueRequest

    return TorqueRequest(tuple(msg.name), np.asarray(msg.effort, float),
                         time_to_seconds(msg.header.stamp))


def joint_state_from_msg(msg: JointState, received: float):
    """/joint_states → safety JointState, stamped with its arrival time on the monitor's clock."""
    from humanoid_manip.safety.types import JointState as SafetyJointState

    return SafetyJointState(tuple(msg.name), np.asarray(msg.position, float),
                            np.asarray(msg.velocity, float), received)


def torque_command_msg(torque: np.ndarray, msg=None):
    """Torques in controller joint order → Float64MultiArray (forward_command_controller).

    Pass the previous message to refill it: at 500 Hz, building a new one costs more than the
    monitor's own arithmetic.
    """
    import array

    from std_msgs.msg import Float64MultiArray

    msg = msg if msg is not None else Float64MultiArray()
    data = array.array("d")
    data.frombytes(np.ascontiguousarray(torque, np.float64).tobytes())
    msg.data = data
    return msg


def safety_event_msg(event):
    """A SafetyEvent → one JSON line in std_msgs/String (/safety/events)."""
    from std_msgs.msg import String

    return String(data=event.to_json())


def diagnostic_values(array, name: str) -> tuple[int, str, dict[str, str]]:
    """Level, message and key/values of the status called `name` in a DiagnosticArray."""
    for s in array.status:
        if s.name == name:
            level = s.level[0] if isinstance(s.level, (bytes, bytearray)) else int(s.level)
            return level, s.message, {kv.key: kv.value for kv in s.values}
    raise KeyError(name)


# -- teleop --------------------------------------------------------------------------------


def pose_from_msg(msg) -> tuple[np.ndarray, np.ndarray]:
    """geometry_msgs/PoseStamped → position (3,) and quaternion (w, x, y, z)."""
    p, o = msg.pose.position, msg.pose.orientation
    return np.array([p.x, p.y, p.z]), np.array([o.w, o.x, o.y, o.z])


def keypoints_from_msg(msg) -> np.ndarray:
    """geometry_msgs/PoseArray of hand keypoints → N×3 positions (orientations ignored)."""
    return np.array([[p.position.x, p.position.y, p.position.z] for p in msg.poses],
                    dtype=float).reshape(-1, 3)


def pose_stamped_msg(pos, quat_wxyz, stamp: Time, frame_id: str = "world"):
    """Position + wxyz quaternion (None: identity) → geometry_msgs/PoseStamped."""
    from geometry_msgs.msg import Point, Pose, PoseStamped, Quaternion

    q = quat_wxyz if quat_wxyz is not None else (1.0, 0.0, 0.0, 0.0)
    return PoseStamped(header=_header(stamp, frame_id), pose=Pose(
        position=Point(x=float(pos[0]), y=float(pos[1]), z=float(pos[2])),
        orientation=Quaternion(w=float(q[0]), x=float(q[1]), y=float(q[2]), z=float(q[3]))))


def pose_array_msg(points, stamp: Time, frame_id: str):
    """N×3 keypoints → geometry_msgs/PoseArray (identity orientations)."""
    from geometry_msgs.msg import Point, Pose, PoseArray

    return PoseArray(header=_header(stamp, frame_id), poses=[
        Pose(position=Point(x=float(p[0]), y=float(p[1]), z=float(p[2])))
        for p in np.asarray(points, dtype=float)])


def teleop_input_msgs(inp, stamp: Time) -> dict:
    """A device's TeleopInput → {topic: message} for the /teleop topics."""
    from std_msgs.msg import Bool

    out = {"/teleop/deadman": Bool(data=bool(inp.deadman))}
    for side, h in inp.hands.items():
        if h.wrist_pos is not None:
            out[f"/teleop/{side}_wrist_target"] = pose_stamped_msg(h.wrist_pos, h.wrist_quat,
                                                                   stamp)
        if h.keypoints is not None:
            out[f"/teleop/{side}_hand_keypoints"] = pose_array_msg(h.keypoints, stamp,
                                                                   f"{side}_hand")
    return out
