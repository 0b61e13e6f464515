"""zip_bag_open as a registered task: config, randomization by seed, success and progress."""
from __future__ import annotations

import mujoco
import numpy as np
import pytest

from humanoid_manip.sim import Simulation, task_names
from humanoid_manip.sim.tasks.zip_bag_open import (
    MOUTH_WIDTH_TO_SUCCEED,
    SEAL_VERTS,
    ZipBagConfig,
    ZipBagOpen,
)


@pytest.fixture(scope="module")
def sim():
    s = Simulation("zip_bag_open", seed=3, render=False)
    yield s
    s.close()


def test_registered_with_its_config():
    assert "zip_bag_open" in task_names()
    task = ZipBagOpen()
    assert isinstance(task.config, ZipBagConfig)
    assert task.describe()["name"] == "zip_bag_open"
    lo, hi = task.config.seal_strength_n_per_m
    assert 0 < lo <= hi


def test_episode_starts_closed_with_the_dates_inside(sim):
    task = sim.task
    assert task.open_fraction(sim.data) == 0.0
    assert sim.progress() == 0.0 and not sim.success()
    assert task.bag.dates_inside(sim.data).all()
    assert len(task.bag.lip_top) == SEAL_VERTS - 2
    c = task.config
    assert c.dates[0] <= task.params.n_dates <= c.dates[1]
    assert c.seal_strength_n_per_m[0] <= task.params.seal_strength_n_per_m
    assert task.params.seal_strength_n_per_m <= c.seal_strength_n_per_m[1]


def test_seed_fixes_the_episode_and_seeds_differ():
    a = Simulation("zip_bag_open", seed=11, render=False)
    pa, qa = a.task.params, a.data.qpos.copy()
    b = Simulation("zip_bag_open", seed=11, render=False)
    assert b.task.params == pa
    np.testing.assert_array_equal(b.data.qpos, qa)
    c = Simulation("zip_bag_open", seed=12, render=False)
    assert c.task.params != pa


def test_stepping_with_the_robot_holding_still_keeps_the_bag_shut(sim):
    sim.reset(5)
    robot, idx, d = sim.robot, sim.index, sim.data
    for _ in range(300):
        q, dq = d.qpos[idx.qpos], d.qvel[idx.dof]
        sim.step(robot.kp * (robot.home - q) - robot.kd * dq + d.qfrc_bias[idx.dof])
    assert sim.task.open_fraction(d) == 0.0
    assert sim.task.bag.dates_inside(d).all()
    assert np.all(np.isfinite(d.qpos))


def _open_points(sim, points, lift):
    """Release the given seal points and raise their top-lip vertices by `lift` (m)."""
    task, m, d = sim.task, sim.model, sim.data
    for k in points:
        d.eq_active[task.bag.seal.eq_ids[k]] = 0
        body = task.bag.vert_body[task.bag.lip_top[k]]
        zjoint = m.body_jntadr[body] + 2
        d.qpos[m.jnt_qposadr[zjoint]] += lift
    mujoco.mj_forward(m, d)


def test_progress_is_the_opened_fraction_and_success_needs_a_wide_mouth(sim):
    sim.reset(7)
    seal = sim.task.bag.seal
    _open_points(sim, [2], 0.01)
    assert sim.progress() == pytest.approx(seal.segment_m[2] / seal.length_m)
    assert not sim.success()
    everything_but_one = range(1, len(seal.eq_ids))
    _open_points(sim, everything_but_one, 0.0)
    assert sim.task.open_fraction(sim.data) >= 0.8
    assert sim.task.bag.mouth_width(sim.data) < MOUTH_WIDTH_TO_SUCCEED
    assert not sim.success(), "open along the seal but the mouth is not 4 cm wide"
    _open_points(sim, [3], 0.05)
    assert sim.success() and sim.progress() == 1.0


def test_reset_closes_the_seal_again(sim):
    sim.reset(8)
    _open_points(sim, range(len(sim.task.bag.seal.eq_ids)), 0.05)
    assert sim.success()
    sim.reset(8)
    assert sim.task.open_fraction(sim.data) == 0.0 and not sim.success()


def test_the_expert_acts_with_finite_torques_in_canonical_order(sim):
    sim.reset(2)
    expert = sim.task.expert(sim)
    for _ in range(300):
        tau = expert.act(sim)
        assert tau.shape == (sim.robot.n,) and np.all(np.isfinite(tau))
        sim.step(tau)
    assert np.all(np.isfinite(sim.data.qpos))


def test_the_expert_opens_a_bag_yawed_toward_the_left_hand():
    """Seed 0 draws the largest yaw (+0.06 rad): a left hand turned with the bag (and turned in
    only 0.4 rad) put its elbow against the torso and pinched 3 cm off the tab."""
    s = Simulation("zip_bag_open", seed=0, render=False)
    assert s.task.params.yaw > 0.05
    expert = s.task.expert(s)
    while not s.timed_out() and not expert.done(s):
        s.step(expert.act(s))
    assert s.success(), f"opened {s.task.open_fraction(s.data):.2f}"
    s.close()
