"""recorder_node: writes one MCAP episode per start/stop, as received (no decoding).

Services: ~/start and ~/stop (std_srvs/Trigger); ~/outcome (std_srvs/SetBool: data = success),
whose note is the last std_msgs/String received on ~/note since the episode started (SetBool
carries no text). With auto_start, an episode starts at each sim /episode/start announcement
(closing the previous one), or 2 s after start when no simulator announces episodes. Task and
seed come from the sim's /episode/start (or the task/seed parameters); operator, source and
device from parameters. Every topic of docs/DESIGN.md is subscribed raw and written with its
standard type, so `ros2 bag play` and the mcap and rosbags readers open the file; a killed
recorder leaves a file that `humanoid-manip data recover` repairs. Log times are the header
stamp of stamped messages (the time the data is about) and the receive time of the others,
kept strictly increasing per topic.
"""
from __future__ import annotations

import json
import struct
import sys

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import String
from std_srvs.srv import SetBool, Trigger

from humanoid_manip.data.episode import TOPIC_TYPES, EpisodeWriter
from humanoid_manip.errors import HumanoidManipError
from humanoid_manip.nodes._run import run_node
from humanoid_manip.robot import load_robot
from humanoid_manip.teleop.recording import RECORDED_TOPICS, episode_metadata, episode_path

# Sensor streams and teleop inputs: best effort, which hears best-effort and reliable
# publishers alike; a deep queue so a burst of frames waits instead of being dropped.
SENSOR = QoSProfile(depth=50, reliability=ReliabilityPolicy.BEST_EFFORT)
RELIABLE = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
RELIABLE_TOPICS = ("/policy/torque_request", "/effort_controller/commands", "/safety/events")


# Types whose serialized form starts with a std_msgs/Header: their stamp is the log time.
STAMPED_TYPES = {"sensor_msgs/msg/JointState", "sensor_msgs/msg/Image",
                 "sensor_msgs/msg/CameraInfo", "geometry_msgs/msg/PoseStamped",
                 "geometry_msgs/msg/PoseArray"}


def stamp_ns(cdr: bytes) -> int:
    """header.stamp of a serialized stamped message (after the 4-byte CDR encapsulation)."""
    if len(cdr) < 12:
        return 0
    sec, nanosec = struct.unpack_from("<iI", cdr, 4) if cdr[1] == 1 else \
        struct.unpack_from(">iI", cdr, 4)
    return sec * 1_000_000_000 + nanosec


def _message_class(ros_type: str):
    pkg, _, name = ros_type.split("/")
    module = __import__(f"{pkg}.msg", fromlist=[name])
    return getattr(module, name)


