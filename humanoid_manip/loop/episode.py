"""`run_episode`: the one in-process episode loop (collect, evaluation, DAgger, replay, tests).

Each physics step (500 Hz), in this order: read the joint state; render the cameras when due
(30 Hz) and record them; at a control tick (every physics_hz / rate steps) tick the driver on
the measured state, queue its request stamped with that state's time, record the state, label,
teleop inputs and privileged state; deliver the queued requests whose time has come
(`delay_steps` physics steps after the state they answer: 0 = the same step, lockstep; 1 = the
sim stack's timing, `up sim`); tick the safety monitor core on the same state (or clip to the
effort limits without one); record its events and the applied torque; step the physics on it.
Times the monitor sees are the sim stack's clock: sim.CLOCK_START_S + sim time in whole
nanoseconds (`sim.ros_time`), so the loop and the nodes compute the same torques bit for bit.

An episode ends at the task's time limit, `settle_s` after the driver says it is done, or,
with `until_success_s`, once the task has been successful that long (checked at control ticks).
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from humanoid_manip.loop.driver import Driver, LoopError, Observation

SETTLE_S = 0.5  # after the driver is done, keep going so the outcome settles
SUCCESS_HOLD_S = 0.3  # success held this long ends an episode run `until_success_s`
NON_INTERVENTIONS = {"mode", "loop_overrun"}  # safety events that are not interventions


@dataclass
class EpisodeReport:
    """How one episode went; `path`/`bytes` when it was recorded, `video` when filmed."""

    seed: int
    success: bool
    progress: float  # at the end of the episode
    max_progress: float  # best at any control tick
    sim_time_s: float
    wall_s: float
    interventions: int  # safety intervention onsets (events other than mode changes)
    intervention_ticks: int  # monitor ticks in which some limit acted
    events: dict[str, int] = field(default_factory=dict)
    final_mode: str = ""
    video: str | None = None
    task: str = ""
    path: str | None = None
    bytes: int = 0
    conditions: dict[str, str] = field(default_factory=dict)  # Task.conditions(): the layout
    takeover_s: float | None = None  # when a fresh expert took over (takeover test; DAgger stall)
    unstable: str | None = None  # the physics diverged and ended the episode (Simulation.step)

    def as_dict(self) -> dict:
        return asdict(self)


def run_episode(sim, driver: Driver, monitor=None, recorder=None, *, seed: int,
                delay_steps: int = 0, render: bool | None = None,
                until_success_s: float | None = None, settle_s: float = SETTLE_S,
                video: str | Path | None = None,
                on_step: Callable[[float], None] | None = None) -> EpisodeReport:
    """Reset `sim` to `seed` and run `driver` through `monitor` (a fresh SafetyMonitor, or None:
    requests clipped to the effort limits) until the episode ends; record with `recorder`.

    `render` (default: whether sim renders) renders the cameras at their rate for the driver,
    the recorder and `video` (an MP4 path: the cameras beside an outside view);
    `on_step(sim_time)` is called after each physics step.
    """
    from humanoid_manip.safety.types import JointState, TorqueRequest
    from humanoid_manip.sim import CLOCK_START_S, ros_time

    if delay_steps < 0:
        raise LoopError(f"delay_steps must be >= 0, got {delay_steps}")
    wall0 = time.perf_counter()
    sim.reset(seed)
    driver.reset(sim)
    robot = sim.robot
    names = tuple(robot.names)
    render = sim.render_enabled if render is None else bool(render)
    every = max(1, int(round(robot.rates.physics_hz / (driver.rate_hz or robot.rates.policy_hz))))
    js = sim.joint_state()
    counts0 = 0
    if monitor is not None:
        monitor.tick(CLOCK_START_S, None, JointState(names, js.position, js.velocity,
                                                    CLOCK_START_S))
        ok, why = monitor.enable(True)
        if not ok:
            raise LoopError(f"the safety monitor refused to enable: {why}")
        counts0 = sum(monitor.counts.values())
    if recorder is not None:
        recorder.start(sim, {**driver.source(), "safety_monitor": monitor is not None},
                       cameras=robot.camera_names if render else ())
    events: Counter = Counter()
    images = None
    queued: list[tuple[int, np.ndarray, float]] = []  # (step it reaches the monitor, τ, stamp)
    request, held = None, np.zeros(robot.n)
    best, success_since, done_at, k = 0.0, None, None, 0
    video_path, video = video, None
    try:
        if video_path is not None:
            from humanoid_manip.loop.video import EpisodeVideo

            video = EpisodeVideo(video_path, sim)
        while not sim.timed_out():
            t = sim.time
            t_ns = int(round(t * 1e9))
            stamp = ros_time(CLOCK_START_S + t)  # the monitor's clock, as the stack stamps it
            js = sim.joint_state()
            if render and (sim.camera_due() or images is None):
                images = sim.render()
                if recorder is not None:
                    recorder.frame(t_ns, images)
                if video is not None:
                    video.add(images)
            if k % every == 0:  # stamped with the state it answers, as the policy node does
                obs = Observation(t, stamp, js.position, js.velocity, js.effort, images)
                action = driver.act(sim, obs)
                queued.append((k + delay_steps, np.asarray(action.torque, float), stamp))
                if recorder is not None:
                    privileged = sim.privileged_state()
                    recorder.control(t_ns, js, action, privileged if privileged.size else None)
            while queued and queued[0][0] <= k:
                _, held, at = queued.pop(0)
                request = TorqueRequest(names, held, at)
            if monitor is not None:
                res = monitor.tick(stamp, request, JointState(names, js.position, js.velocity,
                                                              stamp))
                applied, step_events = res.torque, res.events
                for ev in step_events:
                    events[ev.type] += 1
            else:
                applied, step_events = np.clip(held, -robot.effort_limit, robot.effort_limit), ()
            request = None
            if recorder is not None:
                recorder.step(t_ns, applied, step_events)
            sim.step(applied)
            k += 1
            if on_step is not None:
                on_step(sim.time)
            if k % every == 0:
                best = max(best, sim.progress())
                if until_success_s is not None:
                    if sim.success():
                        success_since = sim.time if success_since is None else success_since
                        if sim.time - success_since >= until_success_s:
                            break
                    else:
                        success_since = None
            if done_at is None and driver.done(sim):
                done_at = sim.time
            if done_at is not None and sim.time - done_at >= settle_s:
                break
        success, progress = sim.success(), sim.progress()
        report = EpisodeReport(
            seed=int(seed), success=success, progress=progress,
            max_progress=max(best, progress), sim_time_s=sim.time,
            wall_s=time.perf_counter() - wall0,
            interventions=sum(n for kind, n in events.items() if kind not in NON_INTERVENTIONS),
            intervention_ticks=(int(sum(monitor.counts.values()) - counts0)
                                if monitor is not None else 0),
            events=dict(events), final_mode=monitor.mode.value if monitor is not None else "",
            video=str(video_path) if video_path is not None else None, task=sim.task.name,
            conditions=dict(sim.task.conditions()),
            takeover_s=getattr(driver, "took_over_s", None), unstable=sim.unstable)
        if recorder is not None:
            outcome = {"success": success, "progress": round(progress, 4),
                       "note": f"progress {progress:.2f} after {sim.time:.2f} s"}
            if monitor is not None:
                outcome["safety"] = {"mode": monitor.mode.value, "counts": dict(monitor.counts)}
            if sim.unstable is not None:  # kept, and marked: the ticks up to the divergence
                outcome["unstable"] = sim.unstable
                outcome["note"] = sim.unstable
            if report.takeover_s is not None:  # the expert acted from then on
                outcome["takeover_s"] = round(report.takeover_s, 4)
            path = recorder.finish(outcome)
            report.path, report.bytes = str(path), path.stat().st_size
    except BaseException:
        if recorder is not None:
            recorder.abort()
        raise
    finally:
        if video is not None:
            video.close()
    report.wall_s = time.perf_counter() - wall0
    return report


def run_expert(sim, seed: int, takeover_after: float | None = None, perturb: str = "add",
               video: str | Path | None = None) -> EpisodeReport:
    """The task's expert on its own (`humanoid-manip expert`, the expert tests): PD at the
    physics rate, no safety monitor, no recording; with `takeover_after`, the takeover test
    (loop.drivers.TakeoverDriver)."""
    from humanoid_manip.loop.drivers import ExpertDriver, TakeoverDriver

    hz = float(sim.robot.rates.physics_hz)
    driver = ExpertDriver(hz) if takeover_after is None else \
        TakeoverDriver(takeover_after, perturb, rate_hz=hz)
    return run_episode(sim, driver, None, seed=seed, render=video is not None, video=video)


def replay_torques(sim, episode, seed: int) -> bool:
    """Play an episode's applied torques open loop from its initial state; the task outcome."""
    from humanoid_manip.loop.drivers import ReplayDriver

    driver = ReplayDriver(episode.command, episode.metadata.get("initial_state"))
    return run_episode(sim, driver, None, seed=seed, render=False, settle_s=0.0).success


def report_line(r: EpisodeReport) -> str:
    """One line per episode for a command's output."""
    where = f": {r.path} ({r.bytes / 1e6:.2f} MB)" if r.path else ""
    return (f"{'ok  ' if r.success else 'FAIL'} {r.task} seed {r.seed}{where} "
            f"({r.sim_time_s:.2f} s sim, {r.wall_s:.1f} s wall)"
            + (f": {r.unstable}" if r.unstable else ""))
