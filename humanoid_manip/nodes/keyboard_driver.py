"""keyboard_driver: the terminal keyboard as a teleop device (for testing without a tracker).

Reads keys from the terminal when it is one, and from ~/keys (std_msgs/String, each character
a key press) always; publishes wrist targets, synthetic 21-point keypoints and the deadman
heartbeat at rate_hz. Keys are listed at start (teleop/devices/keyboard/device.py).
"""
from __future__ import annotations

import os
import select
import sys

from geometry_msgs.msg import PoseArray, PoseStamped
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Bool, String
from std_srvs.srv import SetBool

from humanoid_manip.nodes import convert
from humanoid_manip.nodes._run import run_node
from humanoid_manip.robot import load_robot
from humanoid_manip.teleop.config import load_teleop_config
from humanoid_manip.teleop.devices import make_device
from humanoid_manip.teleop.devices.keyboard.device import HELP, SESSION_KEYS

QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
TYPES = {"deadman": Bool, "wrist_target": PoseStamped, "hand_keypoints": PoseArray}


class KeyboardDriver(Node):
    def __init__(self, tty: bool):
        super().__init__("keyboard_driver")
        settings = dict(load_teleop_config().devices.get("keyboard", {}))
        over = {"side": self.declare_parameter("side", settings.get("side", "right")).value}
        self.device = make_device("keyboard", load_robot(), settings, over)
        self.tty = tty
        self.clients_ = {}
        self.pubs = {}
        for topic in ["/teleop/deadman"] + [f"/teleop/{s}_{k}" for s in ("left", "right")
                                            for k in ("wrist_target", "hand_keypoints")]:
            kind = next(k for k in TYPES if topic.endswith(k))
            self.pubs[topic] = self.create_publisher(TYPES[kind], topic, QOS)
        self.create_subscription(String, "~/keys", lambda m: self._keys(m.data), 10)
        self.create_timer(1.0 / self.device.config.rate_hz, self._on_tick)
        self.get_logger().info(HELP + ("" if tty else " (no terminal: keys on ~/keys)"))

    def _keys(self, text: str) -> None:
        for key in text:
            if key in SESSION_KEYS:
                self._session(SESSION_KEYS[key])
                continue
            said = self.device.press(key)
            if said:
                self.get_logger().info(said)

    def _session(self, action: str) -> None:
        """Arm the safety monitor or record the outcome, without blocking the loop."""
        name = "safety_monitor/enable" if action == "enable" else "recorder/outcome"
        client = self.clients_.setdefault(name, self.create_client(SetBool, name))
        if not client.service_is_ready():
            self.get_logger().warning(f"{name}: service not available")
            return
        future = client.call_async(SetBool.Request(data=action != "failure"))
        future.add_done_callback(
            lambda f: self.get_logger().info(f"{name} ({action}): {f.result().message}"))

    def _on_tick(self) -> None:
        if self.tty and select.select([sys.stdin], [], [], 0.0)[0]:
            self._keys(os.read(sys.stdin.fileno(), 64).decode(errors="ignore"))
        now = self.get_clock().now()
        inp = self.device.get_action(now.nanoseconds * 1e-9)
        for topic, msg in convert.teleop_input_msgs(inp, now.to_msg()).items():
            self.pubs[topic].publish(msg)


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