class RecorderNode(Node):
    """Subscriptions hand their serialized bytes straight to an EpisodeWriter."""

    def __init__(self):
        super().__init__("recorder")
        p = {name: self.declare_parameter(name, default).value for name, default in (
            ("out_dir", "episodes"), ("task", ""), ("seed", -1), ("operator", ""),
            ("source", "teleop"), ("device", ""), ("sim", True), ("auto_start", False))}
        self.p = p
        self.robot = load_robot()
        self.writer: EpisodeWriter | None = None
        self.outcome: dict | None = None
        self.note = ""
        self.episode_info = {"task": p["task"] or None,
                             "seed": p["seed"] if p["seed"] >= 0 else None}
        self.episodes = 0
        self._auto_started = False
        self._last_t: dict[str, int] = {}
        for topic in RECORDED_TOPICS:
            qos = RELIABLE if topic in RELIABLE_TOPICS else SENSOR
            self.create_subscription(_message_class(TOPIC_TYPES[topic]), topic,
                                     self._writer_for(topic), qos, raw=True)
        self.create_subscription(String, "episode/start", self._on_episode_start, LATCHED)
        self.create_subscription(String, "~/note", self._on_note, 10)
        self.create_service(Trigger, "~/start", self._on_start)
        self.create_service(Trigger, "~/stop", self._on_stop)
        self.create_service(SetBool, "~/outcome", self._on_outcome)
        self.get_logger().info(f"recording {len(RECORDED_TOPICS)} topics into {p['out_dir']} "
                               "on ~/start")
        self._t_created = self.get_clock().now()
        self.create_timer(0.2, self._on_timer)  # also wakes the spin loop for shutdown

    def _now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def _writer_for(self, topic: str):
        stamped = TOPIC_TYPES[topic] in STAMPED_TYPES

        def on_message(data: bytes) -> None:
            if self.writer is None:
                return
            t = stamp_ns(data) if stamped else 0
            if t <= 0:
                t = self._now_ns()
            last = self._last_t.get(topic, -1)
            if t <= last:  # same clock tick (sim time moves in 2 ms steps): keep order
                t = last + 1
            self._last_t[topic] = t
            self.writer.write_cdr(topic, data, t)
        return on_message

    def _on_episode_start(self, msg: String) -> None:
        try:
            info = json.loads(msg.data)
        except json.JSONDecodeError:
            return
        # start_time (the reset, on the sim clock) is where the replay check starts stepping
        self.episode_info = {"task": info.get("task"), "seed": info.get("seed"),
                             "sim_episode": info.get("episode"),
                             "start_time": info.get("start_time")}
        if self.p["auto_start"]:
            if self.writer is not None:
                self.stop()
            self.start()

    def _on_timer(self) -> None:
        waited = (self.get_clock().now() - self._t_created).nanoseconds * 1e-9
        if self.p["auto_start"] and self.writer is None and self.episodes == 0 and \
                not self._auto_started and waited > 2.0:
            self.start()  # no simulator announcing episodes (hardware): record from now

    def _on_note(self, msg: String) -> None:
        self.note = msg.data

    # -- episodes --------------------------------------------------------------------------
    def start(self) -> str:
        if self.writer is not None:
            raise HumanoidManipError(f"already recording {self.writer.path}")
        task, seed = self.episode_info.get("task") or "", self.episode_info.get("seed")
        source = {"type": self.p["source"], "operator": self.p["operator"],
                  "device": self.p["device"], "recorder": self.get_fully_qualified_name()}
        meta = episode_metadata(self.robot, task, seed, source, bool(self.p["sim"]),
                                {k: v for k, v in self.episode_info.items()
                                 if k not in ("task", "seed")})
        self.writer = EpisodeWriter(episode_path(self.p["out_dir"], task, seed), meta)
        self._last_t = {}
        self._auto_started = True
        self.outcome = None
        self.note = ""
        self.get_logger().info(f"recording {self.writer.path}")
        return str(self.writer.path)

    def stop(self) -> str:
        if self.writer is None:
            raise HumanoidManipError("not recording; call ~/start first")
        outcome = self.outcome or {"success": None, "note": self.note or "not given"}
        writer, self.writer = self.writer, None
        path = writer.finish(outcome)
        self.episodes += 1
        counts = ", ".join(f"{t} {n}" for t, n in sorted(writer.counts.items()))
        self.get_logger().info(f"wrote {path} (outcome {outcome}): {counts}")
        return str(path)

    def _on_start(self, _req, resp):
        try:
            resp.message, resp.success = self.start(), True
        except HumanoidManipError as exc:
            resp.message, resp.success = str(exc), False
        return resp

    def _on_stop(self, _req, resp):
        try:
            resp.message, resp.success = self.stop(), True
        except HumanoidManipError as exc:
            resp.message, resp.success = str(exc), False
        return resp

    def _on_outcome(self, req, resp):
        if self.writer is None:
            resp.success, resp.message = False, "not recording: the outcome belongs to an episode"
            return resp
        self.outcome = {"success": bool(req.data), "note": self.note}
        resp.success, resp.message = True, json.dumps(self.outcome)
        return resp

    def close(self) -> None:
        """On shutdown: finish an open episode so the file is whole (outcome: interrupted)."""
        if self.writer is not None:
            if self.outcome is None:
                self.outcome = {"success": None, "note": "recorder shut down mid-episode"}
            self.stop()


def main(args=None) -> int:
    return run_node(RecorderNode, "recorder_node", args)


if __name__ == "__main__":
    sys.exit(main())
