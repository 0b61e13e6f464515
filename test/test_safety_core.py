"""The safety monitor core (no ROS): properties over any input, and each function's behaviour."""
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from humanoid_manip.config import from_dict
from humanoid_manip.errors import ConfigError
from humanoid_manip.robot import RobotDynamics
from humanoid_manip.safety import (
    JointState,
    Mode,
    SafetyConfig,
    SafetyMonitor,
    TorqueRequest,
    load_safety_config,
)

DT = 0.002
PROPS = settings(max_examples=40, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow])


@pytest.fixture(scope="module")
def config():
    return load_safety_config()


@pytest.fixture(scope="module")
def dyn(robot):
    return RobotDynamics(robot)


def state(robot, q, dq, t):
    return JointState(robot.names, np.asarray(q, float), np.asarray(dq, float), t)


def active_monitor(robot, config, q=None, dq=None, ticks=200):
    """A monitor enabled and past its ramp, fed a valid zero-ish request at the home pose."""
    mon = SafetyMonitor(robot, config)
    q = robot.home if q is None else q
    dq = np.zeros(robot.n) if dq is None else dq
    mon.tick(0.0, None, state(robot, q, dq, 0.0))
    assert mon.enable()[0]
    t = 0.0
    for k in range(1, ticks):
        t = k * DT
        mon.tick(t, TorqueRequest(robot.names, np.zeros(robot.n), t), state(robot, q, dq, t))
    return mon, t


# ----------------------------------------------------------------------------- strategies
finite_or_not = st.floats(allow_nan=True, allow_infinity=True, width=64)
huge = st.floats(min_value=-1e12, max_value=1e12)


@st.composite
def requests(draw, robot):
    kind = draw(st.sampled_from(["valid", "huge", "nan", "names", "length", "shuffled"]))
    effort = draw(arrays(np.float64, robot.n, elements=huge if kind != "nan" else finite_or_not))
    names = list(robot.names)
    if kind == "names":
        names[draw(st.integers(0, robot.n - 1))] = "left_knee"
    elif kind == "length":
        cut = draw(st.integers(0, robot.n - 1))
        names, effort = names[:cut], effort[:cut]
    elif kind == "shuffled":
        perm = draw(st.permutations(range(robot.n)))
        names, effort = [names[i] for i in perm], effort[list(perm)]
    return names, effort


@st.composite
def joint_states(draw, robot):
    span = robot.upper - robot.lower
    u = draw(arrays(np.float64, robot.n, elements=st.floats(-0.05, 1.05)))
    q = robot.lower + u * span
    v = draw(arrays(np.float64, robot.n, elements=st.floats(-3.0, 3.0)))
    return q, v * robot.velocity_limit


# ------------------------------------------------------------------------------ properties
def test_any_request_and_state_gives_finite_torque_within_every_limit(robot, config):
    @PROPS
    @given(data=st.data())
    def check(data):
        mon, t = active_monitor(robot, config, ticks=3)
        for _ in range(data.draw(st.integers(1, 6))):
            t += DT
            q, dq = data.draw(joint_states(robot))
            names, effort = data.draw(requests(robot))
            res = mon.tick(t, TorqueRequest(tuple(names), effort, t), state(robot, q, dq, t))
            assert res.torque.shape == (robot.n,)
            assert np.all(np.isfinite(res.torque))
            assert np.all(np.abs(res.torque) <= mon.limit + 1e-9)
            assert np.all(mon.limit <= robot.effort_limit)
            for event in res.events:
                json.loads(event.to_json())

    check()


