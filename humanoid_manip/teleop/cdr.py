"""Fast CDR encoding of the few message types collection writes at high rates.

mcap-ros2's generic encoder packs one float at a time (about 1 ms per JointState); collection
writes ~10,000 messages per episode, so it serializes these fixed types itself, with numpy, in
ROS 2's plain little-endian CDR (the bytes a ROS 2 publisher puts on the wire). The episode
tests read the result back with two independent decoders.
"""
from __future__ import annotations

import struct

import numpy as np

_HEADER = b"\x00\x01\x00\x00"  # CDR_LE encapsulation


class CdrWriter:
    """Appends aligned primitives; alignment counts from after the encapsulation header."""

    def __init__(self):
        self.buf = bytearray(_HEADER)

    def _align(self, n: int) -> None:
        pad = (-(len(self.buf) - 4)) % n
        if pad:
            self.buf += b"\x00" * pad

    def u8(self, v: int) -> None:
        self.buf.append(v & 0xFF)

    def u32(self, v: int) -> None:
        self._align(4)
        self.buf += struct.pack("<I", v)

    def i32(self, v: int) -> None:
        self._align(4)
        self.buf += struct.pack("<i", v)

    def string(self, s: str) -> None:
        b = s.encode()
        self.u32(len(b) + 1)
        self.buf += b + b"\x00"

    def f64s(self, values, sequence: bool = True) -> None:
        a = np.ascontiguousarray(values, dtype="<f8").ravel()
        if sequence:
            self.u32(a.size)
        if a.size:
            self._align(8)
            self.buf += a.tobytes()

    def header(self, t_ns: int, frame_id: str) -> None:
        self.i32(int(t_ns // 1_000_000_000))
        self.u32(int(t_ns % 1_000_000_000))
        self.string(frame_id)

    def bytes(self) -> bytes:
        return bytes(self.buf)


def joint_state(t_ns: int, names, position=(), velocity=(), effort=()) -> bytes:
    w = CdrWriter()
    w.header(t_ns, "")
    w.u32(len(names))
    for n in names:
        w.string(n)
    w.f64s(position)
    w.f64s(velocity)
    w.f64s(effort)
    return w.bytes()


def float64_array(values) -> bytes:
    w = CdrWriter()
    w.u32(0)  # layout.dim: empty
    w.u32(0)  # layout.data_offset
    w.f64s(values)
    return w.bytes()


def image_rgb8(t_ns: int, frame_id: str, rgb: np.ndarray) -> bytes:
    h, wd, _ = rgb.shape
    w = CdrWriter()
    w.header(t_ns, frame_id)
    w.u32(h)
    w.u32(wd)
    w.string("rgb8")
    w.u8(0)
    w.u32(3 * wd)
    data = np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
    w.u32(len(data))
    w.buf += data
    return w.bytes()


def camera_info(t_ns: int, frame_id: str, width: int, height: int, fovy_deg: float) -> bytes:
    """An ideal pinhole camera with vertical field of view fovy (no distortion)."""
    f = 0.5 * height / np.tan(np.radians(fovy_deg) / 2.0)
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    w = CdrWriter()
    w.header(t_ns, frame_id)
    w.u32(height)
    w.u32(width)
    w.string("plumb_bob")
    w.f64s([0.0] * 5)
    w.f64s([f, 0.0, cx, 0.0, f, cy, 0.0, 0.0, 1.0], sequence=False)
    w.f64s([1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], sequence=False)
    w.f64s([f, 0.0, cx, 0.0, 0.0, f, cy, 0.0, 0.0, 0.0, 1.0, 0.0], sequence=False)
    for _ in range(2 + 4):  # binning_x, binning_y, roi offsets and size
        w.u32(0)
    w.u8(0)  # roi.do_rectify
    return w.bytes()


def _pose(w: CdrWriter, pos, quat_wxyz) -> None:
    q = quat_wxyz if quat_wxyz is not None else (1.0, 0.0, 0.0, 0.0)
    w.f64s([pos[0], pos[1], pos[2], q[1], q[2], q[3], q[0]], sequence=False)  # x y z w


def pose_stamped(t_ns: int, frame_id: str, pos, quat_wxyz=None) -> bytes:
    w = CdrWriter()
    w.header(t_ns, frame_id)
    _pose(w, pos, quat_wxyz)
    return w.bytes()


def pose_array(t_ns: int, frame_id: str, points) -> bytes:
    pts = np.asarray(points, dtype=float)
    w = CdrWriter()
    w.header(t_ns, frame_id)
    w.u32(len(pts))
    if len(pts):
        block = np.zeros((len(pts), 7))
        block[:, :3] = pts
        block[:, 6] = 1.0  # identity orientation (x y z w)
        w.f64s(block, sequence=False)
    return w.bytes()


def boolean(v: bool) -> bytes:
    return _HEADER + (b"\x01" if v else b"\x00")


def string(s: str) -> bytes:
    w = CdrWriter()
    w.string(s)
    return w.bytes()
