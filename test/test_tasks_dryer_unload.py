"""dryer_unload: the referee on hand-placed cloth (in the basket, on its rim), and the expert."""
from __future__ import annotations

import mujoco
import numpy as np
import pytest

from humanoid_manip.loop import run_expert
from humanoid_manip.sim import Simulation
from humanoid_manip.sim.tasks._dryer import door_angle
from humanoid_manip.sim.tasks.dryer_unload import BASKET_INNER


@pytest.fixture(scope="module")
def sim():
    s = Simulation("dryer_unload", seed=1, render=False)
    yield s
    s.close()


def _move_piece(sim, k: int, delta: np.ndarray) -> None:
    """Translate piece k rigidly by a world offset, through its vertices' slide joints."""
    m, d = sim.model, sim.data
    f = sim.task.flex[k]
    for b in m.flex_vertbodyid[m.flex_vertadr[f]:m.flex_vertadr[f] + m.flex_vertnum[f]]:
        j0, nj = m.body_jntadr[b], m.body_jntnum[b]
        axes = np.array([d.xmat[b].reshape(3, 3) @ m.jnt_axis[j] for j in range(j0, j0 + nj)])
        step = np.linalg.solve(axes.T, delta)
        d.qpos[m.jnt_qposadr[j0:j0 + nj]] += step
    mujoco.mj_forward(m, d)


def _put_all(sim, where) -> None:
    for k in range(len(sim.task.pieces)):
        v = sim.task.vertices(sim.model, sim.data, k)
        _move_piece(sim, k, where(k) - v.mean(axis=0))


def test_episode_starts_with_the_door_open_and_clothes_in_the_drum(sim):
    sim.reset(1)
    t = sim.task
    lo, hi = t.config.pieces
    assert lo <= len(t.pieces) <= hi and t.model_has_flex(sim.model)
    assert door_angle(sim.model, sim.data) > np.deg2rad(100)
    for k in range(len(t.pieces)):
        assert t.vertices(sim.model, sim.data, k)[:, 0].min() > t.layout.front_x
    assert not sim.success() and sim.progress() < 0.05


def test_privileged_state_follows_each_piece_into_the_basket(sim):
    """The teacher's view: a fixed-length vector, a slot per piece (empty slots zero), whose
    centre and basket share move with the cloth."""
    from humanoid_manip.sim.tasks.base import TASK_PRIVILEGED_SIZE
    from humanoid_manip.sim.tasks.dryer_unload import MAX_PIECES

    sim.reset(1)
    t = sim.task
    n = len(t.pieces)
    v = t.privileged_state(sim.model, sim.data)
    assert v.shape == (MAX_PIECES * 8 + 9,) and v.size <= TASK_PRIVILEGED_SIZE
    np.testing.assert_array_equal(sim.privileged_state()[-v.size:], v)  # after the palms
    slots = v[:MAX_PIECES * 8].reshape(MAX_PIECES, 8)
    assert np.all(slots[:n, 0] == 1.0) and np.all(slots[n:] == 0.0)
    np.testing.assert_allclose(slots[0, 1:4], t.vertices(sim.model, sim.data, 0).mean(0))
    assert np.all(slots[:n, 4] > t.layout.front_x) and np.all(slots[:n, 7] == 0.0)  # in the drum
    np.testing.assert_allclose(v[-2], door_angle(sim.model, sim.data))
    inside = np.array([*t.basket_center, t.basket_floor + 0.01])
    _put_all(sim, lambda k: inside + [0, 0, 0.01 * k])
    moved = t.privileged_state(sim.model, sim.data)[:MAX_PIECES * 8].reshape(MAX_PIECES, 8)
    np.testing.assert_allclose(moved[:n, 1:3], np.tile(t.basket_center, (n, 1)), atol=1e-6)
    assert np.all(moved[:n, 7] == 1.0)


