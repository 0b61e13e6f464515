"""Fast CDR encoders for the message types episodes are written with, and decoders for the
high-rate ones (JointState, Float64MultiArray, Image).

The generic dict encoder of mcap-ros2 spends ~1 ms on a 48-joint JointState; these build the
same bytes (little-endian XCDR1, as rclpy publishes) with numpy, for EpisodeWriter.write_cdr.
"""
from __future__ import annotations

import struct
from functools import lru_cache

import numpy as np

ENCAPSULATION = b"\x00\x01\x00\x00"  # CDR, little endian


class _Buf:
    """Byte builder that pads to each field's alignment (offsets after the encapsulation)."""

    def __init__(self, pad: bytes = b"\0"):
        self.parts: list[bytes] = [ENCAPSULATION]
        self.n = 0
        self.pad = pad

    def align(self, a: int) -> None:
        pad = (-self.n) % a
        if pad:
            self.parts.append(self.pad * pad)
            self.n += pad

    def raw(self, b: bytes) -> None:
        self.parts.append(b)
        self.n += len(b)

    def u8(self, v: int) -> None:
        self.raw(bytes((v & 0xFF,)))

    def u32(self, v: int) -> None:
        self.align(4)
        self.raw(struct.pack("<I", v))

    def string(self, s: str) -> None:
        b = s.encode() + b"\0"
        self.u32(len(b))
        self.raw(b)

    def doubles(self, a, sequence: bool = True) -> None:
        """float64[] (length first) or, with sequence=False, a fixed-size float64[N]."""
        a = np.ascontiguousarray(a, dtype="<f8").ravel()
        if sequence:
            self.u32(a.size)
        if a.size:
            self.align(8)
            self.raw(a.tobytes())

    def header(self, t_ns: int, frame_id: str) -> None:
        self.align(4)
        self.raw(struct.pack("<iI", int(t_ns // 1_000_000_000), int(t_ns % 1_000_000_000)))
        self.string(frame_id)

    def bytes(self) -> bytes:
        return b"".join(self.parts)


def joint_state_cdr(t_ns: int, names, position=(), velocity=(), effort=()) -> bytes:
    """sensor_msgs/JointState, bytes identical to the dict encoder's."""
    b = _Buf()
    b.header(t_ns, "")
    b.align(4)
    b.raw(_names_blob(tuple(names), b.n % 8))
    b.doubles(position)
    b.doubles(velocity)
    b.doubles(effort)
    return b.bytes()


@lru_cache(maxsize=64)
def _names_blob(names: tuple[str, ...], offset_mod8: int, pad: bytes = b"\0") -> bytes:
    """The encoded name sequence (the same in every message of a stream), built once."""
    b = _Buf(pad)
    b.parts, b.n = [], offset_mod8
    b.u32(len(names))
    for n in names:
        b.string(n)
    return b"".join(b.parts)


def float64_array_cdr(values) -> bytes:
    """std_msgs/Float64MultiArray with an empty layout."""
    b = _Buf()
    b.u32(0)  # layout.dim: no dimensions
    b.u32(0)  # layout.data_offset
    b.doubles(values)
    return b.bytes()


def image_cdr(t_ns: int, frame_id: str, rgb: np.ndarray) -> bytes:
    """sensor_msgs/Image, rgb8."""
    h, w, _ = rgb.shape
    b = _Buf()
    b.header(t_ns, frame_id)
    b.u32(h)
    b.u32(w)
    b.string("rgb8")
    b.raw(b"\0")  # is_bigendian
    b.u32(3 * w)
    data = np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
    b.u32(len(data))
    b.raw(data)
    return b.bytes()


def camera_info_cdr(t_ns: int, frame_id: str, width: int, height: int,
                    fovy_deg: float) -> bytes:
    """sensor_msgs/CameraInfo of an ideal pinhole camera with vertical field of view fovy."""
    f = 0.5 * height / np.tan(np.radians(fovy_deg) / 2.0)
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    b = _Buf()
    b.header(t_ns, frame_id)
    b.u32(height)
    b.u32(width)
    b.string("plumb_bob")
    b.doubles([0.0] * 5)
    b.doubles([f, 0.0, cx, 0.0, f, cy, 0.0, 0.0, 1.0], sequence=False)
    b.doubles([1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], sequence=False)
    b.doubles([f, 0.0, cx, 0.0, 0.0, f, cy, 0.0, 0.0, 0.0, 1.0, 0.0], sequence=False)
    for _ in range(2 + 4):  # binning_x, binning_y, roi offsets and size
        b.u32(0)
    b.u8(0)  # roi.do_rectify
    return b.bytes()


def pose_stamped_cdr(t_ns: int, frame_id: str, pos, quat_wxyz=None) -> bytes:
    """geometry_msgs/PoseStamped; orientation given w first, as MuJoCo keeps it."""
    q = quat_wxyz if quat_wxyz is not None else (1.0, 0.0, 0.0, 0.0)
    b = _Buf()
    b.header(t_ns, frame_id)
    b.doubles([pos[0], pos[1], pos[2], q[1], q[2], q[3], q[0]], sequence=False)  # x y z w
    return b.bytes()


def pose_array_cdr(t_ns: int, frame_id: str, points) -> bytes:
    """geometry_msgs/PoseArray of positions with identity orientations (hand keypoints)."""
    pts = np.asarray(points, dtype=float)
    b = _Buf()
    b.header(t_ns, frame_id)
    b.u32(len(pts))
    if len(pts):
        block = np.zeros((len(pts), 7))
        block[:, :3] = pts
        block[:, 6] = 1.0  # x y z w
        b.doubles(block, sequence=False)
    return b.bytes()


def bool_cdr(v: bool) -> bytes:
    """std_msgs/Bool."""
    return ENCAPSULATION + (b"\x01" if v else b"\x00")


def string_cdr(text: str) -> bytes:
    """std_msgs/String."""
    b = _Buf()
    b.string(text)
    return b.bytes()


@lru_cache(maxsize=64)
def _names_pattern(names: tuple[str, ...], offset_mod8: int) -> tuple[np.ndarray, np.ndarray]:
    """The name sequence's bytes, and a mask of those that are not padding: senders may leave
    padding uninitialised (rclpy does), so a byte-for-byte comparison would always miss."""
    zero = np.frombuffer(_names_blob(names, offset_mod8), np.uint8)
    ones = np.frombuffer(_names_blob(names, offset_mod8, b"\xff"), np.uint8)
    return zero, np.where(zero == ones, 0xFF, 0).astype(np.uint8)


# -- decoding (little-endian CDR only; callers fall back to the generic decoder otherwise) ----
class CdrFormatError(ValueError):
    """Bytes that are not the little-endian CDR these decoders read."""


class _Reader:
    def __init__(self, data: bytes):
        if len(data) < 4 or data[1] != 1:
            raise CdrFormatError("not little-endian CDR")
        self.data = data
        self.pos = 4  # offsets count from after the encapsulation header

    def align(self, a: int) -> None:
        self.pos += (-(self.pos - 4)) % a

    def u32(self) -> int:
        self.align(4)
        v = int.from_bytes(self.data[self.pos:self.pos + 4], "little")
        self.pos += 4
        return v

    def string(self) -> str:
        n = self.u32()
        s = self.data[self.pos:self.pos + n - 1].decode()
        self.pos += n
        return s

    def doubles(self) -> np.ndarray:
        n = self.u32()
        if n == 0:
            return np.zeros(0)
        self.align(8)
        a = np.frombuffer(self.data, "<f8", n, self.pos)
        self.pos += 8 * n
        return a

    def stamp(self) -> float:
        self.align(4)
        sec, nsec = struct.unpack_from("<iI", self.data, self.pos)
        self.pos += 8
        return sec + nsec * 1e-9


def header_stamp(data: bytes) -> float:
    """The header stamp (s) of any serialized message that starts with a std_msgs/Header."""
    return _Reader(data).stamp()


def read_joint_state(data: bytes, names: tuple[str, ...] | None = None):
    """(stamp s, names, position, velocity, effort) of a JointState; pass the names of the
    previous message to skip decoding them again when they are the same."""
    r = _Reader(data)
    stamp = r.stamp()
    r.string()  # frame_id
    r.align(4)
    start = r.pos
    if names is not None:
        pattern, mask = _names_pattern(names, (start - 4) % 8)
        end = start + len(pattern)
        if end <= len(data) and np.array_equal(
                np.frombuffer(data, np.uint8, len(pattern), start) & mask, pattern):
            r.pos = end
        else:
            names = None
    if names is None:
        names = tuple(r.string() for _ in range(r.u32()))
    return stamp, names, r.doubles(), r.doubles(), r.doubles()


def read_float64_array(data: bytes) -> np.ndarray:
    """The data of a std_msgs/Float64MultiArray."""
    r = _Reader(data)
    for _ in range(r.u32()):  # layout.dim
        r.string()
        r.u32()
        r.u32()
    r.u32()  # data_offset
    return r.doubles()


def read_image(data: bytes) -> tuple[float, np.ndarray]:
    """(stamp s, H×W×3 uint8) of an rgb8/bgr8 sensor_msgs/Image (a view, not a copy)."""
    r = _Reader(data)
    stamp = r.stamp()
    r.string()
    h, w = r.u32(), r.u32()
    enc = r.string()
    if enc not in ("rgb8", "bgr8"):
        raise CdrFormatError(f"image encoding {enc!r}")
    r.pos += 1  # is_bigendian
    step = r.u32()
    n = r.u32()
    if step != 3 * w or n != h * step:
        raise CdrFormatError("padded image rows")
    img = np.frombuffer(data, np.uint8, n, r.pos).reshape(h, w, 3)
    return stamp, img if enc == "rgb8" else img[..., ::-1]
