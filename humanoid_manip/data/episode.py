"""The episode file: one MCAP per episode, standard ROS 2 messages, readable by rosbag2 tools."""
from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from humanoid_manip.data import cdr
from humanoid_manip.data.msgdefs import schema_text
from humanoid_manip.errors import HumanoidManipError

METADATA_TOPIC = "/episode/metadata"  # std_msgs/String, JSON: written at start and at finish
PRIVILEGED_TOPIC = "/sim/privileged_state"  # simulated episodes only: the teacher's input
METADATA_RECORD = "humanoid_manip.episode"  # MCAP metadata record with the same JSON
CHUNK_BYTES = 256 * 1024  # a killed recorder loses at most one chunk (~0.1 s of 3 cameras)

# The topics of docs/DESIGN.md and their standard types.
TOPIC_TYPES: dict[str, str] = {
    "/joint_states": "sensor_msgs/msg/JointState",
    "/policy/torque_request": "sensor_msgs/msg/JointState",
    "/effort_controller/commands": "std_msgs/msg/Float64MultiArray",
    "/safety/events": "std_msgs/msg/String",
    "/clock": "rosgraph_msgs/msg/Clock",
    METADATA_TOPIC: "std_msgs/msg/String",
    # sim.privileged_state() at each control tick, for tasks that define one (Task.privileged_
    # state): object poses and layout a privileged teacher is trained on; never a policy input
    PRIVILEGED_TOPIC: "std_msgs/msg/Float64MultiArray",
}
for _cam in ("head_camera", "left_wrist_camera", "right_wrist_camera"):
    TOPIC_TYPES[f"/{_cam}/image_raw"] = "sensor_msgs/msg/Image"
    TOPIC_TYPES[f"/{_cam}/camera_info"] = "sensor_msgs/msg/CameraInfo"
for _side in ("left", "right"):
    TOPIC_TYPES[f"/teleop/{_side}_wrist_target"] = "geometry_msgs/msg/PoseStamped"
    TOPIC_TYPES[f"/teleop/{_side}_hand_keypoints"] = "geometry_msgs/msg/PoseArray"
TOPIC_TYPES["/teleop/deadman"] = "std_msgs/msg/Bool"


class EpisodeFileError(HumanoidManipError):
    """An episode file that cannot be written, read or recovered."""


