"""view_node over DDS: what the stack publishes (and the teleop topics) ends up in its Rerun
recording, which `rerun rrd verify` accepts; bad parameters are refused in one line."""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float64MultiArray, String
from test_viz import rrd_contents

from humanoid_manip.nodes.convert import seconds_to_time

ROOT = Path(__file__).resolve().parents[1]
RERUN = Path(sys.executable).with_name("rerun")
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)


def view_node(*params: str) -> subprocess.Popen:
    args = [x for p in params for x in ("-p", p)]
    return subprocess.Popen([sys.executable, "-m", "humanoid_manip.nodes.view_node",
                             "--ros-args", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def ros():
    rclpy.init()
    node = rclpy.create_node("view_test")
    yield node
    node.destroy_node()
    rclpy.shutdown()


def test_view_node_records_the_stack_and_the_teleop_topics(ros, robot, tmp_path):
    out = tmp_path / "live.rrd"
    proc = view_node("web:=false", f"save:={out}", "teleop:=true", "rate_hz:=50.0")
    p = ros.create_publisher
    js = p(JointState, "/joint_states", RELIABLE)  # reliable publishers, as the sim's
    req = p(JointState, "/policy/torque_request", RELIABLE)
    cmd = p(Float64MultiArray, "/effort_controller/commands", RELIABLE)
    cam = p(Image, "/head_camera/image_raw", RELIABLE)
    events = p(String, "/safety/events", RELIABLE)
    episode = p(String, "/episode/start", LATCHED)
    target = p(PoseStamped, "/teleop/left_wrist_target", RELIABLE)
    deadman = p(Bool, "/teleop/deadman", RELIABLE)
    diag = p(DiagnosticArray, "/diagnostics", RELIABLE)
    try:
        deadline = time.monotonic() + 30
        while cmd.get_subscription_count() == 0 or target.get_subscription_count() == 0:
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "view_node never subscribed"
            time.sleep(0.1)
        time.sleep(0.5)
        episode.publish(String(data=json.dumps({"episode": 0, "task": "pick_place", "seed": 3,
                                                "start_time": 0.0})))
        for k in range(200):  # 2 s at 100 Hz, stamps from 1 s
            t = 1.0 + k * 0.01
            stamp = seconds_to_time(t)
            q = robot.home + 0.3 * np.sin(t + np.arange(robot.n))
            m = JointState(name=list(robot.names), position=q.tolist(),
                           velocity=(0 * q).tolist(), effort=q.tolist())
            m.header.stamp = stamp
            js.publish(m)
            r = JointState(name=list(robot.names)[::-1], effort=(2 * q)[::-1].tolist())
            r.header.stamp = stamp  # any joint order: read by name
            req.publish(r)
            cmd.publish(Float64MultiArray(data=(3 * q).tolist()))
            if k % 10 == 0:
                img = Image(height=96, width=96, encoding="rgb8", step=288,
                            data=np.full((96, 96, 3), k, np.uint8).tobytes())
                img.header.stamp = stamp
                cam.publish(img)
                pose = PoseStamped()
                pose.header.stamp = stamp
                pose.pose.position.x, pose.pose.position.z = 0.4, 1.0
                pose.pose.orientation.w = 1.0
                target.publish(pose)
                deadman.publish(Bool(data=k < 100))
                status = DiagnosticStatus(name="sim_node: simulation", values=[
                    KeyValue(key="progress", value=f"{k / 200:.3f}"),
                    KeyValue(key="success", value="False"), KeyValue(key="episode", value="0")])
                d = DiagnosticArray(status=[status])
                d.header.stamp = stamp
                diag.publish(d)
            if k == 50:
                events.publish(String(data=json.dumps(
                    {"time": t, "tick": 1, "type": "torque_limit", "reason": "clipped",
                     "mode": "ACTIVE", "joints": ["left_elbow"], "values": {}})))
            time.sleep(0.01)
        time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, output
    assert "Traceback" not in output and f"wrote {out}" in output
    verify = subprocess.run([str(RERUN), "rrd", "verify", str(out)], capture_output=True,
                            text=True, timeout=60)
    assert verify.returncode == 0, verify.stderr
    got = rrd_contents(out)
    # thinned to about 50 Hz of the 100 Hz stream (DDS may drop a few best-effort samples)
    poses = got["/world/robot/left_forearm_link"]["Transform3D:translation"]
    assert 60 <= len(poses) <= 101
    assert got["/joints/torque_request/left_arm"]["SeriesLines:names"][0][0] == \
        "left_shoulder_pitch"
    req_t = np.asarray(got["/joints/torque_request/left_arm"]["time"]) * 1e-9
    assert req_t.min() >= 1.0 - 1e-9  # the requests' stamps, the sim's clock
    assert len(got["/world/robot/head_camera_link/head_camera"]["Image:buffer"]) >= 15
    assert len(got["/world/teleop/left_palm_target"]["Transform3D:translation"]) >= 15
    assert 1.0 in np.ravel(got["/teleop/deadman"]["Scalars:scalars"])
    assert 0.0 in np.ravel(got["/teleop/deadman"]["Scalars:scalars"])
    assert "left_elbow" in got["/safety/events"]["TextLog:text"][0][0]
    assert any("seed 3" in t[0] for t in got["/task/outcome"]["TextLog:text"])
    assert max(np.ravel(got["/task/progress"]["Scalars:scalars"])) > 0.8


@pytest.mark.parametrize("param, message", [
    ("rate_hz:=-1.0", "rate_hz"), ("rate_hz:=.nan", "rate_hz"), ("web_port:=0", "web_port"),
    ("save:=/nonexistent/dir/x.rrd", "does not exist"),
])
def test_bad_parameters_are_refused_in_one_line(param, message):
    proc = view_node(param)
    output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 1, output
    assert "Traceback" not in output
    assert f"view_node: error: parameter {message}" in output or message in output
