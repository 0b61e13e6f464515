"""The one episode loop: drivers compose, labels and executed torques part where they should,
the privileged state is recorded and every reader accepts it, a failed episode leaves no file."""
from dataclasses import replace

import numpy as np
import pytest

from humanoid_manip.data.episode import PRIVILEGED_TOPIC, read_episode
from humanoid_manip.loop import (
    DaggerDriver,
    DartNoise,
    Driver,
    EpisodeRecorder,
    ExpertDriver,
    LoopError,
    PolicyDriver,
    TeleopExpertDriver,
    run_episode,
)
from humanoid_manip.safety import SafetyMonitor, load_safety_config
from humanoid_manip.sim import Simulation, make_task


def _sim(robot, seconds: float, render: bool, task: str = "pick_place") -> Simulation:
    t = make_task(task)
    return Simulation(make_task(task, replace(t.config, time_limit_s=seconds)), robot=robot,
                      render=render)


def _monitor(robot):
    return SafetyMonitor(robot, load_safety_config())


@pytest.fixture(scope="module")
def controller(robot):
    from humanoid_manip.teleop.config import load_teleop_config
    from humanoid_manip.teleop.controller import TeleopController

    return TeleopController(robot, load_teleop_config())


def test_privileged_state_is_recorded_and_validation_cache_and_export_accept_it(
        robot, controller, tmp_path):
    from humanoid_manip.data.cache import build_cache
    from humanoid_manip.data.lerobot_export import export_lerobot
    from humanoid_manip.data.validate import validate

    sim = _sim(robot, 0.4, render=True)  # pick_place defines its object state (17 values)
    data = tmp_path / "data"
    report = run_episode(sim, TeleopExpertDriver(controller), _monitor(robot),
                         EpisodeRecorder(data, index=0), seed=5)
    assert report.path and not (data / ".partial").exists()
    ep = read_episode(report.path, images=False)
    assert ep.counts[PRIVILEGED_TOPIC] == ep.counts["/joint_states"] == 40
    np.testing.assert_array_equal(ep.privileged_t, ep.t)
    n = sim.privileged_state().size
    assert n > 0 and ep.privileged.shape == (40, n)
    sim.reset(5)  # the first record is the reset state's
    np.testing.assert_array_equal(ep.privileged[0], sim.privileged_state())
    assert ep.metadata["made_by"]["worker"] == "local" and ep.metadata["made_by"]["host"]
    found = validate(data, robot)
    assert found.errors == [], [f.message for f in found.errors]
    assert any(f.check == "replay" for f in found.findings) or found.clean(
        report.path.split("/")[-1])
    built = build_cache(data, tmp_path / "cache", robot=robot)
    assert built.summary()
    info = export_lerobot(data, tmp_path / "lerobot", robot=robot)
    assert info["total_episodes"] == 1


def test_dart_noise_moves_what_is_executed_and_leaves_the_label(robot, controller, tmp_path):
    sim = _sim(robot, 0.3, render=False)
    clean = run_episode(sim, TeleopExpertDriver(controller), _monitor(robot),
                        EpisodeRecorder(tmp_path / "clean"), seed=2)
    noisy = run_episode(sim, DartNoise(TeleopExpertDriver(controller), 0.1), _monitor(robot),
                        EpisodeRecorder(tmp_path / "noisy"), seed=2)
    a, b = read_episode(clean.path, images=False), read_episode(noisy.path, images=False)
    np.testing.assert_array_equal(a.request[0], b.request[0])  # the same state, the same label
    assert not np.array_equal(a.command, b.command)  # noise was executed
    assert not np.array_equal(a.position[-1], b.position[-1])
    assert b.metadata["source"]["torque_noise"]["fraction_of_effort"] == 0.1
    assert b.counts["/teleop/deadman"] == b.counts["/joint_states"]  # the teleop path


def test_dagger_executes_the_policy_and_records_a_fresh_experts_label(robot, tmp_path):
    from humanoid_manip.policy import PolicyRuntime
    from humanoid_manip.policy.demo import pd_policy

    runtime = PolicyRuntime(pd_policy(robot, tasks=("pick_place",)).SerializeToString(), robot,
                            provider="cpu", task="pick_place")
    sim = _sim(robot, 0.2, render=True)
    driver = DaggerDriver(PolicyDriver(runtime, "che-test"))
    r = run_episode(sim, driver, _monitor(robot), EpisodeRecorder(tmp_path), seed=3,
                    until_success_s=0.3)
    ep = read_episode(r.path, images=False)
    assert ep.metadata["source"]["type"] == "dagger" and ep.metadata["source"]["policy"] == \
        "che-test"
    assert r.sim_time_s == pytest.approx(0.2)  # no success: the time limit ends it
    sim.reset(3)  # the first label is what a fresh expert asks at the reset state
    first = ExpertDriver()
    first.reset(sim)
    np.testing.assert_array_equal(ep.request[0], first.act(sim, None).torque)
    alone = run_episode(sim, PolicyDriver(runtime), _monitor(robot),
                        EpisodeRecorder(tmp_path / "alone"), seed=3, until_success_s=0.3)
    p = read_episode(alone.path, images=False)
    np.testing.assert_array_equal(ep.position, p.position)  # the labeler never acted
    np.testing.assert_array_equal(ep.command, p.command)
    assert not np.allclose(ep.request[-1], p.request[-1], atol=1e-3)  # but it labelled


