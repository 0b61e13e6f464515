"""view_node: the live stack in Rerun's viewer; it only subscribes, so it cannot slow the loop.

Shows the robot in 3D (posed from /joint_states by forward kinematics of the URDF), the three
cameras, every joint's position, velocity, requested and applied torque as named series, the
safety monitor's events on the timeline, the task's progress, and the teleop palm targets and
deadman when someone publishes them. Run it with the sim stack (`humanoid-manip up sim --view`),
or beside any stack:

    python -m humanoid_manip.nodes.view_node --ros-args -p use_sim_time:=true -p teleop:=true

API (what another stack or a teleop front end relies on):
  subscribes  /joint_states, /policy/torque_request (sensor_msgs/JointState, any joint order)
              /effort_controller/commands (std_msgs/Float64MultiArray, canonical order)
              /<camera>/image_raw (sensor_msgs/Image rgb8) for each camera of robot.yaml
              /safety/events (std_msgs/String JSON), /episode/start (std_msgs/String JSON)
              /teleop/left_wrist_target, /teleop/right_wrist_target (geometry_msgs/PoseStamped,
              world frame): drawn as axes; /teleop/deadman (std_msgs/Bool): a 0/1 series
              /diagnostics (the sim's status: progress and success)
              All best effort (it hears reliable publishers too and never makes them wait),
              except the events (reliable, depth 100) and the latched episode start. The
              subscriptions are polled 20 times a second (a second, never-spun node holds
              them), not dispatched one message at a time: 500 Hz streams cost little.
  parameters  web (bool, true): serve the web viewer on http://127.0.0.1:<web_port>
              web_port (int, 9090), grpc_port (int, 9876): the ports it serves on
              open_browser (bool, false): also open a browser (needs a desktop)
              spawn (bool, false): the native Rerun viewer instead (needs a display)
              save (string, ""): also write everything to this .rrd when the node stops
              (an existing file is refused)
              rate_hz (float, 30): poses and series are thinned to this rate on the
              messages' clock; cameras keep every frame
              teleop (bool, false): the layout with the deadman plot
  It logs the viewer's URL at start; SIGINT/SIGTERM closes it (and completes the .rrd).
Data go on the Rerun timeline "time": the messages' stamps (simulated time in the sim stack);
unstamped messages (commands, deadman) take the newest joint state's stamp, so the node needs
no /clock (it sets use_sim_time false for itself).
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float64MultiArray, String

from humanoid_manip.data import cdr
from humanoid_manip.errors import ConfigError
from humanoid_manip.nodes import convert
from humanoid_manip.nodes._run import run_node
from humanoid_manip.robot import load_robot
from humanoid_manip.viz import GRPC_PORT, WEB_PORT, sinks
from humanoid_manip.viz.kinematics import load_kinematics
from humanoid_manip.viz.layout import blueprint
from humanoid_manip.viz.live import LiveView, canonical

SENSOR = QoSProfile(depth=50, reliability=ReliabilityPolicy.BEST_EFFORT)  # 2.5 polls at 500 Hz
EVENTS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
POLL_PERIOD_S = 0.05  # wall time between takes of what arrived
FLUSH_PERIOD_S = 0.5  # wall time between writes to the viewer (fewer, larger chunks)
PARAMETERS = (("web", True), ("web_port", WEB_PORT), ("grpc_port", GRPC_PORT),
              ("open_browser", False), ("spawn", False), ("save", ""), ("rate_hz", 30.0),
              ("teleop", False))


def check_parameters(p: dict) -> None:
    """Refuse bad values before anything starts, naming the parameter."""
    rate = p["rate_hz"]
    if not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 0):
        raise ConfigError(f"parameter rate_hz: a number > 0 expected, got {rate!r}")
    for name in ("web_port", "grpc_port"):
        if not (isinstance(p[name], int) and 1 <= p[name] <= 65535):
            raise ConfigError(f"parameter {name}: a port 1-65535 expected, got {p[name]!r}")
    if p["save"]:
        path = Path(p["save"])
        if path.exists():
            raise ConfigError(f"parameter save: {path} exists; give a new file")
        if not path.parent.is_dir():
            raise ConfigError(f"parameter save: folder {path.parent} does not exist")
    if not (p["web"] or p["spawn"] or p["save"]):
        raise ConfigError("parameters web, spawn and save are all off: nothing would be shown")


class ViewNode(Node):
    """Converts messages and hands them to a LiveView (viz/live.py); flushes on a wall timer."""

    def __init__(self):
        super().__init__("view_node")
        p = {name: self.declare_parameter(name, default).value for name, default in PARAMETERS}
        check_parameters(p)
        # time comes from the messages' stamps: no /clock subscription (500 Hz in the sim)
        self.set_parameters([Parameter("use_sim_time", Parameter.Type.BOOL, False)])
        self.latest = 0.0  # the newest joint-state stamp: the time of unstamped messages
        self.robot = load_robot()
        kin = load_kinematics(self.robot.urdf_path)
        self.rec = sinks.new_recording("live")
        layout = blueprint(self.robot, teleop=bool(p["teleop"]))
        self.rrd = sinks.RrdFile(self.rec, p["save"], layout) if p["save"] else None
        log = self.get_logger()
        if p["web"]:
            url = sinks.serve_web(self.rec, layout, p["web_port"], p["grpc_port"],
                                  bool(p["open_browser"]))
            log.info(f"web viewer: {url}")
        if p["spawn"]:
            sinks.spawn_viewer(self.rec, layout)
        self.view = LiveView(self.rec, self.robot, kin, rate_hz=float(p["rate_hz"]))
        self._names: tuple[str, ...] | None = None
        self._req_names: tuple[str, ...] | None = None
        self.episode = None
        self.reported_end = None
        self.bad_messages = 0

        # subscriptions on a node the executor never spins; _poll takes what has arrived
        self.inputs = Node(f"{self.get_name()}_inputs", namespace=self.get_namespace(),
                           context=self.context, use_global_arguments=False,
                           start_parameter_services=False, enable_rosout=False)
        self.subs = []

        def sub(msg_type, topic, handler, qos, raw=False):  # handler: called by _poll only
            s = self.inputs.create_subscription(msg_type, topic, handler, qos, raw=raw)
            self.subs.append((s, handler))

        sub(JointState, "joint_states", self._on_joint_state, SENSOR, raw=True)
        sub(JointState, "policy/torque_request", self._on_request, SENSOR, raw=True)
        sub(Float64MultiArray, "effort_controller/commands", self._on_command, SENSOR, raw=True)
        for cam in self.robot.camera_names:
            sub(Image, f"{cam}/image_raw", lambda msg, c=cam: self._on_image(c, msg), SENSOR,
                raw=True)
        sub(String, "safety/events", self._on_event, EVENTS)
        sub(String, "episode/start", self._on_episode, LATCHED)
        for side in ("left", "right"):
            sub(PoseStamped, f"teleop/{side}_wrist_target",
                lambda msg, s=side: self._on_target(s, msg), SENSOR)
        sub(Bool, "teleop/deadman", self._on_deadman, SENSOR)
        sub(DiagnosticArray, "diagnostics", self._on_diagnostics, SENSOR)
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(POLL_PERIOD_S, self._poll, clock=steady)
        self.create_timer(FLUSH_PERIOD_S, self.view.flush, clock=steady)
        log.info(f"showing the robot, {len(self.robot.camera_names)} cameras, joint series at "
                 f"{p['rate_hz']:g} Hz and the safety events"
                 + (f"; saving to {p['save']}" if p["save"] else ""))

    def _poll(self) -> None:
        """Take every message waiting on each subscription, oldest first."""
        for sub, handler in self.subs:
            with sub.handle:
                while (taken := sub.handle.take_message(sub.msg_type, sub.raw)) is not None:
                    handler(taken[0])

    def _now(self) -> float:
        """The time of an unstamped message: the newest joint state's stamp (sim time in the
        sim stack), or wall time before any joint state."""
        return self.latest or self.get_clock().now().nanoseconds * 1e-9

    def _stamp(self, data: bytes) -> float:
        """A message's header stamp; the node's clock for an unstamped (zero) one."""
        return cdr.header_stamp(data) or self._now()

    def _bad(self, what: str, exc: Exception) -> None:
        self.bad_messages += 1
        self.get_logger().warning(f"unreadable {what}: {exc}", throttle_duration_sec=5.0)

    # raw subscriptions: the stamp is read first, the rest decoded only for kept samples
    def _on_joint_state(self, data: bytes) -> None:
        try:
            self.latest = cdr.header_stamp(data) or self.latest
            if not self.view.joints.due(self._stamp(data)):
                return
            _stamp, names, q, v, _e = cdr.read_joint_state(data, self._names)
            stamp = self._stamp(data)
        except (cdr.CdrFormatError, ValueError, IndexError) as exc:
            return self._bad("joint state", exc)
        self._names = names
        q = canonical(names, self.robot.names, q)
        if q is None:
            return self._bad("joint state", ValueError("a joint of robot.yaml is missing"))
        v = canonical(names, self.robot.names, v) if len(v) == len(names) else q * 0.0
        self.view.joint_state(stamp, q, v)

    def _on_request(self, data: bytes) -> None:
        try:
            if not self.view.requests.due(self._stamp(data)):
                return
            _stamp, names, _q, _v, effort = cdr.read_joint_state(data, self._req_names)
            stamp = self._stamp(data)
        except (cdr.CdrFormatError, ValueError, IndexError) as exc:
            return self._bad("torque request", exc)
        self._req_names = names
        tau = canonical(names, self.robot.names, effort)
        if tau is not None:
            self.view.request(stamp, tau)

    def _on_command(self, data: bytes) -> None:
        now = self._now()  # no header: the time of the state it answers
        if not self.view.commands.due(now):
            return
        try:
            tau = cdr.read_float64_array(data)
        except (cdr.CdrFormatError, ValueError, IndexError) as exc:
            return self._bad("torque command", exc)
        if len(tau) == self.robot.n:
            self.view.command(now, tau)

    def _on_image(self, camera: str, data: bytes) -> None:
        try:
            stamp, frame = cdr.read_image(data)
        except (cdr.CdrFormatError, ValueError, IndexError) as exc:
            return self._bad(f"{camera} image", exc)
        self.view.image(camera, stamp or self._now(), frame)

    def _on_event(self, msg: String) -> None:
        try:
            event = json.loads(msg.data)
        except json.JSONDecodeError as exc:
            return self._bad("safety event", exc)
        t = event.get("time")
        self.view.safety_event(float(t) if isinstance(t, (int, float)) else self._now(), event)

    def _on_episode(self, msg: String) -> None:
        try:
            info = json.loads(msg.data)
        except json.JSONDecodeError as exc:
            return self._bad("episode start", exc)
        self.episode = info.get("episode")
        t = info.get("start_time")
        self.view.episode_start(float(t) if isinstance(t, (int, float)) else self._now(), info)

    def _on_target(self, side: str, msg: PoseStamped) -> None:
        pos, quat = convert.pose_from_msg(msg)
        self.view.palm_target(side, convert.time_to_seconds(msg.header.stamp) or self._now(),
                              pos, quat)

    def _on_deadman(self, msg: Bool) -> None:
        self.view.deadman(self._now(), msg.data)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if not status.name.endswith(": simulation"):
                continue
            values = {kv.key: kv.value for kv in status.values}
            try:
                progress = float(values.get("progress", "nan"))
            except ValueError:
                progress = float("nan")
            outcome = None
            episode = values.get("episode")
            if values.get("success") == "True" and self.reported_end != episode:
                self.reported_end = episode
                outcome = f"episode {episode}: success"
            self.view.task_status(convert.time_to_seconds(msg.header.stamp), progress, outcome)

    def close(self) -> None:
        """Write what is buffered; complete the .rrd."""
        self._poll()
        self.view.flush()
        self.inputs.destroy_node()
        if self.rrd is not None:
            path = self.rrd.commit()
            self.get_logger().info(f"wrote {path}")


def main(args=None) -> int:
    return run_node(ViewNode, "view_node", args)


if __name__ == "__main__":
    sys.exit(main())
