"""The monitor's geometry shortcut: skipping the collision pass when nothing can have come close.

The shortcut is only allowed to save time, never to change the output: the reach bound must
hold for every geom and site in any two configurations, and a monitor that always runs the
pass must produce bit-for-bit the same torques as one that skips it.
"""
import mujoco
import numpy as np
import pytest

from humanoid_manip.robot import RobotDynamics, RobotIndex
from humanoid_manip.safety import JointState, SafetyMonitor, TorqueRequest, load_safety_config
from humanoid_manip.safety.geometry import HORIZON, joint_reach


def test_joint_reach_bounds_how_far_every_geom_and_site_moves(robot):
    mon = SafetyMonitor(robot, load_safety_config())
    model, data = mon.model, mujoco.MjData(mon.model)
    reach = joint_reach(model)
    rng = np.random.default_rng(0)
    lo, hi = model.jnt_range[:, 0], model.jnt_range[:, 1]

    def points(qpos):
        data.qpos[:] = qpos
        mujoco.mj_kinematics(model, data)
        # every geom's bounding sphere, as its centre and six points on it
        offsets = np.concatenate([np.eye(3), -np.eye(3)])
        rim = data.geom_xpos[:, None, :] + model.geom_rbound[:, None, None] * offsets[None]
        return np.concatenate([data.geom_xpos, rim.reshape(-1, 3), data.site_xpos])

    tightest = 0.0
    for _ in range(300):
        qa = rng.uniform(lo, hi)
        # small steps (what a tick sees) and large ones
        qb = qa + rng.normal(0.0, rng.choice([0.01, 0.3]), model.nq)
        moved = np.linalg.norm(points(qb) - points(qa), axis=1).max()
        bound = reach @ np.abs(qb - qa)
        assert moved <= bound + 1e-12
        tightest = max(tightest, moved / bound)
    assert tightest > 0.2  # a bound, but not a uselessly loose one


HOLD_TICKS = 1000


def run_pair(robot, model, seconds: float, seed: int):
    """Drive the robot with random full-effort torques through a monitor, and feed the same
    states to a second monitor that never skips the geometry; return both torque streams."""
    config = load_safety_config()
    data = mujoco.MjData(model)
    idx = RobotIndex.of(model, robot)
    data.qpos[idx.qpos] = robot.home
    mujoco.mj_forward(model, data)
    rng = np.random.default_rng(seed)
    dyn = RobotDynamics(robot)
    fast, full = SafetyMonitor(robot, config), SafetyMonitor(robot, config)
    full._geometry_clear = lambda q: False
    skips = 0
    original = fast._geometry_clear

    def counting(q):
        nonlocal skips
        clear = original(q)
        skips += clear and len(out_fast) < HOLD_TICKS
        return clear

    fast._geometry_clear = counting
    out_fast, out_full = [], []
    request = None
    for k in range(int(seconds * robot.rates.physics_hz)):
        t = (k + 1) * model.opt.timestep
        state = JointState(robot.names, data.qpos[idx.qpos].copy(), data.qvel[idx.dof].copy(), t)
        if k % 5 == 0:
            # two seconds holding still with small random torques (the common tick), then
            # full-effort random torques (busy ticks: barriers, zones, velocity limits)
            noise = rng.choice([-1.0, 1.0], robot.n) * robot.effort_limit
            if k < HOLD_TICKS:
                dyn.set_state(state.position, state.velocity)
                torque = dyn.bias_torque() - 0.5 * robot.kd * state.velocity + 0.01 * noise
            else:
                torque = noise
            request = TorqueRequest(robot.names, torque, t)
        if k == 0:
            for mon in (fast, full):
                mon.tick(t, None, state)
                assert mon.enable()[0]
            continue
        a, b = fast.tick(t, request, state), full.tick(t, request, state)
        request = None
        out_fast.append(a.torque)
        out_full.append(b.torque)
        data.ctrl[idx.actuator] = a.torque
        mujoco.mj_step(model, data)
    return np.array(out_fast), np.array(out_full), skips, fast, full


@pytest.mark.slow
def test_skipping_the_geometry_changes_no_output(robot, robot_model):
    out_fast, out_full, skips, fast, full = run_pair(robot, robot_model, 8.0, seed=3)
    assert np.array_equal(out_fast, out_full)
    assert fast.counts == full.counts
    ticks = len(out_fast)
    print(f"\n{skips} of {HOLD_TICKS} ticks holding still skipped the geometry; "
          f"{ticks} ticks, interventions {dict(fast.counts)}")
    # both sides were exercised: barriers acted, and holding still skipped the pass
    assert fast.counts["self_collision"] > 0 and fast.counts["position_soft_limit"] > 0
    assert skips > 0.9 * HOLD_TICKS


def test_clearance_is_measured_up_to_the_horizon(robot):
    mon = SafetyMonitor(robot, load_safety_config())
    q = np.clip(robot.home, robot.lower + 0.15, robot.upper - 0.15)
    mon.tick(0.001, None, JointState(robot.names, q, np.zeros(robot.n), 0.001))
    # at home the upper arms hang a few cm from the torso: a clearance, but under the horizon
    assert 0.0 < mon._clearance < HORIZON
    assert np.array_equal(mon._geometry_q, q)