def test_a_dagger_job_labelled_by_a_teacher_records_its_answer_at_each_visited_state(
        robot, tmp_path):
    """Distillation: the pixel student drives, the privileged-state teacher (the shipped bundle)
    only labels. A fresh teacher fed the recorded privileged and joint states gives the recorded
    labels exactly: each label is the teacher's answer at the state the student reached."""
    from pathlib import Path

    from humanoid_manip.loop.jobs import EpisodeJob, run_job
    from humanoid_manip.policy import PolicyRuntime
    from humanoid_manip.policy.demo import pd_policy

    teacher = Path(__file__).resolve().parents[1] / "policies" / "teacher.onnx"
    student = tmp_path / "student.onnx"
    student.write_bytes(pd_policy(robot, tasks=("dryer_open",)).SerializeToString())
    r = run_job(EpisodeJob("dryer_open", 3, "dagger", out_dir=str(tmp_path / "ep"),
                           policy=str(student), labeler=str(teacher), time_limit_s=0.15,
                           delay_steps=1))
    ep = read_episode(r.path, images=False)
    fresh = PolicyRuntime(teacher, robot, provider="cpu", task="dryer_open")
    assert ep.metadata["source"]["labeler"]["policy"] == fresh.contract.lineage["id"]
    assert len(ep.request) == len(ep.privileged) == 15
    labels = [fresh.step(None, ep.position[i], ep.velocity[i], ep.privileged[i])
              for i in range(len(ep.request))]
    np.testing.assert_allclose(labels, ep.request, atol=1e-6)
    assert np.abs(ep.command[::5] - ep.request).max() > 1.0  # the student's torque was executed
    with pytest.raises(ValueError, match="labeler"):
        EpisodeJob("dryer_open", 3, "policy", policy=str(student), labeler=str(teacher))


def test_dagger_hands_a_stalled_episode_to_the_expert(robot, tmp_path):
    """With stall_s, once progress has not risen for that long the labeler acts (and still
    labels), or the episode ends; before that the episode is the learner's, tick for tick."""
    from humanoid_manip.policy import PolicyRuntime
    from humanoid_manip.policy.demo import pd_policy

    runtime = PolicyRuntime(pd_policy(robot, tasks=("pick_place",)).SerializeToString(), robot,
                            provider="cpu", task="pick_place")
    sim = _sim(robot, 0.8, render=True)  # (a pixel policy: the cameras render)
    r = run_episode(sim, DaggerDriver(PolicyDriver(runtime), stall_s=0.3, on_stall="takeover"),
                    _monitor(robot),
                    EpisodeRecorder(tmp_path / "stall"), seed=3, until_success_s=0.3)
    ended = run_episode(sim, DaggerDriver(PolicyDriver(runtime), stall_s=0.1), None, None,
                        seed=3, until_success_s=0.3)
    alone = run_episode(sim, PolicyDriver(runtime), _monitor(robot),
                        EpisodeRecorder(tmp_path / "alone"), seed=3, until_success_s=0.3)
    assert r.takeover_s == pytest.approx(0.31, abs=0.011) and alone.takeover_s is None
    ep, p = read_episode(r.path, images=False), read_episode(alone.path, images=False)
    assert ep.metadata["outcome"]["takeover_s"] == pytest.approx(r.takeover_s)
    assert ep.metadata["source"]["stall"] == {"seconds": 0.3, "then": "takeover"}
    # on_stall "end" (the default): the episode ends there, after the loop's settling time
    assert ended.takeover_s is None and ended.sim_time_s == pytest.approx(0.11 + 0.5, abs=0.015)
    before = ep.t < r.takeover_s - 1e-9
    np.testing.assert_array_equal(ep.position[before], p.position[before])
    assert not np.allclose(ep.position[-1], p.position[-1], atol=1e-3)  # the expert moved it
    after = ep.command_t > r.takeover_s + 0.05
    assert np.abs(ep.command[after] - p.command[-1]).max() > 1.0  # not the learner's torque


class _Breaks(Driver):
    """Acts like the expert, then fails mid-episode."""

    def __init__(self, inner, at_s):
        self.inner, self.at_s = inner, at_s

    def reset(self, sim):
        self.inner.reset(sim)

    def act(self, sim, obs):
        if obs.t >= self.at_s:
            raise RuntimeError("worker lost")
        return self.inner.act(sim, obs)


def test_an_episode_that_fails_midway_leaves_no_file(robot, tmp_path):
    sim = _sim(robot, 0.3, render=False)
    with pytest.raises(RuntimeError, match="worker lost"):
        run_episode(sim, _Breaks(ExpertDriver(), 0.1), _monitor(robot),
                    EpisodeRecorder(tmp_path), seed=1)
    assert list(tmp_path.rglob("*")) == []


