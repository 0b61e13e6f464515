"""`humanoid-manip expert`: run a task's expert over consecutive seeds and score it; with
--takeover-after, the takeover test of a re-entrant expert."""
from __future__ import annotations

import json

from humanoid_manip.commands._args import (
    non_negative_float,
    non_negative_int,
    output_file,
    positive_int,
    task_name,
)
from humanoid_manip.errors import HumanoidManipError

HELP = "run a task's scripted expert on seeds S, S+1, ... and report success per episode"


def add_arguments(p) -> None:
    from humanoid_manip.commands._workers import add_worker_arguments

    p.add_argument("--task", required=True, type=task_name,
                   help="task name (see `humanoid-manip tasks`)")
    p.add_argument("--episodes", type=positive_int, default=1,
                   help="number of episodes (default 1)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="first seed (default 0)")
    p.add_argument("--video", metavar="FILE", type=output_file,
                   help="write an MP4 of the first episode (the three cameras beside an outside "
                        "view)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --video file")
    p.add_argument("--takeover-after", type=non_negative_float, default=None, metavar="SECONDS",
                   help="the takeover test: the expert acts until SECONDS, then for 0.5 s smooth "
                        "random torques (10%% of each joint's effort limit) perturb it, then a "
                        "newly built expert takes over from the state it finds")
    p.add_argument("--perturb", choices=("add", "replace"), default="add",
                   help="takeover noise on top of the expert's torque (add, default) or instead "
                        "of it, gravity compensation included (replace)")
    p.add_argument("--json", action="store_true",
                   help="print {'task', 'episodes': [...], 'success_rate'} as JSON")
    add_worker_arguments(p)


def run(args) -> int:
    from humanoid_manip.commands._workers import run_episode_jobs
    from humanoid_manip.learn.evaluate import by_condition
    from humanoid_manip.loop import EpisodeJob
    from humanoid_manip.loop.drivers import TakeoverDriver
    from humanoid_manip.robot import load_robot

    physics_hz = float(load_robot().rates.physics_hz)
    jobs = [EpisodeJob(args.task, s, "expert" if args.takeover_after is None else "takeover",
                       render=bool(args.video) and i == 0, safety=False,
                       until_success=False, expert_hz=physics_hz,
                       takeover_after=args.takeover_after, perturb=args.perturb,
                       video=args.video if args.video and i == 0 else None)
            for i, s in enumerate(range(args.seed, args.seed + args.episodes))]
    results = run_episode_jobs(jobs, args, f"expert {args.task}", progress=not args.json)
    lost = [r for r in results if not r.ok]
    if lost:
        raise HumanoidManipError(f"{len(lost)} episode(s) failed on every attempt: "
                                 + "; ".join(f"{r.job.name}: {r.error}" for r in lost[:3]))
    reports = [r.report for r in results]
    wins = sum(r.success for r in reports)
    report = {"task": args.task,
              "episodes": [{"seed": r.seed, "success": r.success,
                            "progress": round(r.progress, 4),
                            "duration": round(r.sim_time_s, 4), "takeover_s": r.takeover_s,
                            "conditions": r.conditions} for r in reports],
              "success_rate": wins / len(reports),
              "by_condition": by_condition(reports)}
    if args.takeover_after is not None:
        report["takeover"] = {"after_s": args.takeover_after, "perturb": args.perturb,
                              "perturb_s": TakeoverDriver.PERTURB_S,
                              "fraction_of_effort": TakeoverDriver.FRACTION}
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    for r in reports:
        print(f"seed {r.seed}: {'success' if r.success else 'failure'} "
              f"(progress {r.progress:.2f}, {r.sim_time_s:.2f} s)")
    print(f"{args.task}: {wins}/{len(reports)} successful ({wins / len(reports):.0%})")
    return 0
