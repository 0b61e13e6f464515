"""replay_driver: plays a recorded hand-tracking stream (.jsonl/.csv) onto the /teleop topics.

Any headset or glove capture, converted once to the hand-stream format (teleop/replay.py),
drives the robot through teleop_node like a live device. At the end of the stream it publishes
deadman false (the robot holds), with `outcome` ("success" or "failure": the capture's label)
gives the recorder the episode's outcome, with stop_recorder closes the recorder's episode, and
with exit_when_done exits. With arm_safety it first arms the safety monitor (~/enable).
"""
from __future__ import annotations

import sys
import time

from geometry_msgs.msg import PoseArray, PoseStamped
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Bool
from std_srvs.srv import SetBool, Trigger

from humanoid_manip.errors import HumanoidManipError
from humanoid_manip.nodes import convert
from humanoid_manip.nodes._run import run_node
from humanoid_manip.robot import load_robot
from humanoid_manip.teleop.config import load_teleop_config
from humanoid_manip.teleop.devices import make_device

QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
TYPES = {"deadman": Bool, "wrist_target": PoseStamped, "hand_keypoints": PoseArray}


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
        self.arm_safety = self.declare_parameter("arm_safety", False).value
        self.stop_recorder = self.declare_parameter("stop_recorder", False).value
        self.outcome = self.declare_parameter("outcome", "").value
        if self.outcome not in ("", "success", "failure"):
            raise HumanoidManipError(f"outcome must be success, failure or empty (not given), "
                                     f"got {self.outcome!r}")
        self.enable = self.create_client(SetBool, "safety_monitor/enable")
        self.recorder_stop = self.create_client(Trigger, "recorder/stop")
        self.recorder_outcome = self.create_client(SetBool, "recorder/outcome")
        self.armed = not self.arm_safety
        self._arming = None
        self._asked = -float("inf")  # when the monitor was last asked to arm
        self.device = make_device("replay", load_robot(), settings, over)
        self.pubs = {}
        for topic in ["/teleop/deadman"] + [f"/teleop/{s}_{k}" for s in ("left", "right")
                                            for k in ("wrist_target", "hand_keypoints")]:
            kind = next(k for k in TYPES if topic.endswith(k))
            self.pubs[topic] = self.create_publisher(TYPES[kind], topic, QOS)
        self.done_logged = False
        self.finished = False  # run_node stops spinning once True
        self._stopping = None
        self._labelling = None
        self._done_at = None
        self.create_timer(1.0 / self.device.config.rate_hz, self._on_tick)
        self.get_logger().info(f"replaying {len(self.device.frames)} frames "
                               f"({self.device.length:.2f} s) from {self.device.config.file}")

    def _arm(self) -> bool:
        """Arm the safety monitor (asked again each second until it accepts); True once armed.
        A refusal is logged every few seconds, not every tick: a faulted monitor waits for an
        operator's reset (`ros2 service call /safety_monitor/reset std_srvs/srv/Trigger`)."""
        if self._arming is not None and self._arming.done():
            result = self._arming.result()
            self.armed = bool(result.success)
            if self.armed:
                self.get_logger().info(f"safety monitor: {result.message}")
            else:
                self.get_logger().warning(f"safety monitor refused to arm: {result.message}",
                                          throttle_duration_sec=5.0)
            self._arming = None
        elif self._arming is None and self.enable.service_is_ready() and \
                time.monotonic() - self._asked >= 1.0:
            self._asked = time.monotonic()
            self._arming = self.enable.call_async(SetBool.Request(data=True))
        return self.armed

    def _on_tick(self) -> None:
        if self.done_logged:
            self._after_end()
        if not self.armed and not self._arm():
            return  # the stream starts once the monitor is armed
        now = self.get_clock().now()
        t = now.nanoseconds * 1e-9
        for topic, msg in convert.teleop_input_msgs(self.device.get_action(t),
                                                    now.to_msg()).items():
            self.pubs[topic].publish(msg)
        if self.device.done(t) and not self.done_logged:
            self.done_logged = True
            self._done_at = time.monotonic()
            self.get_logger().info("end of the stream: deadman released")
            if self.outcome and self.recorder_outcome.service_is_ready():
                self._labelling = self.recorder_outcome.call_async(
                    SetBool.Request(data=self.outcome == "success"))
            elif self.stop_recorder and self.recorder_stop.service_is_ready():
                self._stopping = self.recorder_stop.call_async(Trigger.Request())

    def _after_end(self) -> None:
        """Stop the recorder once it has the outcome; exit (exit_when_done) once it has
        answered, or after 5 s."""
        if self._labelling is not None and self._labelling.done():
            self.get_logger().info(f"outcome {self.outcome}: "
                                   f"{self._labelling.result().message}")
            self._labelling = None
            if self.stop_recorder and self.recorder_stop.service_is_ready():
                self._stopping = self.recorder_stop.call_async(Trigger.Request())
        if self._stopping is not None and self._stopping.done():
            self.get_logger().info(f"recorder stopped: {self._stopping.result().message}")
            self._stopping = None
        waited = time.monotonic() - self._done_at
        busy = self._stopping is not None or self._labelling is not None
        if self.exit_when_done and (not busy or waited > 5.0) and waited > 0.5:
            self.finished = True


def main(args=None) -> int:
    return run_node(ReplayDriver, "replay_driver", args)


if __name__ == "__main__":
    sys.exit(main())