def stamp(t_ns: int) -> dict:
    return {"sec": int(t_ns // 1_000_000_000), "nanosec": int(t_ns % 1_000_000_000)}


def joint_state_msg(t_ns: int, names, position=(), velocity=(), effort=()) -> dict:
    """A sensor_msgs/JointState as a dict (SI units, canonical order)."""
    return {"header": {"stamp": stamp(t_ns), "frame_id": ""}, "name": list(names),
            "position": np.asarray(position, dtype=float).tolist(),
            "velocity": np.asarray(velocity, dtype=float).tolist(),
            "effort": np.asarray(effort, dtype=float).tolist()}


def image_msg(t_ns: int, frame_id: str, rgb: np.ndarray) -> dict:
    """A sensor_msgs/Image (rgb8) as a dict, data filled from bytes in one go."""
    h, w, _ = rgb.shape
    return {"header": {"stamp": stamp(t_ns), "frame_id": frame_id}, "height": h, "width": w,
            "encoding": "rgb8", "is_bigendian": 0, "step": 3 * w,
            "data": np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()}


def float64_array_msg(values) -> dict:
    """A std_msgs/Float64MultiArray with an empty layout, as ros2_control's controllers take."""
    return {"layout": {"dim": [], "data_offset": 0},
            "data": np.asarray(values, dtype=float).tolist()}


def string_msg(text: str) -> dict:
    return {"data": text}


class EpisodeWriter:
    """Writes one episode; call finish() with the outcome. Messages are dicts or CDR bytes."""

    def __init__(self, path: str | os.PathLike, metadata: Mapping[str, Any],
                 topic_types: Mapping[str, str] | None = None, chunk_bytes: int = CHUNK_BYTES):
        from mcap_ros2.writer import Writer

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._file = open(self.path, "wb")  # noqa: SIM115 - closed in finish()
        except OSError as exc:
            raise EpisodeFileError(f"cannot create episode file {self.path}: {exc}") from None
        self._writer = Writer(self._file, chunk_size=chunk_bytes)
        self._types = dict(TOPIC_TYPES)
        self._types.update(topic_types or {})
        self._schemas: dict[str, Any] = {}
        self._raw_channels: dict[str, int] = {}
        self.metadata = dict(metadata)
        self.counts: dict[str, int] = {}
        self._last_t = 0
        self.write(METADATA_TOPIC, string_msg(json.dumps(self.metadata, sort_keys=True)), 0)

    def _schema(self, topic: str):
        ros_type = self._types.get(topic)
        if ros_type is None:
            raise EpisodeFileError(f"no message type known for topic {topic!r}; pass topic_types")
        if ros_type not in self._schemas:
            self._schemas[ros_type] = self._writer.register_msgdef(ros_type, schema_text(ros_type))
        return self._schemas[ros_type]

    def write(self, topic: str, message: Any, t_ns: int) -> None:
        """Encode a message given as a dict (or an object with the fields) and log it at t_ns."""
        self._writer.write_message(topic, self._schema(topic), message, log_time=int(t_ns),
                                   publish_time=int(t_ns))
        self._count(topic, t_ns)

    def write_cdr(self, topic: str, data: bytes, t_ns: int) -> None:
        """Log an already-serialized message (as a recorder node receives it, no decode)."""
        channel = self._raw_channels.get(topic)
        if channel is None:
            schema = self._schema(topic)
            channel = self._writer._writer.register_channel(
                topic=topic, message_encoding="cdr", schema_id=schema.id)
            self._raw_channels[topic] = channel
        self._writer._writer.add_message(channel_id=channel, log_time=int(t_ns), data=data,
                                         publish_time=int(t_ns))
        self._count(topic, t_ns)

    def _count(self, topic: str, t_ns: int) -> None:
        self.counts[topic] = self.counts.get(topic, 0) + 1
        self._last_t = max(self._last_t, int(t_ns))

    def finish(self, outcome: Mapping[str, Any]) -> Path:
        """Record the outcome (success, note, …) and close the file with its index."""
        self.metadata["outcome"] = dict(outcome)
        text = json.dumps(self.metadata, sort_keys=True)
        self.write(METADATA_TOPIC, string_msg(text), self._last_t)
        self._writer.add_metadata(METADATA_RECORD, {"json": text})
        self._writer.finish()
        self._file.close()
        return self.path

    def __enter__(self) -> EpisodeWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._file.closed:
            self.finish({"success": None, "note": f"aborted: {exc!r}" if exc else "not given"})


@dataclass
class Episode:
    """An episode decoded into arrays: what validation, inspection and training read."""

    path: Path
    metadata: dict
    joint_names: list[str] = field(default_factory=list)
    t: np.ndarray = field(default_factory=lambda: np.zeros(0))  # joint state times, s
    position: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    velocity: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    effort: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    command_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    command: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # applied torques
    request_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    request: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    # camera -> (times, frames N×H×W×3)
    images: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)
    event_t: np.ndarray = field(default_factory=lambda: np.zeros(0))  # events' log times, s
    counts: dict[str, int] = field(default_factory=dict)
    stamp: np.ndarray = field(default_factory=lambda: np.zeros(0))  # joint state header stamps
    image_t: dict[str, np.ndarray] = field(default_factory=dict)  # camera -> frame times, s
    image_stamp: dict[str, np.ndarray] = field(default_factory=dict)  # camera -> header stamps
    privileged_t: np.ndarray = field(default_factory=lambda: np.zeros(0))  # PRIVILEGED_TOPIC
    privileged: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    @property
    def start_s(self) -> float:
        """Time of the first joint state or command (the simulation's reset, for sim data)."""
        firsts = [a[0] for a in (self.t, self.command_t) if len(a)]
        return float(min(firsts)) if firsts else 0.0

    @property
    def duration_s(self) -> float:
        """Span of the joint states and commands, in seconds."""
        lasts = [a[-1] for a in (self.t, self.command_t) if len(a)]
        return float(max(lasts) - self.start_s) if lasts else 0.0


def _stamp_s(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def _cdr_stamp_s(data: bytes) -> float:
    """Header stamp of a CDR-encoded message whose first field is a std_msgs/Header."""
    little = data[1] == 1  # encapsulation kind: CDR_LE = 0x0001
    sec = int.from_bytes(data[4:8], "little" if little else "big", signed=True)
    nsec = int.from_bytes(data[8:12], "little" if little else "big")
    return sec + nsec * 1e-9


def read_episode(path: str | os.PathLike, images: bool = True,
                 file_order: bool = False) -> Episode:
    """Decode an episode file with the mcap-ros2 reader.

    images=False skips decoding pixels (frame times are still read); file_order=True keeps
    messages in the order they were written, so a validator can see log times going backwards.
    """
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    p = Path(path)
    if not p.is_file():
        raise EpisodeFileError(f"episode file not found: {p}")
    ep = Episode(p, {})
    js_t, js_s, js_q, js_v, js_e = [], [], [], [], []
    cmd_t, cmd = [], []
    req_t, req = [], []
    ev_t = []
    priv_t, priv = [], []
    cams: dict[str, tuple[list, list, list]] = {}
    factory = DecoderFactory()
    decoders: dict[int, Any] = {}
    fast = {"/joint_states", "/policy/torque_request", "/effort_controller/commands",
            PRIVILEGED_TOPIC}
    last_names = None
    try:
        with open(p, "rb") as f:
            reader = make_reader(f)
            for schema, channel, message in reader.iter_messages(
                    log_time_order=not file_order):
                topic = channel.topic
                ep.counts[topic] = ep.counts.get(topic, 0) + 1
                t = message.log_time * 1e-9
                if topic.endswith("/image_raw"):
                    cam = topic.strip("/").split("/")[0]
                    cams.setdefault(cam, ([], [], []))
                    cams[cam][0].append(t)
                    if not images:
                        cams[cam][1].append(_cdr_stamp_s(message.data))
                        continue
                    try:
                        stamp_s, frame = cdr.read_image(message.data)
                        cams[cam][1].append(stamp_s)
                        cams[cam][2].append(frame)
                        continue
                    except (cdr.CdrFormatError, ValueError, IndexError):
                        pass  # the generic decoder below
                elif topic in fast:
                    try:
                        if topic == "/effort_controller/commands":
                            data = cdr.read_float64_array(message.data)
                            cmd_t.append(t)
                            cmd.append(data)
                        elif topic == PRIVILEGED_TOPIC:
                            priv.append(cdr.read_float64_array(message.data))
                            priv_t.append(t)
                        else:
                            stamp_s, names, q, v, e = cdr.read_joint_state(message.data,
                                                                            last_names)
                            last_names = names
                            if topic == "/joint_states":
                                if not ep.joint_names:
                                    ep.joint_names = list(names)
                                js_t.append(t)
                                js_s.append(stamp_s)
                                js_q.append(q)
                                js_v.append(v)
                                js_e.append(e)
                            else:
                                req_t.append(t)
                                req.append(e)
                        continue
                    except (cdr.CdrFormatError, ValueError, IndexError, struct.error):
                        pass
                if schema is None:
                    continue
                decode = decoders.get(schema.id)
                if decode is None:
                    decode = decoders[schema.id] = factory.decoder_for(
                        channel.message_encoding, schema)
                if decode is None:
                    continue
                msg = decode(message.data)
                if topic == METADATA_TOPIC:
                    ep.metadata = json.loads(msg.data)
                elif topic == "/joint_states":
                    if not ep.joint_names:
                        ep.joint_names = list(msg.name)
                    js_t.append(t)
                    js_s.append(_stamp_s(msg))
                    js_q.append(msg.position)
                    js_v.append(msg.velocity)
                    js_e.append(msg.effort)
                elif topic == "/effort_controller/commands":
                    cmd_t.append(t)
                    cmd.append(msg.data)
                elif topic == "/policy/torque_request":
                    req_t.append(t)
                    req.append(msg.effort)
                elif topic == PRIVILEGED_TOPIC:
                    priv_t.append(t)
                    priv.append(msg.data)
                elif topic == "/safety/events":
                    ep.events.append(json.loads(msg.data))
                    ev_t.append(t)
                elif topic.endswith("/image_raw"):
                    frame = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height,
                                                                            msg.width, 3)
                    cams[cam][1].append(_stamp_s(msg))
                    cams[cam][2].append(frame)
    except EpisodeFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - the mcap library raises many kinds
        raise EpisodeFileError(f"cannot read episode {p}: {exc} (truncated? try "
                               f"'humanoid-manip data recover {p}')") from None

    def arr(x, width=0):
        try:
            return np.asarray(x, dtype=float) if x else np.zeros((0, width))
        except ValueError:  # ragged: messages of different lengths
            n = max(len(r) for r in x)
            return np.array([list(r) + [np.nan] * (n - len(r)) for r in x], dtype=float)

    ep.t, ep.position, ep.velocity, ep.effort = (np.asarray(js_t), arr(js_q), arr(js_v),
                                                 arr(js_e))
    ep.stamp = np.asarray(js_s)
    ep.command_t, ep.command = np.asarray(cmd_t), arr(cmd)
    ep.event_t = np.asarray(ev_t)
    ep.request_t, ep.request = np.asarray(req_t), arr(req)
    ep.privileged_t, ep.privileged = np.asarray(priv_t), arr(priv)
    ep.image_t = {c: np.asarray(ts) for c, (ts, _s, _f) in cams.items()}
    ep.image_stamp = {c: np.asarray(s) for c, (_t, s, _f) in cams.items()}
    if images:
        for c, (ts, _s, fr) in cams.items():
            if not fr:
                continue
            if len({f.shape for f in fr}) > 1:
                raise EpisodeFileError(f"{p}: {c} frames change size within the episode")
            ep.images[c] = (np.asarray(ts), np.stack(fr))
    return ep


def recover(src: str | os.PathLike, dst: str | os.PathLike | None = None,
            force: bool = False) -> tuple[Path, int]:
    """Rewrite a truncated episode (a killed recorder) up to its last complete chunk.

    Returns the recovered file and the number of messages kept; the original is left as it is,
    and an existing destination is never replaced unless force (it may be a complete episode).
    The file appears only once complete: a failure leaves nothing behind.
    """
    from mcap.exceptions import McapError
    from mcap.records import Channel, Message, Schema
    from mcap.stream_reader import StreamReader

    src = Path(src)
    if not src.is_file():
        raise EpisodeFileError(f"episode file not found: {src}")
    dst = Path(dst) if dst else src.with_name(src.stem + ".recovered.mcap")
    if dst.resolve() == src.resolve():
        raise EpisodeFileError("recover writes a new file; give a destination, not the source")
    if dst.exists() and not force:
        raise EpisodeFileError(f"{dst} exists; recover never replaces a file unless --force "
                               "is given (choose another -o)")
    if dst.is_dir():
        raise EpisodeFileError(f"{dst} is a folder; give a file name")
    schemas: dict[int, Schema] = {}
    channels: dict[int, Channel] = {}
    messages: list[Message] = []
    with open(src, "rb") as f:
        try:
            for record in StreamReader(f, skip_magic=False).records:
                if isinstance(record, Schema):
                    schemas[record.id] = record
                elif isinstance(record, Channel):
                    channels[record.id] = record
                elif isinstance(record, Message):
                    messages.append(record)
        except (McapError, EOFError, ValueError, OSError, AssertionError):
            pass  # the truncated tail: everything read so far came from complete records
    if not channels:
        raise EpisodeFileError(f"{src}: no complete chunk to recover")
    partial = dst.with_name(f".{dst.name}.partial")
    try:
        _write_recovered(partial, src, schemas, channels, messages)
        os.replace(partial, dst)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise EpisodeFileError(f"cannot write {dst}: {exc}") from None
    return dst, len(messages)


def _write_recovered(path: Path, src: Path, schemas, channels, messages) -> None:
    from mcap.writer import Writer

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        w = Writer(out, chunk_size=CHUNK_BYTES)
        w.start(profile="ros2", library="humanoid_manip recover")
        schema_ids = {sid: w.register_schema(s.name, s.encoding, s.data)
                      for sid, s in schemas.items()}
        channel_ids = {cid: w.register_channel(c.topic, c.message_encoding,
                                               schema_ids.get(c.schema_id, 0), c.metadata)
                       for cid, c in channels.items()}
        for m in messages:
            w.add_message(channel_ids[m.channel_id], m.log_time, m.data, m.publish_time,
                          m.sequence)
        # the outcome was never recorded: say so in a metadata record
        metadata = {"recovered_from": str(src), "messages_kept": len(messages)}
        w.add_metadata(METADATA_RECORD + ".recovered", {"json": json.dumps(metadata)})
        w.finish()
