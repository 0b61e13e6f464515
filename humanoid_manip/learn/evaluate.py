"""Closed-loop evaluation of a policy file in the simulation, in one process (no DDS).

The loop is the one the nodes run, on simulated time: physics at 500 Hz, cameras at 30 Hz, the
policy runtime (ONNX Runtime, the same class the policy node uses) at the file's control rate,
and the safety monitor core every physics step between the policy and the motors. No torch.
"""
from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from humanoid_manip.errors import HumanoidManipError

NON_INTERVENTIONS = {"mode", "loop_overrun"}  # safety events that are not interventions
VIEW_SIZE = (240, 320)  # height, width of the outside view in the video


class EvaluationError(HumanoidManipError):
    """An evaluation that cannot run as asked (seeds used in training, no such task)."""


@dataclass
class EpisodeReport:
    seed: int
    success: bool
    progress: float  # at the end of the episode
    max_progress: float
    sim_time_s: float
    wall_s: float
    interventions: int  # safety intervention onsets (events other than mode changes)
    intervention_ticks: int  # monitor ticks in which some limit acted
    events: dict[str, int] = field(default_factory=dict)
    final_mode: str = ""
    video: str | None = None


def training_seeds(lineage: dict, task: str) -> set[int]:
    """Seeds of the task's training episodes, as the checkpoint recorded them."""
    source = lineage.get("source")
    seeds = source.get("train_seeds") if isinstance(source, dict) else None
    return {int(s) for s in (seeds or {}).get(task, [])}


