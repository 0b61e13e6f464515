"""policy_node and sim_node as processes: refusals at start, episode reset, pace, quiet SIGINT."""
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import rclpy
from rosgraph_msgs.msg import Clock
from std_srvs.srv import Trigger

from humanoid_manip.policy.demo import pd_policy, save

pytestmark = pytest.mark.slow


def _node(module, *params):
    args = [sys.executable, "-m", f"humanoid_manip.nodes.{module}", "--ros-args"]
    for p in params:
        args += ["-p", p]
    return args


class Proc:
    def __init__(self, cmd):
        env = dict(os.environ, PYTHONUNBUFFERED="1", RCUTILS_COLORIZED_OUTPUT="0")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip())

    @property
    def output(self):
        return "\n".join(self.lines)

    def wait_for(self, text, timeout=60.0):
        deadline = time.monotonic() + timeout
        while text not in self.output:
            assert self.proc.poll() is None, f"exited {self.proc.returncode}:\n{self.output}"
            assert time.monotonic() < deadline, f"no {text!r} in:\n{self.output}"
            time.sleep(0.1)

    def interrupt(self, timeout=30.0) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            pytest.fail(f"did not stop on SIGINT within {timeout} s:\n{self.output}")
        self.reader.join(5.0)
        return rc


@pytest.mark.parametrize("bad, expected", [
    ({"joint_names": "swap"}, "the file lacks ['left_elbow'], the robot has no ['left_knee']"),
    ({"image_hw": (64, 64)}, "image size is 64x64 (HxW), the robot's cameras give 96x96"),
])
def test_policy_node_refuses_a_file_made_for_another_robot(robot, tmp_path, bad, expected):
    if bad.get("joint_names") == "swap":
        names = list(robot.names)
        names[robot.index("left_elbow")] = "left_knee"
        bad = {"joint_names": names}
    path = save(pd_policy(robot, **bad), tmp_path / "bad.onnx")
    out = subprocess.run(_node("policy_node", f"model:={path}"), capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 1
    assert expected in out.stderr and str(path) in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_sim_reset_clears_the_policy_state_and_both_stop_quietly_on_sigint(robot, tmp_path):
    path = save(pd_policy(robot, ki=1.0, tasks=("pick_place",)), tmp_path / "p.onnx")
    sim = Proc(_node("sim_node", "render:=false", "log_period_s:=0.0"))
    policy = Proc(_node("policy_node", f"model:={path}", "task:=pick_place",
                        "log_period_s:=0.0"))
    try:
        sim.wait_for("task 'pick_place' seed 0")
        policy.wait_for("running on CPU")
        policy.wait_for('"seed": 0')  # the sim's episode announcement (transient local)
        ctx = rclpy.Context()
        rclpy.init(context=ctx)
        node = rclpy.create_node("reset_caller", context=ctx)
        try:
            client = node.create_client(Trigger, "/sim_node/reset")
            assert client.wait_for_service(timeout_sec=30.0)
            future = client.call_async(Trigger.Request())
            executor = rclpy.executors.SingleThreadedExecutor(context=ctx)
            executor.add_node(node)
            executor.spin_until_future_complete(future, timeout_sec=60.0)
            assert future.result().success, future.result().message
            assert "episode 0 (pick_place, seed 0) ended" in future.result().message
            # never faster than real time: /clock advances at most as fast as the wall clock
            stamps = []
            node.create_subscription(Clock, "/clock", lambda m: stamps.append(
                (time.monotonic(), m.clock.sec + m.clock.nanosec * 1e-9)), 10)
            end = time.monotonic() + 3.0
            while time.monotonic() < end:
                executor.spin_once(timeout_sec=0.05)
            assert len(stamps) > 10
            (w0, s0), (w1, s1) = stamps[0], stamps[-1]
            assert 0 < (s1 - s0) / (w1 - w0) < 1.1
        finally:
            node.destroy_node()
            rclpy.try_shutdown(context=ctx)
        policy.wait_for('"seed": 1, "start_time"')
        assert "recurrent state cleared" in policy.output
    finally:
        rcs = {"sim_node": sim.interrupt(), "policy_node": policy.interrupt()}
    for name, proc in (("sim_node", sim), ("policy_node", policy)):
        assert rcs[name] == 0, proc.output
        assert "Traceback" not in proc.output, proc.output
