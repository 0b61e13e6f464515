"""Closed-loop evaluation of a policy file in the simulation (no DDS, no torch).

Each episode is the one loop (humanoid_manip/loop): physics at 500 Hz, cameras at 30 Hz, the
policy runtime (ONNX Runtime, the class the policy node uses) at the file's control rate, and a
fresh safety monitor core every physics step between the policy and the motors; by default the
request reaches the monitor one physics step after the state it answers, as in the sim stack
(`up sim`), so an evaluation's episode is the stack's, bit for bit. Episodes run as jobs on one
or many workers (Ray); the report is the same whatever their number.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np

from humanoid_manip.errors import HumanoidManipError
from humanoid_manip.loop.episode import EpisodeReport

EVAL_SEED = 1_000_000  # evaluation seeds start here; collection counts up from 0, DAgger from
#                        10,000 per round: no evaluation seed is ever trained on
STACK_DELAY_STEPS = 1  # the sim stack's timing: a request acts one physics step after its state

__all__ = ["EVAL_SEED", "STACK_DELAY_STEPS", "EpisodeReport", "EvaluationError", "evaluate",
           "summarize", "training_seeds"]


class EvaluationError(HumanoidManipError):
    """An evaluation that cannot run as asked (seeds used in training, no such task)."""


def training_seeds(lineage: dict, task: str) -> set[int]:
    """Seeds of the task's training episodes, as the checkpoint recorded them."""
    source = lineage.get("source")
    seeds = source.get("train_seeds") if isinstance(source, dict) else None
    return {int(s) for s in (seeds or {}).get(task, [])}


def policy_lineage(policy: str | os.PathLike, robot=None) -> dict:
    """The lineage a policy file carries in its metadata (its checkpoint's manifest)."""
    from humanoid_manip.policy import PolicyRuntime
    from humanoid_manip.robot import load_robot

    return PolicyRuntime(str(policy), robot or load_robot(), provider="cpu").contract.lineage


def eval_jobs(policy: str | bytes, task: str, seeds: list[int], out: Path | None, videos: int,
              time_limit_s: float | None, delay_steps: int, render: bool = True,
              freeze_images: bool = False, frozen_scene: str = "own") -> list:
    """The evaluation's episodes as jobs (videos of the first `videos` when `out` is given;
    a video renders its episode even when `render` is off, as for a teacher)."""
    from humanoid_manip.loop import EpisodeJob

    jobs = []
    for i, s in enumerate(seeds):
        video = str(out / f"{task}_seed{s}.mp4") if out and i < videos else None
        jobs.append(EpisodeJob(task, s, "policy", policy=policy, time_limit_s=time_limit_s,
                               delay_steps=delay_steps, render=render or video is not None,
                               video=video, freeze_images=freeze_images,
                               frozen_scene=frozen_scene))
    return jobs


def evaluate(policy: str | os.PathLike | bytes, task: str, episodes: int, seed: int = EVAL_SEED,
             *, out_dir: str | os.PathLike | None = None, videos: int = 1, robot=None,
             allow_training_seeds: bool = False, progress: bool = False,
             time_limit_s: float | None = None, delay_steps: int = STACK_DELAY_STEPS,
             workers: int = 1, address: str | None = None,
             freeze_images: bool = False, frozen_scene: str = "own") -> dict:
    """Run `episodes` episodes on seeds seed..seed+episodes-1 and report (JSON-ready dict).

    `time_limit_s` shortens the task's episodes (quick checks); None keeps config/tasks.yaml's.
    `freeze_images`: the policy sees each camera's first frame throughout (does it use its
    eyes? its success should collapse); `frozen_scene` "next_seed": the next seed's first frame
    instead, another layout (does it find the objects with its cameras?).
    """
    from humanoid_manip.loop import run_jobs
    from humanoid_manip.policy import PolicyRuntime
    from humanoid_manip.robot import load_robot
    from humanoid_manip.sim import make_task

    robot = robot or load_robot()
    the_task = make_task(task)
    if isinstance(policy, os.PathLike):
        policy = str(policy)
    runtime = PolicyRuntime(policy, robot, provider="cpu", task=task)  # refuses a bad file here
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
    if isinstance(policy, str):
        policy = str(Path(policy).resolve())  # workers elsewhere resolve it the same way
    if freeze_images and runtime.is_teacher:
        raise EvaluationError("a privileged-state teacher has no cameras to freeze")
    jobs = eval_jobs(policy, task, seeds, out, videos, time_limit_s, delay_steps,
                     render=not runtime.is_teacher, freeze_images=freeze_images,
                     frozen_scene=frozen_scene)
    results = run_jobs(jobs, workers=workers, address=address, progress=progress,
                       desc=f"eval {task}")
    lost = [r for r in results if not r.ok]
    if lost:
        raise EvaluationError(f"{len(lost)} episode(s) failed on every attempt: "
                              + "; ".join(f"{r.job.name}: {r.error}" for r in lost[:3]))
    limit = time_limit_s if time_limit_s is not None else the_task.time_limit_s
    result = summarize([r.report for r in results], task, name, runtime.contract.lineage,
                       limit, robot)
    result["delay_steps"] = int(delay_steps)
    result["freeze_images"] = bool(freeze_images)
    if freeze_images:
        result["frozen_scene"] = frozen_scene
    result["workers"] = results.workers
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
        "episodes": [_episode_dict(r) for r in reports],
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
        "by_condition": by_condition(reports),
        "lineage": json.loads(manifest.to_json()),
    }


def by_condition(reports) -> dict[str, dict[str, dict]]:
    """Success per value of each layout condition (Task.conditions: hinge side, wall, …):
    {condition: {value: {"episodes", "successes", "success_rate"}}}."""
    out: dict[str, dict[str, dict]] = {}
    for r in reports:
        for name, value in (r.conditions or {}).items():
            cell = out.setdefault(name, {}).setdefault(str(value), {"episodes": 0,
                                                                   "successes": 0})
            cell["episodes"] += 1
            cell["successes"] += int(bool(r.success))
    for values in out.values():
        for cell in values.values():
            cell["success_rate"] = cell["successes"] / cell["episodes"]
    return out


def _episode_dict(r: EpisodeReport) -> dict:
    """An evaluation episode in the report (no file fields: evaluations record none)."""
    d = asdict(r)
    for k in ("task", "path", "bytes"):
        d.pop(k, None)
    return d
