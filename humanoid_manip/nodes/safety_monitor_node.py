"""safety_monitor_node: the only publisher of torque commands; a thin shell over SafetyMonitor.

Subscribes /policy/torque_request and /joint_states, publishes /effort_controller/commands every
tick (500 Hz), one JSON line per intervention on /safety/events, and /diagnostics. Services:
~/enable (std_srvs/SetBool) and ~/reset (std_srvs/Trigger); /safety/estop (std_msgs/Bool) latches.

It ticks on a timer at the monitor rate, or, with `tick_on_joint_state` (the sim stack), once
per joint state, on that state's stamp: read, decide, write in one cycle, as a ros2_control
update does, so each command answers exactly the state it was computed from (a state repeated
with the same stamp, as the sim's reset state while it waits, is answered once); a torque request
computed from that same state acts from the next cycle (whether it came before or after the
state), so the delay is one period whatever the scheduling. In that mode it also says, on
/safety/request_held (std_msgs/Header, the request's stamp), that a request has reached it: the
sim steps past a policy tick only then.
"""
from __future__ import annotations

import math
import sys
import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import JointState as JointStateMsg
from std_msgs.msg import Bool, Float64MultiArray, Header, String
from std_srvs.srv import SetBool, Trigger

from humanoid_manip.errors import ConfigError, HumanoidManipError
from humanoid_manip.nodes import convert
from humanoid_manip.nodes._run import run_node, take_waiting
from humanoid_manip.robot import load_robot
from humanoid_manip.safety import Mode, SafetyMonitor, load_safety_config

COMMAND_TOPIC = "/effort_controller/commands"
DIAGNOSTIC_NAME = "safety_monitor"
RELIABLE_1 = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
EVENTS_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
WATCHDOG_PERIODS = 3  # tick_on_joint_state: no state for this many periods, the timer ticks
LEVEL = {Mode.ACTIVE: "OK", Mode.HOLD: "OK", Mode.STOPPING: "WARN", Mode.STOPPED: "WARN",
         Mode.FAULT: "ERROR"}


