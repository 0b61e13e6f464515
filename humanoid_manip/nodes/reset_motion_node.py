"""reset_motion_node: both arms to the episode start pose along a moveit_py plan, via the monitor.

Before an episode on the robot: plans a collision-free path for the SRDF group both_arms from
the current /joint_states to config/robot.yaml's `home` (the SRDF's named state "ready") with
moveit_py, lets the hands and head follow on the same time base, and tracks the whole path with
control.PathTracker (PD + gravity compensation) as torque requests on /policy/torque_request.
The safety monitor stays the only publisher of torque (it must be enabled: `enable_monitor`
asks it). Ends with exit 0 once every path joint is within `tolerance`, 1 with the reason
otherwise; then the monitor holds the pose until the policy's requests come. Refuses to start
while another node publishes torque requests (the policy or teleop would fight it).
Needs moveit_py (MoveIt 2's Python API, a ROS 2 install's); `humanoid-manip reset` checks.
"""
from __future__ import annotations

import sys

import numpy as np
from moveit.core.robot_state import RobotState
from moveit.planning import MoveItPy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_srvs.srv import SetBool

from humanoid_manip.control.path_tracking import JointPath, PathTracker
from humanoid_manip.errors import HumanoidManipError
from humanoid_manip.moveit_config.files import ARMS, moveit_py_parameters
from humanoid_manip.nodes import convert
from humanoid_manip.nodes._run import run_node
from humanoid_manip.robot import load_robot

RELIABLE_1 = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
REQUEST_TOPIC = "/policy/torque_request"


class ResetMotionNode(Node):
    """Plans once, then tracks the plan at the policy rate until the start pose is reached."""

    def __init__(self):
        super().__init__("reset_motion")
        self.robot = load_robot()
        self.tolerance = float(self.declare_parameter("tolerance", 0.02).value)
        self.state_wait = float(self.declare_parameter("joint_state_wait_s", 10.0).value)
        self.settle = float(self.declare_parameter("settle_timeout_s", 5.0).value)
        self.enable_monitor = bool(self.declare_parameter("enable_monitor", False).value)
        self.order = convert.JointOrder(self.robot.names)
        self.state: tuple[np.ndarray, np.ndarray] | None = None
        self.pub = self.create_publisher(JointState, REQUEST_TOPIC, RELIABLE_1)
        self.create_subscription(JointState, "/joint_states", self._on_joint_state,
                                 qos_profile_sensor_data)
        self.enable_client = self.create_client(SetBool, "/safety_monitor/enable")
        self.moveit = MoveItPy(node_name="reset_motion_moveit",
                               config_dict=moveit_py_parameters())
        self.tracker: PathTracker | None = None
        self.t0 = 0.0
        self.started = self._now()
        self.finished = False
        self.create_timer(1.0 / self.robot.rates.policy_hz, self._on_tick)
        self.get_logger().info(f"planning {ARMS} to the start pose once joint states arrive")

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_joint_state(self, msg: JointState) -> None:
        got = self.order.read(msg)
        if got is not None:
            self.state = got

    def _on_tick(self) -> None:
        now = self._now()
        if self.state is None:
            if now - self.started > self.state_wait:
                raise HumanoidManipError(f"no joint state on /joint_states in "
                                         f"{self.state_wait:g} s: is the robot (or sim) up?")
            return
        if self.tracker is None:
            self._check_alone()
            self.tracker = self._plan(*self.state)
            if self.enable_monitor:
                self.enable_client.call_async(SetBool.Request(data=True))
            self.t0 = now
            self.get_logger().info(f"tracking a {self.tracker.path.duration:.2f} s path "
                                   "through the safety monitor")
        t = now - self.t0
        q, dq = self.state
        torque = self.tracker.torque(t, q, dq)
        self.pub.publish(convert.torque_request_msg(self.robot.names, torque,
                                                    convert.seconds_to_time(now)))
        err = np.abs(q - self.tracker.goal)[self.tracker.idx]
        if self.tracker.arrived(t, q, dq, self.tolerance):
            self.get_logger().info(f"at the start pose after {t:.2f} s (largest error "
                                   f"{err.max():.4f} rad); the monitor holds it")
            self.finished = True
        elif t > self.tracker.path.duration + self.settle:
            j = self.tracker.path.names[int(np.argmax(err))]
            raise HumanoidManipError(f"not at the start pose {self.settle:g} s after the path "
                                     f"ended: {j} is {err.max():.3f} rad off (is the safety "
                                     "monitor enabled? ros2 service call "
                                     "/safety_monitor/enable std_srvs/srv/SetBool '{data: true}')")

    def _check_alone(self) -> None:
        others = [f"{i.node_namespace.rstrip('/')}/{i.node_name}"
                  for i in self.get_publishers_info_by_topic(REQUEST_TOPIC)
                  if i.node_name != self.get_name()]
        if others:
            raise HumanoidManipError(f"{', '.join(others)} also publish {REQUEST_TOPIC}: stop "
                                     "them first (the monitor follows one request stream)")

    def _plan(self, q: np.ndarray, dq: np.ndarray) -> PathTracker:
        """moveit_py's collision-free plan for both arms, the hands and head added."""
        arms = self.robot.groups["left_arm"] + self.robot.groups["right_arm"]
        goal = RobotState(self.moveit.get_robot_model())
        goal.joint_positions = {n: float(self.robot.home[self.robot.index(n)]) for n in arms}
        goal.update()
        planner = self.moveit.get_planning_component(ARMS)
        planner.set_start_state_to_current_state()
        planner.set_goal_state(robot_state=goal)
        result = planner.plan()
        if not result:
            raise HumanoidManipError(f"moveit_py found no collision-free path for {ARMS} to "
                                     "the start pose")
        msg = result.trajectory.get_robot_trajectory_msg().joint_trajectory
        names = tuple(msg.joint_names)
        times = np.array([p.time_from_start.sec + 1e-9 * p.time_from_start.nanosec
                          for p in msg.points])
        positions = np.array([p.positions for p in msg.points], dtype=float)
        velocities = np.array([p.velocities if len(p.velocities) == len(names)
                               else np.zeros(len(names)) for p in msg.points], dtype=float)
        path = JointPath(names, times - times[0], positions, velocities)
        rest = [n for n in self.robot.names if n not in names]
        ri = self.robot.indices(rest)
        path = path.with_joints(rest, q[ri], self.robot.home[ri])
        return PathTracker(self.robot, path, q)


def main(args=None) -> int:
    return run_node(ResetMotionNode, "reset_motion_node", args)


if __name__ == "__main__":
    sys.exit(main())
