"""The closed loop over real DDS: sim + policy (a file made here) + safety monitor, via `up`."""
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import replace

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray
from std_srvs.srv import SetBool

from humanoid_manip.nodes.convert import time_to_seconds
from humanoid_manip.policy.demo import pd_policy, save

pytestmark = pytest.mark.slow
BEST_EFFORT = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
HEAD_PAN_TARGET = 0.3  # rad; the monitor's HOLD never goes there, only the policy does


class Stack:
    """`humanoid-manip up sim` in its own process group, its output collected."""

    def __init__(self, *args):
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "humanoid_manip.cli", "up", "sim",
                                      *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip())

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self, timeout=60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            rc = self.proc.wait()
        self._reader.join(5.0)
        return rc


class Observer:
    """A test node recording joint states, monitor commands and policy requests."""

    def __init__(self, reliable_states: bool = False):
        self.ctx = rclpy.Context()
        rclpy.init(context=self.ctx)
        self.node = rclpy.create_node("e2e_observer", context=self.ctx)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.ctx)
        self.executor.add_node(self.node)
        self.states: list[JointState] = []
        self.commands: list[np.ndarray] = []
        self.requests = 0
        self.diagnostics: dict[str, dict[str, str]] = {}
        n = self.node
        n.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 50)
        self.kept: list[JointState] = []  # reliable_states: every state, never trimmed
        if reliable_states:
            n.create_subscription(JointState, "/joint_states", self._keep, RELIABLE)
        else:
            n.create_subscription(JointState, "/joint_states", self.states.append, BEST_EFFORT)
        n.create_subscription(Float64MultiArray, "/effort_controller/commands",
                              lambda m: self.commands.append(np.array(m.data)), RELIABLE)
        n.create_subscription(JointState, "/policy/torque_request", self._on_request, RELIABLE)
        self.estop = n.create_publisher(Bool, "/safety/estop", LATCHED)

    def _on_request(self, _msg):
        self.requests += 1

    def _keep(self, msg):
        # the sim repeats its reset state (one stamp) while the nodes start: keep it once, or a
        # slow start under load would fill the list before the states the test looks for
        if self.kept and self.kept[-1].header.stamp == msg.header.stamp:
            return
        if len(self.kept) < 2000:
            self.kept.append(msg)

    def _on_diagnostics(self, msg):
        for status in msg.status:
            self.diagnostics[status.name] = {kv.key: kv.value for kv in status.values}
            self.diagnostics[status.name]["_message"] = status.message

    @property
    def sim_time(self) -> float:
        return time_to_seconds(self.states[-1].header.stamp) if self.states else 0.0

    def spin_until(self, predicate, timeout: float, what: str, stack: Stack):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout:g} s waiting for {what}; sim time "
                            f"{self.sim_time:.2f} s; stack output:\n{stack.output[-4000:]}")
            if stack.proc.poll() is not None:
                pytest.fail(f"the stack exited ({stack.proc.returncode}) while waiting for "
                            f"{what}:\n{stack.output[-4000:]}")
            self.executor.spin_once(timeout_sec=0.05)
            del self.states[:-50]
            del self.commands[:-50]

    def call(self, srv_type, name, request, stack):
        client = self.node.create_client(srv_type, name)
        self.spin_until(client.service_is_ready, 30.0, f"service {name}", stack)
        future = client.call_async(request)
        self.spin_until(future.done, 30.0, f"the answer of {name}", stack)
        return future.result()

    def close(self):
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.ctx)


