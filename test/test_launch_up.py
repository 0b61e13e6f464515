"""`humanoid-manip up` as a user runs it: a refused policy file stops the stack and says why;
without a robot, the hardware stack gives up on /joint_states and exits 1."""
import os
import subprocess
import sys
import time

import pytest

from humanoid_manip.policy.demo import pd_policy, save

pytestmark = pytest.mark.slow


def test_up_stops_every_node_when_the_policy_file_is_refused(robot, tmp_path):
    names = list(robot.names)
    names[robot.index("right_wrist_roll")] = "right_wrist_twist"
    bad = save(pd_policy(robot, joint_names=names, tasks=("pick_place",)), tmp_path / "b.onnx")
    out = subprocess.run([sys.executable, "-m", "humanoid_manip.cli", "up", "sim", "--policy",
                          str(bad), "--duration", "120"], capture_output=True, text=True,
                         timeout=180, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    text = out.stdout + out.stderr
    assert out.returncode == 1, text
    assert "the file lacks ['right_wrist_roll'], the robot has no ['right_wrist_twist']" in text
    assert "policy_node exited with code 1" in text
    assert "Traceback" not in text, text
    for name in ("sim_node", "safety_monitor"):
        assert f"{name:<20} exit code 0" in text, text


def test_up_hardware_without_a_robot_stops_and_names_joint_states():
    """No ros2_control running: after joint_state_wait the monitor gives up and `up` exits 1."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("AMENT_PREFIX_PATH", None)
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "humanoid_manip.cli", "up", "hardware",
                          "--arg", "joint_state_wait:=4", "--duration", "120"],
                         capture_output=True, text=True, timeout=180, env=env)
    text = out.stdout + out.stderr
    assert out.returncode == 1, text
    assert "no joint state on /joint_states in 4 s" in text
    assert "safety_monitor exited with code 1" in text
    assert "policy_node          exit code 0" in text  # the others were stopped cleanly
    assert "Traceback" not in text, text
    assert time.monotonic() - t0 < 100  # it did not wait for --duration


def _nodes_of(up_pid: int) -> list[int]:
    """The live processes `up` (pid up_pid) started: their environment names it."""
    mark = f"HUMANOID_MANIP_UP_PID={up_pid}\0".encode()
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/environ", "rb") as f:
                    if mark in f.read():
                        found.append(int(d))
            except OSError:
                pass
    return found


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_a_killed_up_leaves_no_node_running():
    """`up` starts its nodes in sessions of their own (a Ctrl-C reaches them through up, in
    order); killed outright it can stop none of them, so each node sees its launcher gone and
    stops by itself instead of running on, publishing into whatever starts next."""
    import signal

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("AMENT_PREFIX_PATH", None)
    up = subprocess.Popen([sys.executable, "-m", "humanoid_manip.cli", "up", "hardware",
                           "--arg", "joint_state_wait:=100", "--duration", "120"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        t0 = time.monotonic()
        while len(_nodes_of(up.pid)) < 2 and time.monotonic() - t0 < 60:
            time.sleep(0.2)
        assert len(_nodes_of(up.pid)) >= 2, "the stack did not start"
        time.sleep(3)  # the nodes spinning
        up.kill()
        up.wait()
        t1 = time.monotonic()
        while _nodes_of(up.pid) and time.monotonic() - t1 < 30:
            time.sleep(0.2)
        assert not _nodes_of(up.pid)
    finally:
        if up.poll() is None:
            up.kill()
        for pid in _nodes_of(up.pid):
            os.kill(pid, signal.SIGKILL)