class SafetyMonitorNode(Node):
    """Keeps time, converts messages and calls SafetyMonitor.tick at the monitor rate."""

    def __init__(self):
        # no parameter services: they add six services to every executor wait at 500 Hz
        super().__init__("safety_monitor", start_parameter_services=False)
        robot_config = self.declare_parameter("robot_config", "").value
        safety_config = self.declare_parameter("safety_config", "").value
        self.robot = load_robot(robot_config or None)
        self.config = load_safety_config(safety_config or None)
        rate = self.declare_parameter("rate_hz", float(self.robot.rates.safety_hz)).value
        graph_hz = self.declare_parameter("graph_check_hz", 2.0).value
        diag_hz = self.declare_parameter("diagnostics_hz", 1.0).value
        for key, hz in (("rate_hz", rate), ("graph_check_hz", graph_hz),
                        ("diagnostics_hz", diag_hz)):
            if not (isinstance(hz, (int, float)) and math.isfinite(hz) and hz > 0):
                raise ConfigError(f"parameter {key}: a rate > 0 Hz expected, got {hz!r}")
        # arm once, as soon as joint states arrive: for simulation demos with no operator
        self._enable_pending = bool(self.declare_parameter("enable_on_start", False).value)
        # one tick per joint state, on its stamp (simulation: the stamps are the /clock)
        self.tick_on_state = bool(self.declare_parameter("tick_on_joint_state", False).value)
        # hardware: no joint state this long after start means no robot; give up (0 = wait)
        self._state_wait = float(self.declare_parameter("joint_state_wait_s", 0.0).value)
        self.monitor = SafetyMonitor(self.robot, self.config)
        self.period = 1.0 / rate
        self._wall = not self.get_parameter("use_sim_time").value  # read once, at start
        self._command = convert.torque_command_msg(np.zeros(self.robot.n))

        self._request = None
        self._state = None
        # since the last /diagnostics: kept short, sorted in plain Python (a few hundred floats),
        # because this runs in the same thread as the 500 Hz tick
        self._tick_wall: list[float] = []
        self._tick_cost: list[float] = []
        self._last_wall: float | None = None
        self._last_tick = -np.inf  # the monitor's time of its last tick
        self._taken_stamp = -np.inf  # tick_on_joint_state: the newest request acted on

        self.command_pub = self.create_publisher(Float64MultiArray, COMMAND_TOPIC, RELIABLE_1)
        self.events_pub = self.create_publisher(String, "/safety/events", EVENTS_QOS)
        self.held_pub = self.create_publisher(Header, "/safety/request_held", RELIABLE_1) \
            if self.tick_on_state else None
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._state_sub = self.create_subscription(
            JointStateMsg, "/joint_states", self._on_joint_state_msg,
            RELIABLE_1 if self.tick_on_state else qos_profile_sensor_data)
        self._request_sub = self.create_subscription(
            JointStateMsg, "/policy/torque_request", self._on_request, RELIABLE_1)
        self.create_subscription(Bool, "/safety/estop", self._on_estop, LATCHED)
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.create_service(SetBool, "~/enable", self._on_enable)
        self.create_timer(self.period, self._on_timer)
        self.create_timer(1.0 / graph_hz, self._check_graph)
        self.create_timer(1.0 / diag_hz, self._publish_diagnostics)
        self._state_wait_timer = self.create_timer(self._state_wait, self._check_states_came) \
            if self._state_wait > 0 else None
        self.get_logger().info(
            f"{self.robot.n} joints at {rate:g} Hz"
            f"{' (a tick per joint state)' if self.tick_on_state else ''}; HOLD until enabled "
            f"(~/enable); publishing {COMMAND_TOPIC}")

    def _now(self) -> float:
        """ROS time in seconds: simulated with use_sim_time, else the system clock."""
        if self._wall:
            return time.time()  # what the ROS clock reads without sim time, at a tenth the cost
        return self.get_clock().now().nanoseconds * 1e-9

    # --------------------------------------------------------------------------- inputs
    def _on_joint_state(self, msg: JointStateMsg) -> bool:
        """Keep the newest state; False for one with no time yet (dropped)."""
        stamp = convert.time_to_seconds(msg.header.stamp) if self.tick_on_state else self._now()
        if stamp <= 0.0:
            # simulated time before the first /clock: stamped 0, the state would read as stale
            # by the whole clock start at the first tick, a fault that needs an operator's reset
            return False
        self._state = convert.joint_state_from_msg(msg, stamp)
        return True

    def _on_joint_state_msg(self, msg: JointStateMsg) -> None:
        if self._on_joint_state(msg) and self.tick_on_state and \
                self._state.stamp > self._last_tick:
            self._on_tick(self._state.stamp)  # a state repeated (same stamp) is answered once

    def _on_request(self, msg: JointStateMsg) -> None:
        request = convert.torque_request_from_msg(msg)
        if self.held_pub is not None:
            self.held_pub.publish(Header(stamp=msg.header.stamp))
            if request.stamp <= self._taken_stamp:
                return  # a repeat of one already acted on
        self._request = request

    def _on_estop(self, msg: Bool) -> None:
        self.monitor.estop(msg.data, self._now())

    def _on_reset(self, request, response):
        response.success, response.message = self.monitor.reset(self._now())
        self.get_logger().info(f"reset: {response.message}")
        return response

    def _on_enable(self, request, response):
        response.success, response.message = self.monitor.enable(request.data)
        self.get_logger().info(f"enable({request.data}): {response.message}")
        return response

    # ----------------------------------------------------------------------------- loop
    def _on_timer(self) -> None:
        """The monitor rate's tick; with tick_on_joint_state only a watchdog (states stopped)."""
        now = self._now()
        if self.tick_on_state and (self._state is None or
                                   now - self._last_tick < WATCHDOG_PERIODS * self.period):
            return  # states drive the ticks (the first one too)
        if not self.tick_on_state:
            take_waiting(self._state_sub, self._on_joint_state)
        self._on_tick(now)

    def _on_tick(self, now: float) -> None:
        wall = time.perf_counter()
        if self._last_wall is not None:
            self._tick_wall.append(wall - self._last_wall)
        self._last_wall = wall
        self._last_tick = now
        take_waiting(self._request_sub, self._on_request)
        request = self._request
        if request is not None and self.tick_on_state and \
                request.stamp > now - convert.STAMP_TOLERANCE_S:
            request = None  # computed from this very state: it acts from the next cycle
        else:
            self._request = None
            if request is not None:
                self._taken_stamp = request.stamp
        result = self.monitor.tick(now, request, self._state)
        if self._enable_pending and self.monitor.mode == Mode.HOLD and self._state is not None:
            ok, message = self.monitor.enable(True)
            self._enable_pending = not ok and message.startswith("no joint states")
            self.get_logger().info(f"enable_on_start: {message}")
        self.command_pub.publish(convert.torque_command_msg(result.torque, self._command))
        for event in result.events:
            self.events_pub.publish(convert.safety_event_msg(event))
        self._tick_cost.append(time.perf_counter() - wall)

    def _check_states_came(self) -> None:
        """Once, joint_state_wait_s after start: no joint state yet stops the node (exit 1)."""
        self._state_wait_timer.cancel()
        if self._state is None:
            raise HumanoidManipError(
                f"no joint state on /joint_states in {self._state_wait:g} s: is the robot's "
                "ros2_control running with its joint_state_broadcaster? (without a robot: "
                "ros2 launch humanoid_manip bringup.launch.py, mock hardware)")

    def _check_graph(self) -> None:
        me = (self.get_namespace().rstrip("/"), self.get_name())
        others = [f"{i.node_namespace.rstrip('/')}/{i.node_name}"
                  for i in self.get_publishers_info_by_topic(COMMAND_TOPIC)
                  if (i.node_namespace.rstrip("/"), i.node_name) != me]
        self.monitor.set_foreign_publishers(others)

    def _publish_diagnostics(self) -> None:
        status = self.monitor.status()
        values = {k: v for k, v in status.items() if k != "counts"}
        values.update({f"count.{k}": v for k, v in sorted(status["counts"].items())})
        if self._tick_wall:
            period, cost = sorted(self._tick_wall), sorted(self._tick_cost)
            self._tick_wall, self._tick_cost = [], []
            values.update({
                "loop_period_ms.p50": f"{_pct(period, 0.5) * 1e3:.3f}",
                "loop_period_ms.p99": f"{_pct(period, 0.99) * 1e3:.3f}",
                "loop_period_ms.max": f"{period[-1] * 1e3:.3f}",
                "tick_cost_us.p50": f"{_pct(cost, 0.5) * 1e6:.1f}",
                "tick_cost_us.p99": f"{_pct(cost, 0.99) * 1e6:.1f}",
                "ticks_in_window": len(period),
                "target_period_ms": f"{self.period * 1e3:.3f}"})
        mode = self.monitor.mode
        level = LEVEL[mode]
        if self.monitor.foreign_publishers:
            level = "ERROR"
        message = mode.value
        if self.monitor.foreign_publishers:
            message += ": another publisher on " + COMMAND_TOPIC + ": " + \
                ", ".join(self.monitor.foreign_publishers)
        elif status["fault"] or status["stop"]:
            message += ": " + (status["fault"] or status["stop"])
        array = DiagnosticArray(status=[convert.diagnostic_status(
            DIAGNOSTIC_NAME, self.robot.urdf_path.name, level, message, values)])
        array.header.stamp = convert.seconds_to_time(self._now())
        self.diag_pub.publish(array)

    def close(self) -> None:
        """On shutdown: a last zero command, since the controller holds the last one forever."""
        try:
            self.command_pub.publish(convert.torque_command_msg(np.zeros(self.robot.n)))
            self.command_pub.wait_for_all_acked(Duration(seconds=0.5))  # delivered before we go
        except Exception:  # noqa: BLE001 - the context may already be gone
            pass


def _pct(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(args=None) -> int:
    return run_node(SafetyMonitorNode, "safety_monitor_node", args)


if __name__ == "__main__":
    sys.exit(main())
