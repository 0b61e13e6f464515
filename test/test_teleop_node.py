"""teleop_node + replay_driver over DDS: torque requests hold without the deadman heartbeat and
pull toward the streamed wrist target and hand posture while it is held."""
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState

from humanoid_manip.control import WristIK
from humanoid_manip.robot import RobotDynamics
from humanoid_manip.teleop import synthetic
from humanoid_manip.teleop.replay import write_hand_stream
from humanoid_manip.teleop.types import HandSample, TeleopInput

ROOT = Path(__file__).resolve().parents[1]


def node(module, *params):
    cmd = [sys.executable, "-m", f"humanoid_manip.nodes.{module}", "--ros-args"]
    for p in params:
        cmd += ["-p", p]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


@pytest.fixture(scope="module")
def stream(tmp_path_factory, robot):
    """1.5 s released, 2.5 s held with the right palm 6 cm forward and a fist, then the end."""
    ik = WristIK(robot)
    pos, quat = ik.palm_pose("right")
    frames = []
    for k in range(int(4.0 * 30)):
        t = k / 30
        held = t >= 1.5
        kp = synthetic.keypoints(synthetic.FIST if held else synthetic.OPEN, "right")
        frames.append(TeleopInput(t, {"right": HandSample(pos + [0.06, 0, 0], quat, kp)},
                                  deadman=held))
    return write_hand_stream(tmp_path_factory.mktemp("s") / "stream.jsonl", frames)


def test_teleop_node_holds_then_follows_the_replayed_stream(robot, stream):
    rclpy.init()
    test = rclpy.create_node("teleop_test")
    got = []
    test.create_subscription(JointState, "/policy/torque_request",
                             lambda m: got.append((time.monotonic(), np.array(m.effort))),
                             QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE))
    js_pub = test.create_publisher(JointState, "/joint_states",
                                   QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
    state = JointState(name=list(robot.names), position=robot.home.tolist(),
                       velocity=[0.0] * robot.n, effort=[0.0] * robot.n)
    dyn = RobotDynamics(robot)
    dyn.set_state(robot.home, np.zeros(robot.n))
    hold = np.clip(dyn.bias_torque(), -robot.effort_limit, robot.effort_limit)
    teleop = node("teleop_node")
    driver = None
    try:
        deadline = time.monotonic() + 30
        while not got:  # discovery and the node's first request
            assert teleop.poll() is None, teleop.stdout.read()
            assert time.monotonic() < deadline, "no torque request from teleop_node"
            js_pub.publish(state)
            rclpy.spin_once(test, timeout_sec=0.01)
        driver = node("replay_driver", f"file:={stream}", "exit_when_done:=true")
        deadline, t_end = time.monotonic() + 40.0, None
        while t_end is None or time.monotonic() < t_end:
            assert time.monotonic() < deadline, "replay_driver did not exit at the stream's end"
            if t_end is None and driver.poll() is not None:
                t_end = time.monotonic() + 1.5  # then watch it hold
            js_pub.publish(state)
            rclpy.spin_once(test, timeout_sec=0.01)
        assert driver.returncode == 0
    finally:
        for p in (teleop, driver):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGINT)
        logs = [p.communicate(timeout=20)[0] for p in (teleop, driver) if p is not None]
        test.destroy_node()
        rclpy.shutdown()
    for log in logs:
        assert "Traceback" not in log, log
    arm = robot.group_indices("right_arm")
    fingers = robot.indices([f"right_{f}_{j}" for f in ("index", "middle") for j in ("mcp",
                                                                                     "pip")])
    dev = np.array([np.abs(tau - hold).max() for _, tau in got])
    held = [tau for _, tau in got if np.abs(tau - hold).max() > 1.0]
    assert dev[:5].max() < 1e-6, "before the heartbeat the request is the hold torque"
    assert held, "the heartbeat never made the arm move"
    pull = held[len(held) // 2]
    assert np.abs(pull[arm] - hold[arm]).max() > 1.0  # PD pulling the palm forward
    assert np.all(pull[fingers] > hold[fingers] + 0.1)  # fingers closing toward the fist
    assert dev[-20:].max() < 1e-6, "after the stream ended the request holds again"
    assert "deadman held: following" in logs[0] and "deadman released: holding" in logs[0]
