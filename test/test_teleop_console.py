"""The operator's console: the status line says what the operator needs, and the keyboard
driver, against a real safety monitor over DDS, says why the monitor refuses to arm."""
import io
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState
from std_msgs.msg import Header, String

from humanoid_manip.commands.up import shown_with_log
from humanoid_manip.nodes.convert import seconds_to_time
from humanoid_manip.teleop.console import (
    Console,
    SessionView,
    mode_change,
    refusal,
    status_line,
)

ROOT = Path(__file__).resolve().parents[1]


def test_the_status_line_says_arming_deadman_hand_palm_time_and_outcome():
    v = SessionView(side="left", posture="fist", palm=(0.5, 0.2, 1.1), deadman=True,
                    mode="ACTIVE", armed=True, episode=0, episode_time=3.25, progress=0.4,
                    success=False, label=True)
    line = status_line(v)
    for part in ("ARMED ACTIVE", "DEADMAN HELD", "left hand fist", "palm +0.500 +0.200 +1.100",
                 "ep 0 t   3.2 s", "referee progress 0.40", "marked success"):
        assert part in line, (part, line)
    assert "not armed (e)" in status_line(SessionView(mode="HOLD", armed=False))
    stopped = status_line(SessionView(mode="FAULT", armed=False))
    assert "FAULT: press c, then e" in stopped and "marked -" in stopped


def test_messages_say_why_and_what_to_do():
    assert refusal("no joint states received yet").endswith(
        "(the simulation has not published a state yet; press e again in a moment)")
    assert "press c to reset the monitor, then e" in refusal(
        "mode is FAULT (joint states stale); reset first")
    event = {"type": "mode", "reason": "ACTIVE -> STOPPING: e-stop pressed",
             "values": {"from": "ACTIVE", "to": "STOPPING"}}
    assert mode_change(event) == ("safety monitor ACTIVE -> STOPPING: e-stop pressed: press c "
                                  "to reset, then e")
    assert mode_change({"type": "mode", "values": {"to": "ACTIVE"}}) is None


def test_the_console_redraws_one_line_under_its_messages():
    out = io.StringIO()
    c = Console(out, tty=True)
    c.status("ARMED | DEADMAN HELD")
    c.message("outcome success recorded")
    assert out.getvalue() == ("\rARMED | DEADMAN HELD\x1b[K"
                              "\r\x1b[Koutcome success recorded\nARMED | DEADMAN HELD")
    piped = io.StringIO()
    Console(piped, tty=False).status("not shown on a pipe")
    assert piped.getvalue() == ""


def test_up_log_keeps_warnings_errors_and_refusals_on_the_terminal():
    assert not shown_with_log("[INFO] t=2.0 s sim, 0.3x real time")
    assert shown_with_log("[WARN] joint states lack joints")
    assert shown_with_log("[ERROR] FAULT")
    assert shown_with_log("policy_node: error: the file lacks ['right_wrist_roll']")
    assert shown_with_log("Traceback (most recent call last):")


def test_the_keyboard_driver_says_why_the_monitor_refuses_to_arm(robot):
    """e before the monitor has a joint state: refused, with the reason and what to do; once
    states flow, e arms it. The nodes run on a /clock this test steps with its states, as the
    sim stack's do (on wall time a descheduled test would starve the monitor's watchdog)."""
    sim_time = ["--ros-args", "-p", "use_sim_time:=true"]
    monitor = subprocess.Popen([sys.executable, "-m", "humanoid_manip.nodes.safety_monitor_node",
                                *sim_time], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    driver = subprocess.Popen([sys.executable, "-m", "humanoid_manip.nodes.keyboard_driver",
                               *sim_time], cwd=ROOT, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(driver.stdout), daemon=True)
    reader.start()
    rclpy.init()
    test = rclpy.create_node("console_test")
    keys = test.create_publisher(String, "/keyboard_driver/keys", 10)
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    clock = test.create_publisher(Clock, "/clock", reliable)
    js = test.create_publisher(JointState, "/joint_states", reliable)
    now = [1.0]

    def press_until(key: str, said: str, states: bool, timeout: float = 60.0) -> None:
        """Press `key` every 1.5 s until the driver says `said` (its client may discover the
        monitor's service late); with states, the clock steps 2 ms with a state each time."""
        deadline = time.monotonic() + timeout
        next_press = time.monotonic()
        while not any(said in line for line in lines):
            assert time.monotonic() < deadline, f"the driver never said {said!r}: {lines}"
            assert driver.poll() is None and monitor.poll() is None, lines
            if time.monotonic() >= next_press:
                # as an operator would: after a stop (states that paused under load), c then e
                faulted = states and lines and "FAULT" in lines[-1]
                keys.publish(String(data="c" if faulted else key))
                next_press = time.monotonic() + 1.5
            if states:
                stamp = seconds_to_time(now[0])
                js.publish(JointState(header=Header(stamp=stamp), name=list(robot.names),
                                      position=robot.home.tolist(), velocity=[0.0] * robot.n,
                                      effort=[0.0] * robot.n))
                clock.publish(Clock(clock=stamp))
                now[0] += 0.002
            rclpy.spin_once(test, timeout_sec=0.005)

    try:
        press_until("e", "the safety monitor refused to arm", states=False)
        press_until("e", "safety monitor: enabled", states=True)
    finally:
        for p in (driver, monitor):
            p.send_signal(signal.SIGINT)
        monitor_log = monitor.communicate(timeout=20)[0]
        driver.wait(timeout=20)
        reader.join(5.0)
        test.destroy_node()
        rclpy.shutdown()
    logs = ["".join(lines), monitor_log]
    out = logs[0]
    assert "keys: w/s a/d r/f move the palm" in out, out
    assert ("the safety monitor refused to arm: no joint states received yet (the simulation "
            "has not published a state yet; press e again in a moment)") in out, out
    assert "safety monitor: enabled; ACTIVE once valid torque requests arrive" in out, out
    assert out.index("refused to arm") < out.index("safety monitor: enabled")
    assert "Traceback" not in out + logs[1]