def test_cloth_in_the_basket_counts_and_on_its_rim_does_not(sim):
    sim.reset(1)
    t = sim.task
    inside = np.array([*t.basket_center, t.basket_floor + 0.01])
    _put_all(sim, lambda k: inside + [0, 0, 0.01 * k])
    assert sim.success() and sim.progress() == 1.0
    # the last piece straddling the basket's near wall at rim height: half in, half out
    rim = np.array([t.basket_center[0] - BASKET_INNER[0] / 2, t.basket_center[1],
                    t.basket_rim + 0.01])
    last = len(t.pieces) - 1
    _move_piece(sim, last, rim - t.vertices(sim.model, sim.data, last).mean(axis=0))
    assert not sim.success()
    assert 0.0 < sim.progress() < 1.0


def test_cloth_does_not_touch_other_cloth_but_does_touch_the_world(sim):
    m = sim.model
    for f in sim.task.flex:
        assert m.flex_contype[f] & m.flex_conaffinity[f] == 0  # no cloth-cloth pairs
        assert m.flex_conaffinity[f] & 1  # the world's geoms (contype 1)


@pytest.mark.slow
def test_expert_unloads_every_piece(sim):
    r = run_expert(sim, 4)
    assert r.success, r


@pytest.mark.slow
def test_an_expert_built_mid_episode_finishes_the_task(sim):
    """The takeover test, fast: the expert until 1 s (curling on the first piece), 0.5 s of noise
    on its torque, then a new expert that knows nothing of the first unloads the rest."""
    r = run_expert(sim, 4, takeover_after=1.0)
    assert r.takeover_s == pytest.approx(1.5, abs=0.011)
    assert r.success, r


def test_the_expert_decides_from_the_state_alone(sim):
    """Mid-drag, an expert that has run the episode so far and a new one choose the same mode
    and the same palm targets (the grips agree to within the new one's first ramp step)."""
    sim.reset(4)
    old = sim.task.expert(sim)
    for _ in range(575):  # 1.15 s: dragging the first piece out over the lip
        sim.step(old.act(sim))
    new = sim.task.expert(sim)
    a, b = old.command(sim), new.command(sim)
    assert old.mode == new.mode == "drag"
    for side in ("left", "right"):
        np.testing.assert_allclose(a.palms[side].position, b.palms[side].position)
        if a.palms[side].quat is not None:
            np.testing.assert_allclose(a.palms[side].quat, b.palms[side].quat)
        np.testing.assert_allclose(a.hands[side], b.hands[side], atol=0.05)


def test_an_open_hand_stopped_short_of_the_floor_rakes_where_it_is(sim):
    """A palm held open 1.5 cm above its rake spot and 4 cm astray of it (where a learner
    hovers) is low enough to rake: a fresh expert curls there instead of
    lifting out and coming in again, and presses down while it curls."""
    from humanoid_manip.sim.tasks._reactive import PalmHandCommand
    from humanoid_manip.sim.tasks.dryer_open import PARKED
    from humanoid_manip.sim.tasks.dryer_unload import PRESSED_Z, RAKE_REACH, RakeExpert

    class Hover(RakeExpert):
        """The expert's way in, then the open palm held still at `hover` (relative to the lip)."""

        def decide(self, sim, mode):
            return "hover" if mode == "hover" or super().decide(sim, mode) == "press" else "reach"

        def steer(self, sim, mode):
            if mode != "hover":
                return super().steer(sim, mode)
            h = self.hand
            return PalmHandCommand(
                {h: self.toward(sim, h, self.world(hover), self.down),
                 self.other: self.park(sim, self.other, PARKED[self.other])},
                {h: self.grip(sim, h, "power", 0.0),
                 self.other: self.grip(sim, self.other, "power", 0.0)})

    sim.reset(4)
    e = Hover(sim)
    spot = e.rake_spot(e.target_piece(sim))
    hover = spot + [0.0, 0.04, 0.015]
    assert np.linalg.norm((hover - spot)[:2]) < RAKE_REACH and hover[2] < PRESSED_Z
    for _ in range(1000):  # 2 s: in over the lip, then down to the hover point
        sim.step(e.act(sim))
    r = e.rel(e.palm(sim, e.hand)[0])
    assert e.mode == "hover" and np.linalg.norm(r - hover) < 0.01, r - hover
    fresh = sim.task.expert(sim)
    cmd = fresh.command(sim)
    assert fresh.mode == "rake"
    assert cmd.palms[fresh.hand].position[2] < e.palm(sim, e.hand)[0][2] - 0.005  # pressing down
