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
