"""Episodes as jobs: a picklable description of one episode, and the worker side that runs it.

A job names everything a worker needs (task, seed, which driver, where to record, the stack's
timing), never a live object, so the same job runs in this process or as a Ray task on any
machine and gives the same episode: the simulation, the driver and a fresh safety monitor are
built from the job, and a worker's caches (robot, simulations, controllers, policy sessions)
hold nothing that one episode leaves for the next.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

from humanoid_manip.loop.episode import SUCCESS_HOLD_S, EpisodeReport, run_episode

DRIVERS = ("teleop", "expert", "takeover", "policy", "dagger")
_CACHE: dict = {}


@dataclass(frozen=True)
class EpisodeJob:
    """One episode. `driver`: "teleop" (the task's expert through the teleop path), "expert"
    (the expert acting directly), "takeover" (the expert, perturbed at `takeover_after` s, then
    a fresh one: loop.drivers.TakeoverDriver), "policy" (a policy file), "dagger" (the policy
    acts, a fresh plain expert, or the `labeler` policy file, labels every tick). Recorded into
    `out_dir` when given."""

    task: str
    seed: int
    driver: str = "teleop"
    out_dir: str | None = None
    index: int | None = None  # file name suffix (collect numbers its episodes)
    render: bool = True
    safety: bool = True  # through the safety monitor core (else clipped to the effort limits)
    delay_steps: int = 0
    torque_noise: float = 0.0  # DART, fraction of each joint's effort limit
    policy: str | bytes | None = None  # policy file (policy and dagger drivers)
    policy_id: str = ""
    time_limit_s: float | None = None  # None: config/tasks.yaml's
    until_success: bool | None = None  # None: policy-driven episodes end on held success
    video: str | None = None  # MP4 of the episode
    expert_hz: float | None = None  # the expert's own rate (None: the control rate; the
    # physics rate runs its PD every step, as `humanoid-manip expert` does)
    takeover_after: float | None = None  # takeover driver: when the perturbation starts (s)
    perturb: str = "add"  # takeover driver: noise on the expert's torque, or instead of it
    stall_s: float | None = None  # dagger driver: progress stalled so long ends the learner's turn
    on_stall: str = "end"  # dagger driver: then the episode ends, or the labeler takes over
    # dagger driver: a policy file that labels instead of the task's expert (distillation: a
    # privileged-state teacher labels what the pixel student does)
    labeler: str | bytes | None = None
    # policy driver: the cameras' first frames at every tick (the ablation); `frozen_scene`:
    # the episode's own ("own") or the next seed's ("next_seed": another layout)
    freeze_images: bool = False
    frozen_scene: str = "own"

    def __post_init__(self):
        if self.driver not in DRIVERS:
            raise ValueError(f"driver must be one of {DRIVERS}, got {self.driver!r}")
        if self.driver in ("policy", "dagger") and self.policy is None:
            raise ValueError(f"a {self.driver} job needs a policy file")
        if self.driver == "takeover" and self.takeover_after is None:
            raise ValueError("a takeover job needs takeover_after")
        if self.labeler is not None and self.driver != "dagger":
            raise ValueError(f"only a dagger job has a labeler, not a {self.driver} job")
        if self.freeze_images and (self.driver != "policy" or not self.render):
            raise ValueError("freeze_images is for a policy job with rendering on")

    @property
    def name(self) -> str:
        return f"{self.task} seed {self.seed} ({self.driver})"


def _robot():
    if "robot" not in _CACHE:
        from humanoid_manip.robot import load_robot

        _CACHE["robot"] = load_robot()
    return _CACHE["robot"]


def _sim(task: str, render: bool, time_limit_s: float | None):
    key = ("sim", task, render, time_limit_s)
    if key not in _CACHE:
        from humanoid_manip.sim import Simulation, make_task

        t = make_task(task)
        if time_limit_s is not None:
            t = make_task(task, replace(t.config, time_limit_s=float(time_limit_s)))
        _CACHE[key] = Simulation(t, seed=0, robot=_robot(), render=render)
    return _CACHE[key]


def _controller():
    if "controller" not in _CACHE:
        from humanoid_manip.teleop.config import load_teleop_config
        from humanoid_manip.teleop.controller import TeleopController

        _CACHE["controller"] = TeleopController(_robot(), load_teleop_config())
    return _CACHE["controller"]


def _monitor():
    from humanoid_manip.safety import SafetyMonitor, load_safety_config

    if "safety" not in _CACHE:
        _CACHE["safety"] = load_safety_config()
    return SafetyMonitor(_robot(), _CACHE["safety"])


def _runtime(policy: str | bytes, task: str, role: str = "learner"):
    """This process's runtime of a policy file for a task; one per role, as each keeps its own
    recurrent state (a file that both acts and labels is two runtimes)."""
    if isinstance(policy, bytes):
        ident = hashlib.sha256(policy).hexdigest()
    else:
        st = os.stat(policy)
        ident = (str(Path(policy).resolve()), st.st_mtime_ns, st.st_size)
    key = ("runtime", ident, task, role)
    if key not in _CACHE:
        from humanoid_manip.policy import PolicyRuntime

        _CACHE[key] = PolicyRuntime(policy, _robot(), provider="cpu", task=task)
    return _CACHE[key]


def make_driver(job: EpisodeJob):
    """The job's driver, built fresh (its caches: the controller, the policy session)."""
    from humanoid_manip.loop import drivers

    if job.driver == "teleop":
        driver = drivers.TeleopExpertDriver(_controller())
    elif job.driver == "expert":
        driver = drivers.ExpertDriver(job.expert_hz)
    elif job.driver == "takeover":
        driver = drivers.TakeoverDriver(job.takeover_after, job.perturb, rate_hz=job.expert_hz)
    else:
        driver = drivers.PolicyDriver(_runtime(job.policy, job.task), job.policy_id)
        if job.freeze_images:
            driver = drivers.FrozenImages(driver, job.frozen_scene)
        if job.driver == "dagger":
            labeler = (drivers.ExpertDriver() if job.labeler is None else
                       drivers.PolicyDriver(_runtime(job.labeler, job.task, "labeler")))
            driver = drivers.DaggerDriver(driver, labeler, job.stall_s, job.on_stall)
    if job.torque_noise:
        driver = drivers.DartNoise(driver, job.torque_noise)
    return driver


def run_job(job: EpisodeJob, worker: str = "", on_step=None) -> EpisodeReport:
    """Run one job in this process; the episode file (if recorded) is complete when it returns."""
    from humanoid_manip.loop.recorder import EpisodeRecorder

    sim = _sim(job.task, job.render, job.time_limit_s)
    driver = make_driver(job)
    recorder = (EpisodeRecorder(job.out_dir, job.index, worker=worker)
                if job.out_dir is not None else None)
    until = job.until_success
    if until is None:
        until = job.driver in ("policy", "dagger")
    return run_episode(sim, driver, _monitor() if job.safety else None, recorder,
                       seed=job.seed, delay_steps=job.delay_steps,
                       until_success_s=SUCCESS_HOLD_S if until else None,
                       video=job.video, on_step=on_step)


def close_cached() -> None:
    """Close this process's simulations (their renderers)."""
    for key, value in list(_CACHE.items()):
        if isinstance(key, tuple) and key[0] == "sim":
            value.close()
            del _CACHE[key]
