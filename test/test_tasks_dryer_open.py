"""dryer_open: the referee on hand-set door angles, the magnetic latch, structural randomness,
the re-entrant expert (taking over mid-pull, re-hooking a door left partly open) and the
privileged state."""
from __future__ import annotations

import mujoco
import numpy as np
import pytest

from humanoid_manip.control.command import PalmHandCommand
from humanoid_manip.loop import run_expert
from humanoid_manip.sim import Simulation
from humanoid_manip.sim.tasks._dryer import door_angle
from humanoid_manip.sim.tasks.dryer_open import PARKED


@pytest.fixture(scope="module")
def sim():
    s = Simulation("dryer_open", seed=0, render=False)
    yield s
    s.close()


def _set_door(sim, degrees: float) -> None:
    adr = sim.model.jnt_qposadr[sim.model.joint("door_hinge").id]
    sim.data.eq_active[:] = 0
    sim.data.qpos[adr] = np.deg2rad(degrees)
    mujoco.mj_forward(sim.model, sim.data)


def test_door_at_80_degrees_counts_and_30_does_not(sim):
    sim.reset(0)
    assert not sim.success()
    _set_door(sim, 80.0)
    assert sim.success() and sim.progress() == 1.0
    _set_door(sim, 30.0)
    assert not sim.success() and 0.0 < sim.progress() < 1.0
    _set_door(sim, 69.0)
    assert not sim.success()


def _pull(sim, newtons: float, seconds: float) -> None:
    """Pull the handle straight towards the robot with an external force (N)."""
    body = sim.model.body("door").id
    handle = sim.data.site("handle").xpos
    force = np.array([-newtons, 0.0, 0.0])
    torque = np.cross(handle - sim.data.xipos[body], force)
    zero = np.zeros(sim.robot.n)
    hold = sim.robot.home
    for _ in range(int(seconds * 500)):
        sim.data.xfrc_applied[body, :3] = force
        sim.data.xfrc_applied[body, 3:] = torque
        js = sim.joint_state()  # keep the robot still, away from the door
        sim.step(np.clip(sim.robot.kp * (hold - js.position) - sim.robot.kd * js.velocity
                         + sim.data.qfrc_bias[sim.index.dof], -sim.robot.effort_limit,
                         sim.robot.effort_limit) + zero)


@pytest.mark.parametrize("seed", [0, 2])
def test_latch_holds_below_its_threshold_and_releases_above(sim, seed):
    sim.reset(seed)
    threshold = sim.task.latch_force
    assert 10.0 <= threshold <= 30.0
    _pull(sim, 0.7 * threshold, 1.0)
    assert sim.task.latch.engaged(sim.data)
    assert door_angle(sim.model, sim.data) < np.deg2rad(1.0)
    _pull(sim, 1.4 * threshold, 0.5)
    assert not sim.task.latch.engaged(sim.data)
    assert door_angle(sim.model, sim.data) > np.deg2rad(5.0)


def test_hinge_side_and_wall_vary_across_seeds():
    layouts = {}
    for seed in range(12):
        s = Simulation("dryer_open", seed=seed, render=False)
        lay = s.task.layout
        axis = s.model.jnt_axis[s.model.joint("door_hinge").id]
        assert axis[2] == lay.hinge_sign  # the model really has its hinge on that side
        has_wall = mujoco.mj_name2id(s.model, mujoco.mjtObj.mjOBJ_GEOM, "side_wall") >= 0
        assert has_wall == lay.wall
        if has_wall:  # the wall stands beside the cabinet on the hinge side
            wall_y = s.model.geom_pos[s.model.geom("side_wall").id][1]
            assert np.sign(wall_y - lay.center_y) == -lay.hinge_sign
        assert s.task.conditions() == {"hinge": "right" if lay.hinge_sign > 0 else "left",
                                       "wall": "wall" if lay.wall else "no wall"}
        layouts[seed] = (lay.hinge_sign, lay.wall)
    assert {h for h, _ in layouts.values()} == {-1, 1}
    assert {w for _, w in layouts.values()} == {False, True}


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 3])
def test_expert_opens_the_door(sim, seed):
    r = run_expert(sim, seed)
    assert r.success, r


