"""The simulation core: torque validation, measured joint states, camera timing and images."""
from __future__ import annotations

import numpy as np
import pytest

from humanoid_manip.errors import HumanoidManipError, UnknownNameError
from humanoid_manip.sim import RenderError, Simulation, SimulationError, TorqueError, make_task


@pytest.fixture(scope="module")
def sim():
    s = Simulation("pick_place", seed=0, render=True)
    yield s
    s.close()


def test_unknown_task_lists_the_valid_names():
    with pytest.raises(UnknownNameError) as err:
        Simulation("dryer_opne", seed=0, render=False)
    assert "dryer_open" in str(err.value) and "pick_place" in str(err.value)
    with pytest.raises(UnknownNameError):
        make_task("nope")


@pytest.mark.parametrize("bad", [np.zeros(47), np.zeros(49), np.zeros((48, 1)), []])
def test_torque_of_the_wrong_length_is_refused(sim, bad):
    t = sim.time
    with pytest.raises(TorqueError, match="48 values in canonical joint order"):
        sim.step(bad)
    assert sim.time == t


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_torque_with_nan_or_inf_is_refused_naming_the_joint(sim, value):
    tau = np.zeros(sim.robot.n)
    tau[5] = value
    with pytest.raises(TorqueError, match=sim.robot.names[5]):
        sim.step(tau)
    assert issubclass(TorqueError, HumanoidManipError)


def test_bad_seed_is_refused(sim):
    with pytest.raises(SimulationError):
        sim.reset(-1)


def test_step_advances_500hz_and_reports_the_applied_torque(sim):
    sim.reset(0)
    tau = np.zeros(sim.robot.n)
    tau[0] = 5.0
    tau[3] = 1e6  # far past the elbow's limit: MuJoCo clips to the effort limit
    sim.step(tau)
    assert sim.time == pytest.approx(1 / 500)
    effort = sim.joint_state().effort
    assert effort[0] == pytest.approx(5.0)
    assert effort[3] == pytest.approx(sim.robot.effort_limit[3])


def test_cameras_are_due_at_30hz(sim):
    sim.reset(0)
    frames = 0
    for _ in range(500):  # one simulated second
        if sim.camera_due():
            frames += 1
        sim.step(np.zeros(sim.robot.n))
    assert frames in (30, 31)


def test_render_gives_three_rgb_images_at_the_robot_image_size(sim):
    images = sim.render()
    assert set(images) == {"head_camera", "left_wrist_camera", "right_wrist_camera"}
    h, w = sim.robot.image.height, sim.robot.image.width
    for img in images.values():
        assert img.shape == (h, w, 3) and img.dtype == np.uint8
        assert img.std() > 1.0  # not a blank frame
    again = sim.render()
    assert all(np.array_equal(images[k], again[k]) for k in images)


def test_render_disabled_is_a_clear_error():
    s = Simulation("pick_place", seed=0, render=False)
    with pytest.raises(RenderError, match="render=False"):
        s.render()


def test_configurable_image_size():
    s = Simulation("pick_place", seed=0, image_size=(64, 48))
    assert s.render()["head_camera"].shape == (48, 64, 3)
    s.close()