class _Video:
    """An MP4 of what the policy sees (three cameras) beside an outside view."""

    def __init__(self, path: Path, sim, fps: float):
        import imageio_ffmpeg
        import mujoco

        self.sim = sim
        self.view = mujoco.Renderer(sim.model, *VIEW_SIZE)
        self.cam = mujoco.MjvCamera()
        mujoco.mjv_defaultFreeCamera(sim.model, self.cam)
        # above and behind the robot: both hands and the task in front (a view from the front
        # is blocked by the dryer)
        self.cam.lookat[:] = [0.5, 0.0, 1.0]
        self.cam.distance, self.cam.azimuth, self.cam.elevation = 1.7, 0.0, -50.0
        h, w = VIEW_SIZE
        self.size = (w + 2 * sim.image_width, h)
        self.writer = imageio_ffmpeg.write_frames(str(path), self.size, fps=fps, quality=6,
                                                  macro_block_size=8, ffmpeg_log_level="error")
        self.writer.send(None)

    def add(self, images: dict[str, np.ndarray]) -> None:
        self.view.update_scene(self.sim.data, camera=self.cam)
        outside = self.view.render()
        h, w = VIEW_SIZE
        frame = np.zeros((h, self.size[0], 3), np.uint8)
        frame[:, :w] = outside
        cams = list(images.values())
        ih, iw = cams[0].shape[:2]
        for i, img in enumerate(cams[:3]):
            r, c = (i // 2) * ih, w + (i % 2) * iw
            if r + ih <= h:
                frame[r:r + ih, c:c + iw] = img
        self.writer.send(np.ascontiguousarray(frame).tobytes())

    def close(self) -> None:
        self.writer.close()
        self.view.close()


def run_episode(sim, runtime, monitor, seed: int, video: Path | None = None,
                stop_on_success: bool = True, delay_steps: int = 0) -> EpisodeReport:
    """One episode: reset to `seed`, run until success (held 0.3 s) or the time limit.

    `monitor` is a fresh SafetyMonitor: its clock, rate limiter and counters start here.
    `delay_steps`: each torque request reaches the monitor this many physics steps after the
    joint state it answers (0: the next step, as in lockstep), to test a policy's tolerance of
    the latency of a real loop.
    """
    from humanoid_manip.safety.types import JointState, TorqueRequest
    from humanoid_manip.sim import CLOCK_START_S, ros_time

    wall0 = time.perf_counter()
    sim.reset(seed)
    runtime.reset()
    names = tuple(sim.robot.names)
    every = max(1, int(round(sim.robot.rates.physics_hz / runtime.contract.control_rate_hz)))
    js = sim.joint_state()
    monitor.tick(CLOCK_START_S, None, JointState(names, js.position, js.velocity, CLOCK_START_S))
    ok, why = monitor.enable(True)
    if not ok:
        raise EvaluationError(f"the safety monitor refused to enable: {why}")
    counts0 = sum(monitor.counts.values())
    events: Counter = Counter()
    writer = _Video(video, sim, sim.robot.rates.camera_hz) if video else None
    images, request, k = None, None, 0
    queued: list[tuple[int, np.ndarray, float]] = []  # (step it reaches the monitor, τ, stamp)
    best, success_since = 0.0, None
    try:
        while not sim.timed_out():
            t = ros_time(CLOCK_START_S + sim.time)  # as the sim stack's stamps carry it
            js = sim.joint_state()
            if sim.camera_due() or images is None:
                images = sim.render()
                if writer is not None:
                    writer.add(images)
            if k % every == 0:  # stamped with the state it answers, as the policy node does
                tau = runtime.step(images, js.position, js.velocity)
                queued.append((k + delay_steps, np.asarray(tau, float), t))
            while queued and queued[0][0] <= k:
                request = TorqueRequest(names, *queued.pop(0)[1:])
            res = monitor.tick(t, request, JointState(names, js.position, js.velocity, t))
            request = None
            for ev in res.events:
                events[ev.type] += 1
            sim.step(res.torque)
            k += 1
            if k % every == 0:
                best = max(best, sim.progress())
                if sim.success():
                    success_since = sim.time if success_since is None else success_since
                    if stop_on_success and sim.time - success_since >= 0.3:
                        break
                else:
                    success_since = None
    finally:
        if writer is not None:
            writer.close()
    progress = sim.progress()
    return EpisodeReport(
        seed=seed, success=sim.success(), progress=progress, max_progress=max(best, progress),
        sim_time_s=sim.time, wall_s=time.perf_counter() - wall0,
        interventions=sum(n for kind, n in events.items() if kind not in NON_INTERVENTIONS),
        intervention_ticks=int(sum(monitor.counts.values()) - counts0),
        events=dict(events), final_mode=monitor.mode.value,
        video=str(video) if video else None)


def evaluate(policy: str | os.PathLike | bytes, task: str, episodes: int, seed: int, *,
             out_dir: str | os.PathLike | None = None, videos: int = 1, robot=None,
             allow_training_seeds: bool = False, progress: bool = False,
             time_limit_s: float | None = None, delay_steps: int = 0) -> dict:
    """Run `episodes` episodes on seeds seed..seed+episodes-1 and report (JSON-ready dict).

    `time_limit_s` shortens the task's episodes (quick checks); None keeps config/tasks.yaml's.
    """
    from tqdm import tqdm

    from humanoid_manip.policy import PolicyRuntime
    from humanoid_manip.robot import load_robot
    from humanoid_manip.safety.config import load_safety_config
    from humanoid_manip.safety.monitor import SafetyMonitor
    from humanoid_manip.sim import Simulation, make_task

    robot = robot or load_robot()
    runtime = PolicyRuntime(policy, robot, provider="cpu", task=task)
    name = runtime.source if isinstance(policy, bytes) else str(policy)
    seeds = list(range(seed, seed + episodes))
    used = training_seeds(runtime.contract.lineage, task) & set(seeds)
    if used and not allow_training_seeds:
        raise EvaluationError(f"seeds {sorted(used)[:10]} of task {task!r} were used to train "
                              f"this policy; evaluate on others (e.g. --seed "
                              f"{max(training_seeds(runtime.contract.lineage, task)) + 1})")
    out = Path(out_dir) if out_dir else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    safety = load_safety_config()
    the_task = make_task(task)
    if time_limit_s is not None:
        the_task = make_task(task, replace(the_task.config, time_limit_s=float(time_limit_s)))
    reports = []
    with Simulation(the_task, seed=seeds[0], robot=robot) as sim:
        for i, s in enumerate(tqdm(seeds, desc=f"eval {task}", disable=not progress)):
            video = out / f"{task}_seed{s}.mp4" if out and i < videos else None
            reports.append(run_episode(sim, runtime, SafetyMonitor(robot, safety), s, video,
                                       delay_steps=delay_steps))
    result = summarize(reports, task, name, runtime.contract.lineage, sim.time_limit_s, robot)
    result["delay_steps"] = int(delay_steps)
    if out:
        (out / f"eval_{task}.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def summarize(reports: list[EpisodeReport], task: str, name: str, lineage: dict,
              time_limit_s: float, robot) -> dict:
    """The report of `evaluate` for episodes run anywhere (one process or many)."""
    from humanoid_manip.data.lineage import new_manifest

    reports = sorted(reports, key=lambda r: r.seed)
    seeds = [r.seed for r in reports]
    manifest = new_manifest("evaluation", {"policy": name, "task": task, "seeds": seeds,
                                           "time_limit_s": time_limit_s},
                            parents=[lineage["id"]] if lineage.get("id") else [], robot=robot)
    return {
        "task": task,
        "policy": name,
        "checkpoint": lineage.get("id"),
        "seeds": seeds,
        "episodes": [asdict(r) for r in reports],
        "success_rate": float(np.mean([r.success for r in reports])),
        "mean_progress": float(np.mean([r.progress for r in reports])),
        "mean_max_progress": float(np.mean([r.max_progress for r in reports])),
        "safety_interventions": int(sum(r.interventions for r in reports)),
        # episodes the monitor ended with torque off (a hard limit, a fault): fewer
        # interventions then means the robot was stopped, not that the policy behaved
        "safety_stops": int(sum(r.final_mode in ("STOPPING", "STOPPED", "FAULT")
                                for r in reports)),
        "intervention_ticks": int(sum(r.intervention_ticks for r in reports)),
        "videos": [r.video for r in reports if r.video],
        "lineage": json.loads(manifest.to_json()),
    }