def test_sim_policy_and_monitor_close_the_loop_and_an_estop_stops_the_robot(robot, tmp_path):
    pan = robot.index("head_pan")
    arms = np.concatenate([robot.group_indices("left_arm"), robot.group_indices("right_arm")])
    target = robot.home.copy()
    target[pan] = HEAD_PAN_TARGET
    policy = save(pd_policy(robot, target=target, ki=1.0, tasks=("pick_place",)),
                  tmp_path / "test_policy.onnx")
    stack = Stack("--policy", str(policy), "--arg", "auto_reset:=false", "--duration", "600")
    obs = Observer()
    try:
        obs.spin_until(lambda: obs.requests > 3 and len(obs.commands) > 3 and obs.states, 90.0,
                       "joint states, the policy's torque requests and the monitor's commands",
                       stack)
        pan_before = obs.states[-1].position[pan]
        resp = obs.call(SetBool, "/safety_monitor/enable", SetBool.Request(data=True), stack)
        assert resp.success, resp.message
        t_enable = obs.sim_time

        # several simulated seconds of the closed loop
        obs.spin_until(lambda: obs.sim_time > t_enable + 2.0, 120.0, "2 s of closed loop",
                       stack)
        q = np.array(obs.states[-1].position)
        effort = np.array(obs.states[-1].effort)
        assert abs(pan_before) < 0.1
        assert abs(q[pan] - HEAD_PAN_TARGET) < 0.1, "the policy's torques did not reach the sim"
        assert np.abs(q[arms] - robot.home[arms]).max() < 0.15, \
            f"the arms were not held; diagnostics: {obs.diagnostics}"
        assert np.abs(effort).max() > 0.5
        # what the sim applied is what the monitor sent (one of its latest commands, saturated
        # at the drive's effort limit as MuJoCo's actuator control range does)
        lim = robot.effort_limit
        gaps = [np.abs(effort - np.clip(c, -lim, lim)) for c in obs.commands]
        best = min(gaps, key=np.max)
        assert best.max() < 1e-6, f"{robot.names[int(best.argmax())]}: {best.max()} N·m apart"
        publishers = obs.node.get_publishers_info_by_topic("/effort_controller/commands")
        assert [p.node_name for p in publishers] == ["safety_monitor"]
        # the nodes report themselves: policy rate, misses, latency; the sim's real-time factor
        policy = obs.diagnostics["policy_node: policy"]
        assert float(policy["rate_target_hz"]) == 100.0
        assert float(policy["rate_achieved_hz"]) > 50.0  # simulated time: generous bound
        assert int(policy["deadline_misses"]) >= 0 and float(policy["inference_p50_ms"]) > 0
        assert float(policy["image_to_torque_p99_ms"]) > 0
        assert 0 < float(obs.diagnostics["sim_node: simulation"]["real_time_factor"]) <= 1.1

        # e-stop mid-run: a controlled stop, then torque off
        obs.estop.publish(Bool(data=True))
        t_estop = obs.sim_time
        obs.spin_until(lambda: obs.sim_time > t_estop + 1.0, 90.0, "1 s after the e-stop",
                       stack)
        requests_after = obs.requests
        assert not np.any(obs.commands[-1]), "the monitor still commands torque"
        assert not np.any(obs.states[-1].effort), "the sim still applies torque"
        obs.spin_until(lambda: obs.requests > requests_after, 30.0, "policy still running",
                       stack)
    finally:
        obs.close()
        rc = stack.stop()
    out = stack.output
    assert "Traceback" not in out, out[-4000:]
    assert rc == 0, out[-4000:]
    for name in ("sim_node", "policy_node", "safety_monitor"):
        assert f"{name:<20} exit code 0" in out, out[-2000:]


def test_the_main_job_opens_the_dryer_and_its_episode_is_the_evaluation_loops(robot):
    """scripts/demo.sh's stack: the shipped pixel student, the monitor and the sim in lockstep
    open the dryer on the first unseen seed, 1,000,000, and the robot's state about 1 s in is,
    bit for bit, the one `humanoid-manip eval --delay-steps 1` computes in one process."""
    from humanoid_manip.loop import PolicyDriver, run_episode
    from humanoid_manip.policy import PolicyRuntime
    from humanoid_manip.safety import SafetyMonitor, load_safety_config
    from humanoid_manip.sim import CLOCK_START_S, Simulation, make_task

    seed, at = 1_000_000, 1.0
    # Once in 12 runs of this file here, the sim waited out its 2 s lockstep timeout once
    # (a stall whose cause is not found yet; the episode still succeeds): such a run is not the
    # deterministic loop this test compares, so it runs the stack once more and says so.
    for attempt in (1, 2):
        stack, kept, ended, rc = _main_job(seed)
        if "lockstep timeouts 0" in ended or attempt == 2:
            break
        warnings.warn(f"the sim stack stalled, running it again: {ended}", stacklevel=1)
    assert "ended: success" in ended, stack.output[-4000:]
    assert "lockstep timeouts 0" in ended, ended
    assert "Traceback" not in stack.output, stack.output[-4000:]
    assert rc == 0, stack.output[-4000:]
    # a reliable reader can still miss a state when the sim outruns it (the writer keeps only
    # its last few): compare at the first state this observer holds from 1 s on
    there = [m for m in kept if time_to_seconds(m.header.stamp) - CLOCK_START_S >= at - 1e-6]
    assert there, f"no joint state stamped at or after {CLOCK_START_S + at} s"
    at = round(time_to_seconds(there[0].header.stamp) - CLOCK_START_S, 6)

    task = make_task("dryer_open")
    task = make_task("dryer_open", replace(task.config, time_limit_s=at))
    runtime = PolicyRuntime(MAIN_JOB_POLICY, robot, provider="cpu", task="dryer_open")
    with Simulation(task, seed=seed, robot=robot) as sim:
        run_episode(sim, PolicyDriver(runtime), SafetyMonitor(robot, load_safety_config()),
                    seed=seed, delay_steps=1, until_success_s=0.3)
        here = sim.joint_state()
    assert sim.time == pytest.approx(at)
    np.testing.assert_array_equal(np.asarray(there[0].position), here.position, err_msg=ended)
    np.testing.assert_array_equal(np.asarray(there[0].velocity), here.velocity, err_msg=ended)


MAIN_JOB_POLICY = "policies/default.onnx"  # what scripts/demo.sh's up sim runs (no --policy)


def _main_job(seed: int):
    """scripts/demo.sh's stack until its first episode ends: the stack, the joint states an
    observer kept, the episode's end line and the exit code."""
    stack = Stack("--enable", "--task", "dryer_open", "--seed", str(seed), "--duration", "600")
    obs = Observer(reliable_states=True)
    done = f"episode 0 (dryer_open, seed {seed}) ended:"
    try:
        obs.spin_until(lambda: any(done in line for line in stack.lines), 300.0,
                       "the first episode's end", stack)
    finally:
        obs.close()
        rc = stack.stop()
    return stack, obs.kept, next(line for line in stack.lines if done in line), rc
