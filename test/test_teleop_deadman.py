"""The teleop path against the simulation: without the deadman heartbeat it holds; with it,
the palms follow a moving wrist target with under 2 cm error at steady state."""
import numpy as np
import pytest

from humanoid_manip.control import WristIK
from humanoid_manip.sim import Simulation
from humanoid_manip.teleop import synthetic
from humanoid_manip.teleop.config import load_teleop_config
from humanoid_manip.teleop.controller import TeleopController
from humanoid_manip.teleop.types import HandSample, TeleopInput


@pytest.fixture(scope="module")
def run():
    """Drive the right palm along a moving target for 6 s; heartbeat only in [1.5, 4.5) s."""
    sim = Simulation("pick_place", seed=0, render=False)
    robot = sim.robot
    ctl = TeleopController(robot, load_teleop_config())
    ctl.reset(sim.joint_state().position)
    site = sim.model.site("right_palm").id
    p0 = sim.data.site_xpos[site].copy()
    quat = WristIK.home_quat(robot, "right")
    kp = synthetic.keypoints(synthetic.OPEN, "right")
    every = int(round(robot.rates.physics_hz / robot.rates.policy_hz))
    device_every = int(round(robot.rates.physics_hz / 30.0))  # a 30 Hz device
    log = {"t": [], "palm": [], "target": [], "q_des": []}
    tau = None
    for k in range(int(6.0 * robot.rates.physics_hz)):
        t = sim.time
        w = 2 * np.pi * 0.25
        target = p0 + np.array([0.06 * np.sin(w * t), 0.06 * (1 - np.cos(w * t)),
                                0.04 * np.sin(0.5 * w * t)])
        if k % device_every == 0:
            ctl.feed(TeleopInput(t, {"right": HandSample(target, quat, kp)},
                                 deadman=1.5 <= t < 4.5))
        if k % every == 0:
            js = sim.joint_state()
            tau = ctl.torque(t, js.position, js.velocity)
        sim.step(tau)
        log["t"].append(sim.time)
        log["palm"].append(sim.data.site_xpos[site].copy())
        log["target"].append(target)
        log["q_des"].append(ctl.q_des.copy())
    return {k: np.array(v) for k, v in log.items()}, p0


def window(log, a, b):
    return (log["t"] >= a) & (log["t"] < b)


def test_without_heartbeat_the_robot_holds(run):
    log, p0 = run
    before = window(log, 0.0, 1.5)
    drift = np.linalg.norm(log["palm"][before] - p0, axis=1).max()
    assert drift < 0.002, f"palm moved {drift * 1000:.1f} mm while the target moved 6 cm"
    assert np.ptp(log["q_des"][before], axis=0).max() == 0.0  # the command holds


def test_with_heartbeat_the_palm_tracks_within_2cm(run):
    log, _ = run
    steady = window(log, 2.5, 4.5)  # 1 s after engaging
    err = np.linalg.norm(log["palm"][steady] - log["target"][steady], axis=1)
    print(f"tracking error at steady state: mean {err.mean() * 1000:.1f} mm, "
          f"max {err.max() * 1000:.1f} mm")
    assert err.max() < 0.02
    moved = np.ptp(log["palm"][steady], axis=0).max()
    assert moved > 0.05  # it really followed


def test_releasing_the_heartbeat_holds_still_again(run):
    log, _ = run
    after = window(log, 4.5 + 0.3 + 0.2, 6.0)  # timeout 0.3 s, then 0.2 s to stop
    drift = np.linalg.norm(log["palm"][after] - log["palm"][after][0], axis=1).max()
    assert drift < 0.005, f"palm kept moving {drift * 1000:.1f} mm after the release"