class _Diverges(Driver):
    """An expert whose world blows up at `at` s (a NaN velocity, as a bad contact gives)."""

    def __init__(self, inner: Driver, at: float):
        self.inner, self.at, self.rate_hz = inner, at, inner.rate_hz

    def reset(self, sim):
        self.inner.reset(sim)

    def act(self, sim, obs):
        action = self.inner.act(sim, obs)
        if obs.t >= self.at:  # after the state and the label were taken: the next step diverges
            sim.data.qvel[0] = np.nan
        return action


def test_a_diverged_simulation_ends_the_episode_as_a_marked_failure_in_a_valid_file(
        robot, tmp_path):
    """MuJoCo resets a diverged state (its clock to 0) and steps on: the episode must end there,
    not go on from the reset pose, and its file keep the ticks before with the reason."""
    from humanoid_manip.data.validate import validate

    sim = _sim(robot, 1.0, render=False)
    report = run_episode(sim, _Diverges(ExpertDriver(), 0.2), _monitor(robot),
                         EpisodeRecorder(tmp_path), seed=1)
    assert not report.success and report.progress == 0.0
    assert report.unstable and "diverged at 0.20" in report.unstable
    assert report.sim_time_s == pytest.approx(0.2, abs=0.005)  # its clock never went back
    assert sim.timed_out() and not sim.success()
    ep = read_episode(report.path, images=False)
    assert np.all(np.diff(ep.t) > 0) and ep.t[-1] <= 0.2 + 1e-9
    assert ep.metadata["outcome"]["unstable"] == report.unstable
    found = validate(tmp_path, robot, replay=False)
    assert found.errors == [], [f.message for f in found.errors]
    assert any("diverged" in f.message for f in found.findings)
    sim.reset(1)  # a new episode starts stable
    assert sim.unstable is None and not sim.timed_out()


class _Constant(Driver):
    def act(self, sim, obs):
        from humanoid_manip.loop import Action

        return Action(np.full(sim.robot.n, 0.5))


@pytest.mark.parametrize("delay", [0, 1, 3])
def test_delay_steps_hold_the_request_back(robot, tmp_path, delay):
    """A request reaches the monitor (here: none, the effort clip) `delay_steps` physics steps
    after the state it answers; before the first one arrives nothing is applied."""
    sim = _sim(robot, 0.02, render=False)
    r = run_episode(sim, _Constant(), None, EpisodeRecorder(tmp_path), seed=0,
                    delay_steps=delay)
    cmd = read_episode(r.path, images=False).command
    assert len(cmd) == 10 and not np.any(cmd[:delay]) and np.all(cmd[delay:] == 0.5)


def test_frozen_images_show_the_policy_the_first_frame_and_leave_the_joints_live(robot):
    """The ablation of issue 14 (`eval --freeze-images`): the driver inside sees each camera's
    first frame at every tick while the cameras and the joints move on."""
    from humanoid_manip.loop import EpisodeJob, FrozenImages

    class Seeing(ExpertDriver):
        """The expert acting, keeping what it was shown."""

        def __init__(self):
            super().__init__()
            self.seen = []

        def act(self, sim, obs):
            self.seen.append((obs.position.copy(), {k: v.copy() for k, v in obs.images.items()}))
            return super().act(sim, obs)

    runs = {}
    for frozen in (False, True):
        sim = _sim(robot, 0.5, render=True)
        inner = Seeing()
        run_episode(sim, FrozenImages(inner) if frozen else inner, _monitor(robot), seed=3)
        runs[frozen] = inner.seen
    live, frozen = runs[False], runs[True]
    assert len(live) == len(frozen) == 50
    cam = robot.camera_names[0]
    assert not np.array_equal(live[0][1][cam], live[-1][1][cam])  # the camera sees the arm move
    for (q, images), (q_live, _) in zip(frozen, live):
        np.testing.assert_array_equal(q, q_live)  # the expert ignores images: the same episode
        for c in robot.camera_names:
            np.testing.assert_array_equal(images[c], frozen[0][1][c])
    with pytest.raises(ValueError, match="freeze_images"):
        EpisodeJob("pick_place", 0, "expert", freeze_images=True)

    # "next_seed": the first frame of another layout, the next seed's, at every tick
    sim = _sim(robot, 0.1, render=True)
    inner = Seeing()
    run_episode(sim, FrozenImages(inner, "next_seed"), _monitor(robot), seed=3)
    with Simulation("pick_place", seed=4, robot=robot) as other:
        next_first = other.render()
    for c in robot.camera_names:
        assert not np.array_equal(next_first[c], frozen[0][1][c])  # the bottle is elsewhere
        for _, images in inner.seen:
            np.testing.assert_array_equal(images[c], next_first[c])
    with pytest.raises(LoopError, match="scene"):
        FrozenImages(inner, "yesterday")
