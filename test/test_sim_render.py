"""The cheap render path draws exactly what mujoco.Renderer draws, and a seed fixes the images."""
from __future__ import annotations

import mujoco
import numpy as np
import pytest

from humanoid_manip.sim import Simulation
from humanoid_manip.sim.core import NUM_STACKS
from humanoid_manip.sim.render import CameraRenderer


def _move(sim: Simulation, steps: int, phase: float) -> None:
    """Swing every joint about home (joint PD + gravity), so the cameras see changing scenes."""
    robot, data, idx = sim.robot, sim.data, sim.index
    for _ in range(steps):
        q, dq = data.qpos[idx.qpos], data.qvel[idx.dof]
        target = robot.home + 0.3 * np.sin(2.0 * data.time + phase + np.arange(robot.n))
        sim.step(np.clip(robot.kp * (target - q) - robot.kd * dq + data.qfrc_bias[idx.dof],
                         -robot.effort_limit, robot.effort_limit))


@pytest.mark.parametrize("task", ["pick_place", "dryer_unload"])  # rigid; cloth (flex)
def test_culled_render_matches_mujoco_renderer_bit_for_bit(task):
    sim = Simulation(task, seed=2, render=False)
    model = sim.model
    assert model.vis.quality.numstacks == NUM_STACKS and model.vis.quality.shadowsize == 0
    cams = {n: mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, n) for n in sim.camera_names}
    fast = CameraRenderer(96, 96)
    model.vis.quality.shadowsize = 4096  # the reference keeps MuJoCo's shadow map
    ref = mujoco.Renderer(model, 96, 96)
    model.vis.quality.shadowsize = 0
    culled = 0
    try:
        for k in range(4):
            _move(sim, 120, phase=k)
            images = fast.render(model, sim.data, cams)
            culled += fast.culled
            for name in cams:
                ref.update_scene(sim.data, camera=name)
                assert np.array_equal(images[name], ref.render()), (task, k, name)
    finally:
        ref.close()
        fast.close()
    assert culled > 0  # the wrist cameras see a part of the scene: geoms were dropped


def test_reset_keeps_the_gl_context_and_a_seed_still_fixes_the_images():
    a = Simulation("dryer_open", seed=0)
    a.render()
    renderer = a._renderer
    a.reset(5)
    again = a.render()
    assert a._renderer is renderer  # one GL context for the Simulation's life
    b = Simulation("dryer_open", seed=5)
    fresh = b.render()
    assert all(np.array_equal(again[k], fresh[k]) for k in fresh)
    a.close()
    b.close()
    a.close()  # twice is harmless