def test_the_magnet_catches_the_door_when_it_is_shut_again(sim):
    sim.reset(0)
    _pull(sim, 1.5 * sim.task.latch_force, 0.5)
    assert not sim.task.latch.engaged(sim.data)
    adr = sim.model.jnt_qposadr[sim.model.joint("door_hinge").id]
    sim.data.qpos[adr] = 0.0  # shut by hand
    sim.data.qvel[sim.model.jnt_dofadr[sim.model.joint("door_hinge").id]] = 0.0
    _pull(sim, 0.0, 0.01)
    assert sim.task.latch.engaged(sim.data)


def _run(sim, expert, until_s: float, stop=None) -> list[str]:
    """Step `expert` until the episode's time `until_s`, its end or `stop(sim)`; its modes."""
    modes = []
    while sim.time < until_s and not expert.done(sim) and not (stop and stop(sim)):
        sim.step(expert.act(sim))
        if not modes or modes[-1] != expert.mode:
            modes.append(expert.mode)
    return modes


@pytest.mark.parametrize("seed", [1, 4])  # a right hinge; a left one with its wall
def test_an_expert_built_mid_pull_keeps_pulling_and_opens_the_door(sim, seed):
    sim.reset(seed)
    first = sim.task.expert(sim)
    _run(sim, first, 6.0, stop=lambda s: door_angle(s.model, s.data) > np.deg2rad(25.0))
    assert first.mode == "pull" and not sim.success()
    fresh = sim.task.expert(sim)  # knows nothing of the first: it reads the hook off the state
    modes = _run(sim, fresh, sim.task.time_limit_s)
    assert modes[0] == "pull", modes
    assert sim.success() and fresh.done(sim), modes


def test_a_door_left_partly_open_is_hooked_again_at_its_angle_and_opened(sim):
    """The hand away, the door ajar and unlatched: approach and hook in the door's frame."""
    sim.reset(5)
    expert = sim.task.expert(sim)
    d = sim.data
    while sim.time < 0.8:  # the working hand back to its parking spot, clear of the door
        js = sim.joint_state()
        cmd = PalmHandCommand({s: expert.park(sim, s, PARKED[s]) for s in ("left", "right")})
        q_des = expert.tracker.targets(js.position, cmd)
        sim.step(expert.tracker.torque(js.position, js.velocity, q_des,
                                       d.qfrc_bias[sim.index.dof]))
    _set_door(sim, 40.0)
    assert not sim.task.latch.engaged(d)
    fresh = sim.task.expert(sim)
    modes = _run(sim, fresh, sim.time + 6.0)
    assert modes[0] == "reach" and {"insert", "curl", "pull"} <= set(modes), modes
    assert sim.success(), modes


def test_privileged_state_is_the_door_and_layout_a_camera_could_see(sim):
    from humanoid_manip.sim.tasks.base import TASK_PRIVILEGED_SIZE
    sim.reset(3)
    _set_door(sim, 30.0)
    v = sim.task.privileged_state(sim.model, sim.data)
    np.testing.assert_array_equal(sim.privileged_state()[-v.size:], v)  # after the palms
    lay = sim.task.layout
    assert v.shape == (18,) and v.shape[0] <= TASK_PRIVILEGED_SIZE and np.all(np.isfinite(v))
    assert v[0] == pytest.approx(np.deg2rad(30.0)) and v[2] == 0.0  # angle; latch let go
    np.testing.assert_allclose(v[3:6], sim.data.site("handle").xpos)
    np.testing.assert_allclose(v[6:9], lay.hinge)
    assert v[12] == lay.hinge_sign and v[15] == float(lay.wall)
    assert sim.task.latch_force not in v  # a hidden parameter stays hidden