def test_near_a_position_limit_the_output_never_pushes_further_into_it(robot, config, dyn):
    zone = config.position.soft_zone

    @PROPS
    @given(data=st.data())
    def check(data):
        mon, t = active_monitor(robot, config, ticks=3)
        q, dq = data.draw(joint_states(robot))
        # put a handful of joints inside their soft zone (not past the hard limit)
        picks = data.draw(st.lists(st.integers(0, robot.n - 1), min_size=1, max_size=12))
        for i in picks:
            depth = data.draw(st.floats(0.0, zone))
            q[i] = robot.upper[i] - depth if data.draw(st.booleans()) else robot.lower[i] + depth
        names, effort = data.draw(requests(robot))
        t += DT
        res = mon.tick(t, TorqueRequest(tuple(names), effort, t), state(robot, q, dq, t))
        assume(res.mode in (Mode.ACTIVE, Mode.HOLD, Mode.STOPPING))
        dyn.set_state(q, dq)
        bias = dyn.bias_torque()
        tol = 1e-9
        upper = q > robot.upper - zone
        lower = q < robot.lower + zone
        # net of gravity/Coriolis (what accelerates the joint), never towards the limit
        assert np.all(res.torque[upper] <= np.maximum(bias, -mon.limit)[upper] + tol)
        assert np.all(res.torque[lower] >= np.minimum(bias, mon.limit)[lower] - tol)

    check()


def test_output_rate_never_exceeds_the_rate_limit(robot, config):
    @PROPS
    @given(data=st.data())
    def check(data):
        q = robot.home + data.draw(arrays(np.float64, robot.n, elements=st.floats(-0.05, 0.05)))
        q = np.clip(q, robot.lower, robot.upper)
        mon = SafetyMonitor(robot, config)
        t = 0.0
        first = mon.tick(t, None, state(robot, q, np.zeros(robot.n), t))
        # the property is about the rate limit alone: no Cartesian barrier acting at this pose
        assume(not any(e.type in ("self_collision", "workspace") for e in first.events))
        mon.enable()
        prev = first.torque
        for _ in range(data.draw(st.integers(2, 30))):
            t += DT
            names, effort = data.draw(requests(robot))
            gap = data.draw(st.sampled_from([None, None, 0.0, 0.05]))
            req = None if gap is None else TorqueRequest(tuple(names), effort, t - gap)
            res = mon.tick(t, req, state(robot, q, np.zeros(robot.n), t))
            if res.mode in (Mode.STOPPED, Mode.FAULT):
                break
            step = np.abs(res.torque - prev)
            assert np.all(step <= mon.rate * DT * (1 + 1e-9) + 1e-9), step.max()
            prev = res.torque

    check()


# ---------------------------------------------------------------------------- behaviours
def test_requests_are_rejected_with_a_reason(robot, config):
    mon, t = active_monitor(robot, config)
    good = np.full(robot.n, 0.1)
    cases = {
        "non-finite": lambda t: TorqueRequest(
            robot.names, np.where(np.arange(robot.n) == 3, np.nan, good), t),
        "wrong joint names": lambda t: TorqueRequest(("left_knee",) + robot.names[1:], good, t),
        "wrong length": lambda t: TorqueRequest(robot.names[:10], good[:10], t),
        "out of date": lambda t: TorqueRequest(robot.names, good, t - 1.0),
        "no stamp": lambda t: TorqueRequest(robot.names, good, 0.0),
    }
    for expected, make in cases.items():
        t += 1.5  # past the event repeat interval, so each rejection is published
        res = mon.tick(t, make(t), state(robot, robot.home, np.zeros(robot.n), t))
        rejected = [e for e in res.events if e.type == "request_rejected"]
        assert rejected and expected in rejected[0].reason, (expected, res.events)
    assert mon.mode == Mode.HOLD  # no valid request: the timeout took it to HOLD
    assert mon.counts["request_rejected"] == len(cases)
    t += 3
    res = mon.tick(t, cases["non-finite"](t), state(robot, robot.home, np.zeros(robot.n), t))
    event = json.loads([e for e in res.events if e.type == "request_rejected"][0].to_json())
    assert event["joints"] == [robot.names[3]] and event["type"] == "request_rejected"


