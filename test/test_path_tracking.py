"""Reset motions: a joint path tracked as torque requests through the safety monitor's core.

The loop is the stack's: the tracker asks at the policy rate (100 Hz), the monitor decides every
physics step (500 Hz) and only its output reaches MuJoCo's robot. The moveit_py planning in
front of it needs a ROS 2 install; the `reset` command says so where it is missing.
"""
import mujoco
import numpy as np
import pytest

from humanoid_manip.cli import main
from humanoid_manip.control.path_tracking import JointPath, PathError, PathTracker
from humanoid_manip.robot import RobotIndex
from humanoid_manip.safety import (
    JointState,
    Mode,
    SafetyMonitor,
    TorqueRequest,
    load_safety_config,
)

POLICY_EVERY = 5  # physics steps per request: 100 Hz at 500 Hz
CLOCK0 = 1.0  # the monitor rejects zero stamps


def arm_indices(robot):
    return robot.indices(robot.groups["left_arm"] + robot.groups["right_arm"])


def reset_path(robot, q0, scaling=0.3):
    """Both arms from q0 to the start pose through a raised waypoint; hands and head follow."""
    arms = robot.groups["left_arm"] + robot.groups["right_arm"]
    ai = robot.indices(arms)
    mid = q0[ai] + 0.5 * (robot.home[ai] - q0[ai])
    mid[[0, 7]] += 0.3  # both shoulders pitched forward past the straight line
    path = JointPath.through(arms, [q0[ai], mid, robot.home[ai]], robot.velocity_limit[ai],
                             scaling)
    rest = [n for n in robot.names if n not in arms]
    ri = robot.indices(rest)
    return path.with_joints(rest, q0[ri], robot.home[ri])


def run_through_monitor(robot, model, q0, path, settle_s=1.5):
    """Track `path` from q0 in MuJoCo, every torque through SafetyMonitor; the final state."""
    data = mujoco.MjData(model)
    idx = RobotIndex.of(model, robot)
    data.qpos[idx.qpos] = q0
    mujoco.mj_forward(model, data)
    tracker = PathTracker(robot, path, q0)
    monitor = SafetyMonitor(robot, load_safety_config())

    def state(now):
        return JointState(robot.names, data.qpos[idx.qpos].copy(), data.qvel[idx.dof].copy(),
                          now)

    monitor.tick(CLOCK0, None, state(CLOCK0))
    assert monitor.enable()[0]
    dt, modes, request = model.opt.timestep, set(), None
    steps = int((path.duration + settle_s) / dt)
    for k in range(steps):
        t, now = k * dt, CLOCK0 + (k + 1) * dt
        if k % POLICY_EVERY == 0:
            request = TorqueRequest(robot.names, tracker.torque(
                t, data.qpos[idx.qpos].copy(), data.qvel[idx.dof].copy()), now)
        result = monitor.tick(now, request, state(now))
        request = None
        modes.add(result.mode)
        data.ctrl[idx.actuator] = result.torque
        mujoco.mj_step(model, data)
    return (tracker, steps * dt, data.qpos[idx.qpos].copy(), data.qvel[idx.dof].copy(), modes,
            monitor)


@pytest.mark.parametrize("start", ["zero", "arms_out"])
def test_a_path_through_the_monitor_reaches_the_start_pose(robot, robot_model, start):
    q0 = np.zeros(robot.n)  # arms hanging: the SRDF's "home", where mock hardware starts
    if start == "arms_out":
        for side in ("left", "right"):
            q0[robot.index(f"{side}_shoulder_roll")] = 0.9
            q0[robot.index(f"{side}_shoulder_pitch")] = -0.4
            q0[robot.index(f"{side}_elbow")] = 0.6
        q0[robot.index("head_pan")] = 0.5
    path = reset_path(robot, q0)
    tracker, t, q, dq, modes, monitor = run_through_monitor(robot, robot_model, q0, path)
    ai = arm_indices(robot)
    err = np.abs(q - robot.home)
    print(f"\n{start}: path {path.duration:.2f} s; arms within {err[ai].max():.5f} rad of the "
          f"start pose, every joint within {err.max():.5f} rad; monitor "
          f"{sorted(m.value for m in modes)}, {dict(monitor.counts)}")
    assert modes == {Mode.ACTIVE}  # no stop, no fault, no timeout to HOLD on the way
    assert err[ai].max() < 0.01  # both arms at the episode's start pose
    assert err.max() < 0.01  # and the hands and head, which followed on the same time base
    assert np.abs(dq).max() < 0.05  # at rest
    assert tracker.arrived(t, q, dq, tolerance=0.01)


def test_without_the_tracker_the_arms_do_not_get_there(robot, robot_model):
    """The check above can fail: the monitor alone (HOLD) keeps the arms where they hang."""
    q0 = np.zeros(robot.n)
    still = JointPath.through(robot.names, [q0, q0 + 1e-9], robot.velocity_limit)
    _, _, q, _, _, _ = run_through_monitor(robot, robot_model, q0, still, settle_s=1.0)
    assert np.abs(q - robot.home)[arm_indices(robot)].max() > 0.4


def test_the_reference_passes_through_the_waypoints_smoothly(robot):
    names = robot.groups["left_arm"]
    i = robot.indices(names)
    a, b, c = robot.home[i] * 0, robot.home[i], robot.home[i] * 0.5
    path = JointPath.through(names, [a, b, c], robot.velocity_limit[i], scaling=0.5)
    for k, q in enumerate((a, b, c)):
        np.testing.assert_allclose(path.sample(path.times[k])[0], q, atol=1e-12)
    ts = np.linspace(0, path.duration, 2001)
    speeds = np.abs(np.array([path.sample(t)[1] for t in ts]))
    assert np.all(speeds <= 0.5 * robot.velocity_limit[i] + 1e-9)  # the scaling holds
    positions = np.array([path.sample(t)[0] for t in ts])
    assert np.abs(np.diff(positions, axis=0)).max() < 0.01  # continuous, no jumps


def test_paths_that_cannot_be_followed_are_refused(robot):
    names = robot.groups["left_arm"]
    i = robot.indices(names)
    q0 = np.array(robot.home)
    path = JointPath.through(names, [q0[i], q0[i] + 0.1], robot.velocity_limit[i])
    away = q0.copy()
    away[i[3]] += 0.3
    with pytest.raises(PathError, match="left_elbow.*plan from the current state"):
        PathTracker(robot, path, away)
    beyond = JointPath.through(names, [q0[i], robot.upper[i] + 0.2], robot.velocity_limit[i])
    with pytest.raises(PathError, match="joint limits"):
        PathTracker(robot, beyond, q0)
    with pytest.raises(PathError, match="lacks"):
        PathTracker(robot, JointPath(("left_knee",), np.array([0.0, 1.0]), np.zeros((2, 1)),
                                     np.zeros((2, 1))), q0)
    with pytest.raises(PathError, match="strictly increase"):
        JointPath(("left_elbow",), np.array([0.0, 0.0]), np.zeros((2, 1)), np.zeros((2, 1)))
    with pytest.raises(PathError, match="NaN"):
        JointPath(("left_elbow",), np.array([0.0, 1.0]), np.array([[0.0], [np.nan]]),
                  np.zeros((2, 1)))


def test_reset_without_moveit_py_says_so_in_one_line_and_fails(capsys):
    assert main(["reset"]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "moveit_py" in err and "not installed" in err
