"""safety_monitor_node on simulated time (the teleop stack) while its clock starts: a joint state
that arrives before the first /clock must not fault the monitor once the clock jumps to the sim's
start (CI's teleop session on busy cores sat in FAULT, "joint states stale: last one 1000.0 ms
ago", and its replay driver waited forever for an arm that needs an operator's reset)."""
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState
from std_srvs.srv import SetBool

from humanoid_manip.nodes import convert
from humanoid_manip.sim import CLOCK_START_S

pytestmark = pytest.mark.slow
RELIABLE = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)


def spin_for(node, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.01)


def test_a_joint_state_before_the_first_clock_leaves_the_monitor_able_to_arm(robot):
    monitor = subprocess.Popen(
        [sys.executable, "-m", "humanoid_manip.nodes.safety_monitor_node", "--ros-args",
         "-r", "__node:=safety_monitor", "-p", "use_sim_time:=true"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    rclpy.init()
    node = rclpy.create_node("sim_time_test")
    try:
        clock_pub = node.create_publisher(Clock, "/clock", RELIABLE)
        state_pub = node.create_publisher(JointState, "/joint_states", RELIABLE)
        enable = node.create_client(SetBool, "/safety_monitor/enable")
        deadline = time.monotonic() + 30
        while not (state_pub.get_subscription_count() and clock_pub.get_subscription_count()
                   and enable.service_is_ready()):
            assert monitor.poll() is None, monitor.stdout.read()
            assert time.monotonic() < deadline, "the monitor did not come up"
            spin_for(node, 0.05)

        def state():
            return convert.joint_state_msg(robot.names, robot.home, np.zeros(robot.n),
                                           np.zeros(robot.n), convert.seconds_to_time(0.0))

        state_pub.publish(state())  # before any /clock: the monitor's time still reads 0
        spin_for(node, 0.5)
        clock_pub.publish(Clock(clock=convert.seconds_to_time(CLOCK_START_S)))
        spin_for(node, 0.5)  # the clock jumped: the monitor's timer ticks with no newer state
        for k in range(1, 100):  # then the sim steps: /clock, then the state, every 2 ms
            clock_pub.publish(Clock(clock=convert.seconds_to_time(CLOCK_START_S + 0.002 * k)))
            state_pub.publish(state())
            spin_for(node, 0.005)
        future = enable.call_async(SetBool.Request(data=True))
        deadline = time.monotonic() + 10
        while not future.done():
            assert time.monotonic() < deadline, "enable did not answer"
            rclpy.spin_once(node, timeout_sec=0.01)
        answer = future.result()
    finally:
        monitor.send_signal(signal.SIGINT)
        try:
            log = monitor.communicate(timeout=20)[0]
        except subprocess.TimeoutExpired:
            monitor.kill()
            log = monitor.communicate()[0]
        node.destroy_node()
        rclpy.shutdown()
    assert answer.success, (answer.message, log[-3000:])
    assert "FAULT" not in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