def test_torque_and_rate_limits_clip_a_huge_request(robot, config):
    mon, t = active_monitor(robot, config)
    huge = np.full(robot.n, 1e6)
    outs = []
    for _ in range(30):
        t += DT
        res = mon.tick(t, TorqueRequest(robot.names, huge, t),
                       state(robot, robot.home, np.zeros(robot.n), t))
        outs.append(res.torque)
    outs = np.array(outs)
    assert np.all(np.abs(np.diff(outs, axis=0)) <= mon.rate * DT + 1e-9)
    assert np.allclose(outs[-1][robot.group_indices("left_arm")],
                       mon.limit[robot.group_indices("left_arm")])
    assert {"torque_limit", "rate_limit"} <= set(mon.counts)


def test_requests_stopping_means_hold_within_the_timeout(robot, config, dyn):
    mon, t = active_monitor(robot, config)
    assert mon.mode == Mode.ACTIVE
    last = t
    while mon.mode == Mode.ACTIVE:
        t += DT
        res = mon.tick(t, None, state(robot, robot.home, np.zeros(robot.n), t))
    assert t - last <= mon.request_timeout + DT
    assert any(e.type == "mode" and "no valid torque request" in e.reason for e in res.events)
    # and HOLD is gravity compensation: after settling, the output is the bias torque
    for _ in range(100):
        t += DT
        res = mon.tick(t, None, state(robot, robot.home, np.zeros(robot.n), t))
    dyn.set_state(robot.home, np.zeros(robot.n))
    arms = np.concatenate([robot.group_indices("left_arm"), robot.group_indices("right_arm")])
    np.testing.assert_allclose(res.torque[arms], dyn.bias_torque()[arms], atol=1e-6)
    # requests resuming: back to ACTIVE (still enabled), ramping from the hold torque
    t += DT
    before = res.torque
    res = mon.tick(t, TorqueRequest(robot.names, before + 5.0, t),
                   state(robot, robot.home, np.zeros(robot.n), t))
    assert res.mode == Mode.ACTIVE
    assert np.max(np.abs(res.torque - before)[arms]) < 5.0 * DT / config.ramp_time + 1e-6


def test_stale_joint_states_are_a_fault_with_torque_off(robot, config):
    mon, t = active_monitor(robot, config)
    last = t
    t += config.watchdog.joint_state_timeout + DT
    res = mon.tick(t, None, state(robot, robot.home, np.zeros(robot.n), last))
    assert res.mode == Mode.FAULT and not res.torque.any()
    assert "joint states stale" in mon.fault_reason
    ok, reason = mon.reset(t)
    assert not ok and "stale" in reason
    res = mon.tick(t + DT, None, state(robot, robot.home, np.zeros(robot.n), t + DT))
    assert res.mode == Mode.FAULT and not res.torque.any()  # still faulted until reset
    assert mon.reset(t + DT)[0]
    res = mon.tick(t + 2 * DT, TorqueRequest(robot.names, np.zeros(robot.n), t + 2 * DT),
                   state(robot, robot.home, np.zeros(robot.n), t + 2 * DT))
    assert res.mode == Mode.HOLD  # enable required after a fault


def test_estop_stops_in_one_tick_then_torque_off_and_latches(robot, config):
    mon, t = active_monitor(robot, config)
    mon.estop(True)
    t += DT
    res = mon.tick(t, TorqueRequest(robot.names, np.zeros(robot.n), t),
                   state(robot, robot.home, np.zeros(robot.n), t))
    assert res.mode == Mode.STOPPING
    start = t
    while res.mode == Mode.STOPPING:
        t += DT
        res = mon.tick(t, None, state(robot, robot.home, np.zeros(robot.n), t))
    assert res.mode == Mode.STOPPED and not res.torque.any()
    assert abs((t - start) - config.stop.stop_time) <= DT + 1e-9
    mon.estop(False)  # released, but latched until reset
    res = mon.tick(t + DT, None, state(robot, robot.home, np.zeros(robot.n), t + DT))
    assert res.mode == Mode.STOPPED
    assert not mon.enable()[0]
    mon.estop(True)
    ok, reason = mon.reset(t)
    assert not ok and "e-stop still pressed" in reason
    mon.estop(False)
    assert mon.reset(t)[0] and mon.mode == Mode.HOLD and not mon.enabled


