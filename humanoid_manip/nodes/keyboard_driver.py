"""keyboard_driver: the terminal keyboard as a teleop device (for testing without a tracker).

Reads keys from the terminal when it is one, and from ~/keys (std_msgs/String, each character
a key press) always; publishes wrist targets, synthetic 21-point keypoints and the deadman
heartbeat at rate_hz. Keys are listed at start (teleop/devices/keyboard/device.py).
"""
from __future__ import annotations

import os
import select
import sys

import rclpy
from geometry_msgs.msg import PoseArray, PoseStamped
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Bool, String

from humanoid_manip.errors import HumanoidManipError
from humanoid_manip.nodes import convert
from humanoid_manip.robot import load_robot
from humanoid_manip.teleop.config import load_teleop_config
from humanoid_manip.teleop.devices import make_device
from humanoid_manip.teleop.devices.keyboard.device import HELP

QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
TYPES = {"deadman": Bool, "wrist_target": PoseStamped, "hand_keypoints": PoseArray}


class KeyboardDriver(Node):
    def __init__(self, tty: bool):
        super().__init__("keyboard_driver")
        settings = dict(load_teleop_config().devices.get("keyboard", {}))
        over = {"side": self.declare_parameter("side", settings.get("side", "right")).value}
        self.device = make_device("keyboard", load_robot(), settings, over)
        self.tty = tty
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
            said = self.device.press(key)
            if said:
                self.get_logger().info(said)

    def _on_tick(self) -> None:
        if self.tty and select.select([sys.stdin], [], [], 0.0)[0]:
            self._keys(os.read(sys.stdin.fileno(), 64).decode(errors="ignore"))
        now = self.get_clock().now()
        inp = self.device.get_action(now.nanoseconds * 1e-9)
        for topic, msg in convert.teleop_input_msgs(inp, now.to_msg()).items():
            self.pubs[topic].publish(msg)


def main(args=None) -> None:
    tty = sys.stdin.isatty()
    saved = None
    if tty:
        import termios
        import tty as tty_mod

        saved = termios.tcgetattr(sys.stdin)
        tty_mod.setcbreak(sys.stdin.fileno())  # keys without Enter; Ctrl-C still interrupts
    rclpy.init(args=args)
    node = None
    try:
        node = KeyboardDriver(tty)
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except HumanoidManipError as exc:
        print(f"keyboard_driver: error: {exc}", flush=True)
        raise SystemExit(2) from None
    finally:
        if saved is not None:
            import termios

            termios.tcsetattr(sys.stdin, termios.TCSADRAIN, saved)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
