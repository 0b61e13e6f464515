"""replay_driver: plays a recorded hand-tracking stream (.jsonl/.csv) onto the /teleop topics.

Any headset or glove capture, converted once to the hand-stream format (teleop/replay.py),
drives the robot through teleop_node like a live device. At the end of the stream it publishes
deadman false (the robot holds) and, with exit_when_done, exits.
"""
from __future__ import annotations

import rclpy
from geometry_msgs.msg import PoseArray, PoseStamped
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Bool

from humanoid_manip.errors import HumanoidManipError
from humanoid_manip.nodes import convert
from humanoid_manip.robot import load_robot
from humanoid_manip.teleop.config import load_teleop_config
from humanoid_manip.teleop.devices import make_device

QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
TYPES = {"deadman": Bool, "wrist_target": PoseStamped, "hand_keypoints": PoseArray}


class DoneError(Exception):
    """The stream ended and the node was asked to exit."""


class ReplayDriver(Node):
    def __init__(self):
        super().__init__("replay_driver")
        settings = dict(load_teleop_config().devices.get("replay", {}))
        over = {"file": self.declare_parameter("file", "").value,
                "speed": self.declare_parameter("speed", float(settings.get("speed", 1.0))).value,
                "loop": self.declare_parameter("loop", bool(settings.get("loop", False))).value,
                "deadman": self.declare_parameter("deadman",
                                                  settings.get("deadman", "stream")).value}
        self.exit_when_done = self.declare_parameter("exit_when_done", False).value
        self.device = make_device("replay", load_robot(), settings, over)
        self.pubs = {}
        for topic in ["/teleop/deadman"] + [f"/teleop/{s}_{k}" for s in ("left", "right")
                                            for k in ("wrist_target", "hand_keypoints")]:
            kind = next(k for k in TYPES if topic.endswith(k))
            self.pubs[topic] = self.create_publisher(TYPES[kind], topic, QOS)
        self.done_logged = False
        self.create_timer(1.0 / self.device.config.rate_hz, self._on_tick)
        self.get_logger().info(f"replaying {len(self.device.frames)} frames "
                               f"({self.device.length:.2f} s) from {self.device.config.file}")

    def _on_tick(self) -> None:
        now = self.get_clock().now()
        t = now.nanoseconds * 1e-9
        for topic, msg in convert.teleop_input_msgs(self.device.get_action(t),
                                                    now.to_msg()).items():
            self.pubs[topic].publish(msg)
        if self.device.done(t) and not self.done_logged:
            self.done_logged = True
            self.get_logger().info("end of the stream: deadman released")
            if self.exit_when_done:
                raise DoneError


def main(args=None) -> None:
    rclpy.init(args=args)
    node = None
    try:
        node = ReplayDriver()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException, DoneError):
        pass
    except HumanoidManipError as exc:
        print(f"replay_driver: error: {exc}", flush=True)
        raise SystemExit(2) from None
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
