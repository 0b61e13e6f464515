"""safety_monitor_node: the only publisher of torque commands; a thin shell over SafetyMonitor.

Subscribes /policy/torque_request and /joint_states, publishes /effort_controller/commands every
tick (500 Hz), one JSON line per intervention on /safety/events, and /diagnostics. Services:
~/enable (std_srvs/SetBool) and ~/reset (std_srvs/Trigger); /safety/estop (std_msgs/Bool) latches.
"""
from __future__ import annotations

import sys
import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import JointState as JointStateMsg
from std_msgs.msg import Bool, Float64MultiArray, String
from std_srvs.srv import SetBool, Trigger

from humanoid_manip.nodes import convert
from humanoid_manip.nodes._run import run_node
from humanoid_manip.robot import load_robot
from humanoid_manip.safety import Mode, SafetyMonitor, load_safety_config

COMMAND_TOPIC = "/effort_controller/commands"
DIAGNOSTIC_NAME = "safety_monitor"
RELIABLE_1 = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
EVENTS_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
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
        # arm once, as soon as joint states arrive: for simulation demos with no operator
        self._enable_pending = bool(self.declare_parameter("enable_on_start", False).value)
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

        self.command_pub = self.create_publisher(Float64MultiArray, COMMAND_TOPIC, RELIABLE_1)
        self.events_pub = self.create_publisher(String, "/safety/events", EVENTS_QOS)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._state_sub = self.create_subscription(
            JointStateMsg, "/joint_states", self._on_joint_state, qos_profile_sensor_data)
        self._request_sub = self.create_subscription(
            JointStateMsg, "/policy/torque_request", self._on_request, RELIABLE_1)
        self.create_subscription(Bool, "/safety/estop", self._on_estop, LATCHED)
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.create_service(SetBool, "~/enable", self._on_enable)
        self.create_timer(self.period, self._on_tick)
        self.create_timer(1.0 / graph_hz, self._check_graph)
        self.create_timer(1.0 / diag_hz, self._publish_diagnostics)
        self.get_logger().info(
            f"{self.robot.n} joints at {rate:g} Hz; HOLD until enabled (~/enable); "
            f"publishing {COMMAND_TOPIC}")

    def _now(self) -> float:
        """ROS time in seconds: simulated with use_sim_time, else the system clock."""
        if self._wall:
            return time.time()  # what the ROS clock reads without sim time, at a tenth the cost
        return self.get_clock().now().nanoseconds * 1e-9

    # --------------------------------------------------------------------------- inputs
    def _on_joint_state(self, msg: JointStateMsg) -> None:
        self._state = convert.joint_state_from_msg(msg, self._now())

    def _on_request(self, msg: JointStateMsg) -> None:
        self._request = convert.torque_request_from_msg(msg)

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
    def _on_tick(self) -> None:
        wall = time.perf_counter()
        if self._last_wall is not None:
            self._tick_wall.append(wall - self._last_wall)
        self._last_wall = wall
        self._take_waiting(self._state_sub, self._on_joint_state)
        self._take_waiting(self._request_sub, self._on_request)
        request, self._request = self._request, None
        result = self.monitor.tick(self._now(), request, self._state)
        if self._enable_pending and self.monitor.mode == Mode.HOLD and self._state is not None:
            ok, message = self.monitor.enable(True)
            self._enable_pending = not ok and message.startswith("no joint states")
            self.get_logger().info(f"enable_on_start: {message}")
        self.command_pub.publish(convert.torque_command_msg(result.torque, self._command))
        for event in result.events:
            self.events_pub.publish(convert.safety_event_msg(event))
        self._tick_cost.append(time.perf_counter() - wall)

    @staticmethod
    def _take_waiting(sub, callback) -> None:
        """Run `callback` on messages already waiting for `sub`, before the tick uses them.

        rclpy's executor runs ready timers before ready subscriptions, so after this process was
        descheduled for a while the tick would judge the joint states stale (and the requests
        timed out) while fresh ones wait in the queue. Those are the publisher's, delivered in
        time; the lateness is ours, and the loop-overrun watchdog reports it.
        """
        with sub.handle:
            while (taken := sub.handle.take_message(sub.msg_type, sub.raw)) is not None:
                callback(taken[0])

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
