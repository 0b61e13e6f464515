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
kept strictly increasing per topic; a stamped message repeating the last one's stamp (the sim
repeating its reset state while it waits) is written once.

With record_sync (the teleop stack, with sim_node's record_sync) the recorder is in the sim's
loop: it takes every joint state reliably, says on ~/recorded (std_msgs/Header) the stamp of
the newest one it wrote (a zero stamp once it stops), and the sim never runs more than a few
steps ahead of that. The applied torques (/effort_controller/commands) are then written from
the sim: the measured effort of each state is the torque of the physics step that ended there,
logged at that step's start, as the in-process collection loop logs them. The safety monitor's
messages are not recorded then: received over DDS, a command lands a step or two off the step
it drove, and across a lockstep wait the sim held the previous one.
"""
from __future__ import annotations

import json
import struct
import sys

from builtin_interfaces.msg import Time
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header, String
from std_srvs.srv import SetBool, Trigger

from humanoid_manip.data.cdr import float64_array_cdr, read_joint_state
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
RELIABLE_1 = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
RELIABLE_TOPICS = ("/policy/torque_request", "/effort_controller/commands", "/safety/events")
COMMANDS = "/effort_controller/commands"


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
            ("source", "teleop"), ("device", ""), ("sim", True), ("auto_start", False),
            ("record_sync", False))}
        self.p = p
        self.record_sync = bool(p["record_sync"])
        self.robot = load_robot()
        self.dt_ns = int(round(1e9 / self.robot.rates.physics_hz))
        self._names: tuple[str, ...] | None = None  # record_sync: the joint states' names
        self.writer: EpisodeWriter | None = None
        self.outcome: dict | None = None
        self.note = ""
        self.episode_info = {"task": p["task"] or None,
                             "seed": p["seed"] if p["seed"] >= 0 else None}
        self.episodes = 0
        self._auto_started = False
        self._last_t: dict[str, int] = {}
        self._last_stamp: dict[str, int] = {}
        self.recorded_pub = None
        for topic in RECORDED_TOPICS:
            if self.record_sync and topic == COMMANDS:
                continue  # written from the sim's measured efforts
            qos = RELIABLE if topic in RELIABLE_TOPICS else SENSOR
            if self.record_sync and topic == "/joint_states":
                qos = RELIABLE  # every state: the sim waits for this node, none may be lost
            self.create_subscription(_message_class(TOPIC_TYPES[topic]), topic,
                                     self._writer_for(topic), qos, raw=True)
        if self.record_sync:
            self.recorded_pub = self.create_publisher(Header, "~/recorded", RELIABLE_1)
        self.create_subscription(String, "episode/start", self._on_episode_start, LATCHED)
        self.create_subscription(String, "~/note", self._on_note, 10)
        self.create_service(Trigger, "~/start", self._on_start)
        self.create_service(Trigger, "~/stop", self._on_stop)
        self.create_service(SetBool, "~/outcome", self._on_outcome)
        sync = "; in the sim's loop, applied torques from its efforts" if self.record_sync else ""
        self.get_logger().info(
            f"recording {len(RECORDED_TOPICS)} topics into {p['out_dir']} "
            f"{'at each /episode/start' if p['auto_start'] else 'on ~/start'}{sync}")
        self._t_created = self.get_clock().now()
        self.create_timer(0.2, self._on_timer)  # also wakes the spin loop for shutdown

    def _now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def _writer_for(self, topic: str):
        stamped = TOPIC_TYPES[topic] in STAMPED_TYPES
        from_sim = self.record_sync and topic == "/joint_states"

        def on_message(data: bytes) -> None:
            if self.writer is None:
                return
            t = stamp_ns(data) if stamped else 0
            if t > 0:
                if t == self._last_stamp.get(topic):
                    if from_sim:  # the sim repeats a state it waits on: say so again, as the
                        self._say_recorded(t)  # first answer may have gone before it listened
                    return  # a repeat of the message written last
                self._last_stamp[topic] = t
            else:
                t = self._now_ns()
            last = self._last_t.get(topic, -1)
            if t <= last:  # same clock tick (sim time moves in 2 ms steps): keep order
                t = last + 1
            self._last_t[topic] = t
            self.writer.write_cdr(topic, data, t)
            if from_sim:
                self._applied_from_state(data, t)
        return on_message

    def _applied_from_state(self, data: bytes, t_ns: int) -> None:
        """record_sync: the effort of the state stamped t is the torque of the physics step
        that ended at t; log it at that step's start, then say the state is written."""
        _stamp, names, _q, _dq, effort = read_joint_state(data, self._names)
        self._names = names
        start = self.episode_info.get("start_time")
        step_ns = t_ns - self.dt_ns
        if isinstance(start, (int, float)) and step_ns >= round(start * 1e9) - self.dt_ns // 2:
            if names != self.robot.names:
                effort = effort[[names.index(n) for n in self.robot.names]]
            self.writer.write_cdr(COMMANDS, float64_array_cdr(effort), step_ns)
        self._say_recorded(t_ns)

    def _say_recorded(self, t_ns: int) -> None:
        """~/recorded: the newest state written (0 = not recording), for the sim's record_sync."""
        if self.recorded_pub is not None:
            self.recorded_pub.publish(Header(stamp=Time(sec=t_ns // 1_000_000_000,
                                                        nanosec=t_ns % 1_000_000_000)))

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
        if self.p["auto_start"] and not self.record_sync and self.writer is None and \
                self.episodes == 0 and not self._auto_started and waited > 2.0:
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
        self._last_stamp = {}
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
        self._say_recorded(0)
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
