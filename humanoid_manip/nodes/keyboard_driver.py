"""keyboard_driver: the terminal keyboard as a teleop device (for testing without a tracker).

Reads keys from the terminal when it is one, and from ~/keys (std_msgs/String, each character
a key press) always; publishes wrist targets, synthetic 21-point keypoints and the deadman
heartbeat at rate_hz. Keys are listed at start (teleop/devices/keyboard/device.py).

It is also the operator's console (teleop/console.py): on a terminal, one status line, redrawn
in place, says whether the safety monitor is armed, the deadman, the hand, its posture and palm
target, the episode time and the outcome so far (the referee's progress from sim_node's
/diagnostics, the operator's mark); what needs the operator (the monitor refusing to arm and
why, a stop, the recorder's answer) is a line of its own above it.
"""
from __future__ import annotations

import json
import os
import select
import sys

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseArray, PoseStamped
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Bool, String
from std_srvs.srv import SetBool, Trigger

from humanoid_manip.nodes import convert
from humanoid_manip.nodes._run import run_node
from humanoid_manip.robot import load_robot
from humanoid_manip.teleop import console
from humanoid_manip.teleop.config import load_teleop_config
from humanoid_manip.teleop.devices import make_device
from humanoid_manip.teleop.devices.keyboard.device import HELP, SESSION_KEYS

QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
EVENTS_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
TYPES = {"deadman": Bool, "wrist_target": PoseStamped, "hand_keypoints": PoseArray}
SERVICES = {"enable": (SetBool, "safety_monitor/enable"),
            "reset": (Trigger, "safety_monitor/reset"),
            "success": (SetBool, "recorder/outcome"), "failure": (SetBool, "recorder/outcome")}
STATUS_PERIOD_S = 0.2  # wall time: the line stays alive while the sim waits


class KeyboardDriver(Node):
    def __init__(self, tty: bool):
        super().__init__("keyboard_driver")
        settings = dict(load_teleop_config().devices.get("keyboard", {}))
        over = {"side": self.declare_parameter("side", settings.get("side", "right")).value}
        self.device = make_device("keyboard", load_robot(), settings, over)
        self.tty = tty
        self.console = console.Console(tty=tty and sys.stdout.isatty())
        self.view = console.SessionView(side=self.device.side)
        self.start_time: float | None = None
        self.clients_ = {}
        self.pubs = {}
        for topic in ["/teleop/deadman"] + [f"/teleop/{s}_{k}" for s in ("left", "right")
                                            for k in ("wrist_target", "hand_keypoints")]:
            kind = next(k for k in TYPES if topic.endswith(k))
            self.pubs[topic] = self.create_publisher(TYPES[kind], topic, QOS)
        self.create_subscription(String, "~/keys", lambda m: self._keys(m.data), 10)
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 20)
        self.create_subscription(String, "/safety/events", self._on_event, EVENTS_QOS)
        self.create_subscription(String, "episode/start", self._on_episode, LATCHED)
        self.create_timer(1.0 / self.device.config.rate_hz, self._on_tick)
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(0.02, self._read_terminal, clock=steady)
        self.create_timer(STATUS_PERIOD_S, self._redraw, clock=steady)
        self.console.message(HELP + ("" if tty else " (no terminal: keys on ~/keys)"))

    # -- keys --------------------------------------------------------------------------------
    def _read_terminal(self) -> None:
        if self.tty and select.select([sys.stdin], [], [], 0.0)[0]:
            self._keys(os.read(sys.stdin.fileno(), 64).decode(errors="ignore"))

    def _keys(self, text: str) -> None:
        for key in text:
            if key in SESSION_KEYS:
                self._session(SESSION_KEYS[key])
                continue
            said = self.device.press(key)
            if said and not self.console.tty:  # on a terminal the status line shows it
                self.console.message(said)
        self._redraw()

    def _session(self, action: str) -> None:
        """Arm or reset the safety monitor, or record the outcome, without blocking the loop."""
        srv_type, name = SERVICES[action]
        client = self.clients_.setdefault(name, self.create_client(srv_type, name))
        if not client.service_is_ready():
            who = "safety monitor" if name.startswith("safety") else "recorder"
            self.console.message(f"{action}: the {who} is not running (no {name} service yet); "
                                 "is the stack up?")
            return
        request = (Trigger.Request() if srv_type is Trigger
                   else SetBool.Request(data=action != "failure"))
        client.call_async(request).add_done_callback(
            lambda f: self._answered(action, f.result()))

    def _answered(self, action: str, result) -> None:
        if action == "enable":
            if result.success:
                self.view.armed = True
                self.console.message(f"safety monitor: {result.message}")
            else:
                self.console.message(console.refusal(result.message))
        elif action == "reset":
            if result.success:
                self.view.armed = False
            self.console.message(console.reset_answer(result.success, result.message))
        elif result.success:
            self.view.label = action == "success"
            self.console.message(f"outcome {action} recorded (y / n again changes it)")
        else:
            self.console.message(f"the recorder did not take the outcome: {result.message}")
        self._redraw()

    # -- what the stack says -----------------------------------------------------------------
    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            if status.name == "safety_monitor":
                self.view.mode = values.get("mode", self.view.mode)
                self.view.armed = values.get("enabled") == "True"
            elif status.name.endswith(": simulation"):
                try:
                    self.view.progress = float(values["progress"])
                except (KeyError, ValueError):
                    pass
                self.view.success = values.get("success") == "True"

    def _on_event(self, msg: String) -> None:
        try:
            event = json.loads(msg.data)
        except json.JSONDecodeError:
            return
        if event.get("type") == "mode":
            self.view.mode = (event.get("values") or {}).get("to", self.view.mode)
            if self.view.mode in console.STOPPED_MODES:
                self.view.armed = False
        said = console.mode_change(event)
        if said:
            self.console.message(said)

    def _on_episode(self, msg: String) -> None:
        try:
            info = json.loads(msg.data)
        except json.JSONDecodeError:
            return
        self.start_time = info.get("start_time")
        self.view.episode = info.get("episode")
        self.view.label = None
        self.view.progress = self.view.success = None

    # -- loop --------------------------------------------------------------------------------
    def _redraw(self) -> None:
        v, d = self.view, self.device
        v.side, v.posture, v.deadman = d.side, d.posture[d.side], d.deadman
        v.palm = tuple(float(x) for x in d.palm[d.side][0])
        if self.start_time is not None:
            v.episode_time = max(0.0, self.get_clock().now().nanoseconds * 1e-9
                                 - self.start_time)
        self.console.status(console.status_line(v))

    def _on_tick(self) -> None:
        now = self.get_clock().now()
        inp = self.device.get_action(now.nanoseconds * 1e-9)
        for topic, msg in convert.teleop_input_msgs(inp, now.to_msg()).items():
            self.pubs[topic].publish(msg)

    def close(self) -> None:
        self.console.close()


def main(args=None) -> int:
    tty = sys.stdin.isatty()
    saved = None
    if tty:
        import termios
        import tty as tty_mod

        saved = termios.tcgetattr(sys.stdin)
        tty_mod.setcbreak(sys.stdin.fileno())  # keys without Enter; Ctrl-C still interrupts
    try:
        return run_node(lambda: KeyboardDriver(tty), "keyboard_driver", args)
    finally:
        if saved is not None:
            import termios

            termios.tcsetattr(sys.stdin, termios.TCSADRAIN, saved)


if __name__ == "__main__":
    sys.exit(main())
