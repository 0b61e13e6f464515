"""pick_place: the referee on hand-set bottle poses, and the scripted expert."""
from __future__ import annotations

import mujoco
import pytest

from humanoid_manip.loop import run_expert
from humanoid_manip.sim import Simulation
from humanoid_manip.sim.tasks.pick_place import BOWL_WALL_HEIGHT


@pytest.fixture(scope="module")
def sim():
    s = Simulation("pick_place", seed=0, render=False)
    yield s
    s.close()


def _place(sim, x, y, z) -> None:
    adr = sim.model.jnt_qposadr[sim.model.joint("object_free").id]
    sim.data.qpos[adr:adr + 7] = [x, y, z, 1, 0, 0, 0]
    mujoco.mj_forward(sim.model, sim.data)


def test_bottle_in_the_bowl_counts_and_on_its_rim_does_not(sim):
    sim.reset(0)
    t = sim.task
    bx, by = t.bowl_xy
    _place(sim, bx, by, t.table_z + 0.008 + t.height / 2)
    assert sim.success() and sim.progress() == 1.0
    # standing on the rim: its centre over the wall, its bottom at the rim's top
    _place(sim, bx + t.bowl_r + 0.004, by, t.table_z + BOWL_WALL_HEIGHT + t.height / 2)
    assert not sim.success()
    _place(sim, bx, by, t.table_z + BOWL_WALL_HEIGHT + 0.02 + t.height / 2)  # held above
    assert not sim.success()


def test_progress_grows_as_the_bottle_nears_the_bowl(sim):
    sim.reset(0)
    p0 = sim.progress()
    t = sim.task
    start = t.object_position(sim.data)
    mid = (start[:2] + t.bowl_xy) / 2
    _place(sim, mid[0], mid[1], start[2] + 0.05)
    assert sim.progress() > p0


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 5])
def test_expert_puts_the_bottle_in_the_bowl(sim, seed):
    r = run_expert(sim, seed)
    assert r.success, r


@pytest.mark.parametrize("after", [0.9, 1.6])  # the hand at the bottle; the bottle in the air
def test_an_expert_built_mid_episode_finishes_the_task(sim, after):
    """The takeover test, fast: the expert until `after`, 0.5 s of noise on its torque, then a
    new expert that knows nothing of the first continues from the state it finds."""
    r = run_expert(sim, 1_000_003, takeover_after=after)
    assert r.takeover_s == pytest.approx(after + 0.5, abs=0.011)
    assert r.success, r


def test_the_expert_decides_from_the_state_alone(sim):
    """Two experts, one new and one that has run the episode so far, give the same command:
    the label DAgger records is a function of the state it finds."""
    import numpy as np

    sim.reset(4)
    old = sim.task.expert(sim)
    for _ in range(600):  # 1.2 s: grasping
        sim.step(old.act(sim))
    new = sim.task.expert(sim)
    a, b = old.command(sim), new.command(sim)
    assert old.mode == new.mode
    for side in ("left", "right"):
        np.testing.assert_allclose(a.palms[side].position, b.palms[side].position)
        np.testing.assert_allclose(a.hands[side], b.hands[side])
