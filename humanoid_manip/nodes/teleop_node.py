"""teleop_node: device-agnostic teleoperation, a thin shell over teleop.TeleopController.

Subscribes /teleop/{left,right}_wrist_target (PoseStamped, palm targets in the world frame),
/teleop/{left,right}_hand_keypoints (PoseArray, 21-point layout), /teleop/deadman (Bool
heartbeat) and /joint_states; publishes /policy/torque_request (PD + gravity compensation) at
the policy rate, to the safety monitor. Without a fresh heartbeat it requests the hold of the
pose it had when released.
"""
from __future__ import annotations

import sys

from geometry_msgs.msg import PoseArray, PoseStamped
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool

from humanoid_manip.nodes import convert
from humanoid_manip.nodes._run import run_node
from humanoid_manip.robot import load_robot
from humanoid_manip.teleop.config import load_teleop_config
from humanoid_manip.teleop.controller import TeleopController
from humanoid_manip.teleop.keypoints import KeypointError, to_hand21
from humanoid_manip.teleop.types import SIDES

RELIABLE_1 = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
# Teleop inputs: best effort hears best-effort and reliable drivers alike.
INPUT_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)


class TeleopNode(Node):
    """Converts messages, keeps time and calls the controller at the policy rate."""

    def __init__(self):
        super().__init__("teleop")
        config = self.declare_parameter("teleop_config", "").value
        self.robot = load_robot()
        self.config = load_teleop_config(config or None)
        rate = self.declare_parameter("rate_hz", float(self.robot.rates.policy_hz)).value
        self.controller = TeleopController(self.robot, self.config)
        self.order = convert.JointOrder(self.robot.names)
        self.state = None
        self._warned: set[str] = set()
        self.pub = self.create_publisher(JointState, "/policy/torque_request", RELIABLE_1)
        self.create_subscription(JointState, "/joint_states", self._on_joint_state,
                                 qos_profile_sensor_data)
        for side in SIDES:
            self.create_subscription(PoseStamped, f"/teleop/{side}_wrist_target",
                                     lambda m, s=side: self._on_wrist(s, m), INPUT_QOS)
            self.create_subscription(PoseArray, f"/teleop/{side}_hand_keypoints",
                                     lambda m, s=side: self._on_keypoints(s, m), INPUT_QOS)
        self.create_subscription(Bool, "/teleop/deadman", self._on_deadman, INPUT_QOS)
        self.create_timer(1.0 / rate, self._on_tick)
        self._engaged = False
        self.get_logger().info(f"teleop at {rate:g} Hz; holding until /teleop/deadman is held")

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _warn_once(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.get_logger().warning(text)

    def _on_joint_state(self, msg: JointState) -> None:
        got = self.order.read(msg)
        if got is None:
            self._warn_once("js", "joint states lack joints: "
                                  f"{self.order.missing(msg.name)[:5]} …; not commanding")
            return
        self.state = got

    def _on_wrist(self, side: str, msg: PoseStamped) -> None:
        pos, quat = convert.pose_from_msg(msg)
        self.controller.wrist(side, self._now(), pos, quat)

    def _on_keypoints(self, side: str, msg: PoseArray) -> None:
        try:
            kp = to_hand21(convert.keypoints_from_msg(msg))
        except KeypointError as exc:
            self._warn_once(f"kp{side}", f"{side} keypoints ignored: {exc}")
            return
        self.controller.keypoints(side, self._now(), kp)

    def _on_deadman(self, msg: Bool) -> None:
        self.controller.heartbeat(self._now(), msg.data)

    def _on_tick(self) -> None:
        if self.state is None:
            return
        now = self._now()
        q, dq = self.state
        tau = self.controller.torque(now, q, dq)
        if self.controller.engaged != self._engaged:
            self._engaged = self.controller.engaged
            self.get_logger().info("deadman held: following" if self._engaged
                                   else "deadman released: holding")
        self.pub.publish(convert.torque_request_msg(self.robot.names, tau,
                                                    convert.seconds_to_time(now)))


def main(args=None) -> int:
    return run_node(TeleopNode, "teleop_node", args)


if __name__ == "__main__":
    sys.exit(main())
