"""Closed loop in MuJoCo: a policy of random full-effort torques, with and without the monitor.

The robot-alone model at 500 Hz physics; the "policy" draws every joint's torque as ±(URDF
effort limit) with a random sign every 10 ms (a 100 Hz policy period) for 60 simulated seconds.
With the monitor in ACTIVE (it never stops or holds: the test checks that), no joint goes past
its URDF limit by more than LIMIT_TOLERANCE and no two robot bodies touch; without it both
happen within seconds, so the test can fail.

LIMIT_TOLERANCE is 1e-3 rad: MuJoCo's joint-limit constraint is soft (solref 0.02 s), so a
joint resting against its limit under gravity sits a fraction of a milliradian past it; the
raw policy drives joints about 0.6 rad past their limits, far beyond any tolerance.
"""
import mujoco
import numpy as np
import pytest

from humanoid_manip.robot import RobotIndex
from humanoid_manip.safety import (
    JointState,
    Mode,
    SafetyMonitor,
    TorqueRequest,
    load_safety_config,
)

pytestmark = pytest.mark.slow

SECONDS = 60.0
POLICY_EVERY = 5  # physics steps per policy sample: 10 ms at 500 Hz
LIMIT_TOLERANCE = 1e-3  # rad, see the module docstring


def run(robot, model, with_monitor: bool, seconds: float, seed: int = 0):
    data = mujoco.MjData(model)
    idx = RobotIndex.of(model, robot)
    data.qpos[idx.qpos] = robot.home
    mujoco.mj_forward(model, data)
    rng = np.random.default_rng(seed)
    monitor = SafetyMonitor(robot, load_safety_config()) if with_monitor else None
    worst = np.zeros(robot.n)
    contacts, first_contact, modes = 0, None, set()
    request = None
    torque = np.zeros(robot.n)

    def state(t):
        return JointState(robot.names, data.qpos[idx.qpos].copy(), data.qvel[idx.dof].copy(), t)

    if monitor:
        monitor.tick(0.0, None, state(0.0))
        assert monitor.enable()[0]
    for k in range(int(seconds * robot.rates.physics_hz)):
        t = (k + 1) * model.opt.timestep  # stamps > 0: the monitor rejects a zero stamp
        if k % POLICY_EVERY == 0:
            torque = rng.choice([-1.0, 1.0], robot.n) * robot.effort_limit
            request = TorqueRequest(robot.names, torque, t)
        if monitor:
            result = monitor.tick(t, request, state(t))
            request = None
            modes.add(result.mode)
            data.ctrl[idx.actuator] = result.torque
        else:
            data.ctrl[idx.actuator] = torque
        mujoco.mj_step(model, data)
        q = data.qpos[idx.qpos]
        np.maximum(worst, np.maximum(robot.lower - q, q - robot.upper), out=worst)
        if data.ncon:  # robot alone, no floor: every contact is robot against robot
            contacts += 1
            if first_contact is None:
                c = data.contact[0]
                first_contact = (round(data.time, 3), model.body(model.geom_bodyid[c.geom1]).name,
                                 model.body(model.geom_bodyid[c.geom2]).name)
    return worst, contacts, first_contact, modes, monitor


def test_without_the_monitor_random_full_torques_break_limits_and_collide(robot, robot_model):
    worst, contacts, first_contact, _, _ = run(robot, robot_model, False, 10.0)
    j = int(np.argmax(worst))
    print(f"\nwithout monitor (10 s): {robot.names[j]} {worst[j]:.3f} rad past its limit; "
          f"{contacts} steps in contact, first {first_contact}")
    assert worst.max() > 10 * LIMIT_TOLERANCE
    assert contacts > 0


def test_with_the_monitor_no_joint_passes_its_limit_and_nothing_touches(robot, robot_model):
    worst, contacts, first_contact, modes, monitor = run(robot, robot_model, True, SECONDS)
    j = int(np.argmax(worst))
    print(f"\nwith monitor ({SECONDS:g} s): worst {robot.names[j]} {worst[j]:.2e} rad past its "
          f"limit; {contacts} steps in contact; interventions {dict(monitor.counts)}")
    assert modes == {Mode.ACTIVE}, modes  # it limited the policy, it never had to stop it
    assert worst.max() <= LIMIT_TOLERANCE, (robot.names[j], worst[j])
    assert contacts == 0, first_contact
    assert monitor.counts["self_collision"] > 0 and monitor.counts["position_soft_limit"] > 0