def test_a_joint_beyond_its_hard_limit_stops_and_blocks_reset(robot, config):
    mon, t = active_monitor(robot, config)
    q = robot.home.copy()
    i = robot.index("left_elbow")
    q[i] = robot.upper[i] + 2 * config.position.hard_tolerance
    t += DT
    res = mon.tick(t, None, state(robot, q, np.zeros(robot.n), t))
    assert res.mode == Mode.STOPPING and "left_elbow" in mon.stop_reason
    ok, reason = mon.reset(t)
    assert not ok and "left_elbow" in reason


def test_foreign_publisher_is_a_fault_until_it_goes(robot, config):
    mon, t = active_monitor(robot, config)
    mon.set_foreign_publishers(["/teleop_stray"])
    t += DT
    res = mon.tick(t, None, state(robot, robot.home, np.zeros(robot.n), t))
    assert res.mode == Mode.FAULT and not res.torque.any()
    assert not mon.reset(t)[0]
    mon.set_foreign_publishers([])
    assert mon.reset(t)[0]


def test_a_late_tick_is_reported_as_an_overrun(robot, config):
    mon, t = active_monitor(robot, config)
    t += 5 * DT
    res = mon.tick(t, None, state(robot, robot.home, np.zeros(robot.n), t))
    assert mon.overruns == 1 and any(e.type == "loop_overrun" for e in res.events)


def test_config_is_strict(robot):
    with pytest.raises(ConfigError, match="unknown key"):
        from_dict(SafetyConfig, {"torque": {"limit_fraction": 0.5, "limt": 1}}, "safety.yaml")
    with pytest.raises(ConfigError, match="never exceeded"):
        from_dict(SafetyConfig, {"torque": {"limit_fraction": 1.2}}, "safety.yaml")
    # the file sets every field there is (no silent default), each with a comment above it
    text = (robot.config_path.parent / "safety.yaml").read_text()
    for name in ("limit_fraction", "rate_limit_per_s", "soft_zone", "hard_tolerance", "margin",
                 "max_age", "joint_state_timeout", "request_timeout_periods", "stop_time",
                 "ramp_time", "cartesian_kp", "cartesian_kd", "overrun_periods"):
        assert f"{name}:" in text, name
    assert load_safety_config().torque.limit_fraction <= 1.0


def test_joint_states_in_any_order_or_with_extra_joints_are_read_by_name(robot, config):
    mon, t = active_monitor(robot, config)
    reference = mon.tick(t + DT, None, state(robot, robot.home, np.zeros(robot.n), t + DT))
    perm = np.random.default_rng(0).permutation(robot.n)
    names = tuple(robot.names[i] for i in perm) + ("left_knee",)
    shuffled = JointState(names, np.append(robot.home[perm], 0.3), np.zeros(robot.n + 1),
                          t + 2 * DT)
    res = mon.tick(t + 2 * DT, None, shuffled)
    assert res.mode == reference.mode
    np.testing.assert_allclose(res.torque, reference.torque, atol=1e-9)
    missing = JointState(robot.names[1:], robot.home[1:], np.zeros(robot.n - 1), t + 3 * DT)
    res = mon.tick(t + 3 * DT, None, missing)
    assert res.mode == Mode.FAULT and not res.torque.any()
    assert "incomplete" in mon.fault_reason


def test_demo_holds_the_robot_through_the_monitor_and_reports_it():
    out = subprocess.run([sys.executable, "-m", "humanoid_manip", "demo", "--duration", "0.5"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "safety monitor: mode HOLD" in out.stdout
    assert "interventions" in out.stdout and "palm drift" in out.stdout
