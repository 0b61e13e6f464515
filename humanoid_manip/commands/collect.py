"""`humanoid-manip collect`: scripted demonstrations through the teleop path, recorded."""
from __future__ import annotations

from humanoid_manip.commands._args import (
    non_negative_float,
    non_negative_int,
    output_dir,
    output_file,
    positive_int,
    task_name,
)

HELP = ("record scripted-expert demonstrations through the teleop path (IK, retargeting, "
        "PD + gravity comp, safety monitor) as MCAP episodes, on one or many workers")


def add_arguments(p) -> None:
    from humanoid_manip.commands._workers import add_worker_arguments

    p.add_argument("--task", required=True, type=task_name,
                   help="task name (see config/tasks.yaml)")
    p.add_argument("--episodes", type=positive_int, default=1,
                   help="how many episodes (default 1)")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="first episode's seed; then seed+1, …")
    p.add_argument("--out", required=True, type=output_dir, help="folder for the episode files")
    p.add_argument("--no-render", action="store_true",
                   help="skip the cameras (faster; the episodes then have no images)")
    p.add_argument("--no-safety", action="store_true",
                   help="apply the teleop torques directly instead of through the safety "
                        "monitor core")
    p.add_argument("--torque-noise", type=non_negative_float, default=0.0, metavar="FRACTION",
                   help="DART: smooth noise of this fraction of each joint's effort limit on "
                        "what is executed, the label kept clean (default 0)")
    p.add_argument("--json", metavar="FILE", type=output_file,
                   help="also write a JSON summary here")
    p.add_argument("--force", action="store_true", help="overwrite an existing --json file")
    add_worker_arguments(p)


def run(args) -> int:
    import json
    import time
    from pathlib import Path

    from humanoid_manip.commands._workers import run_episode_jobs
    from humanoid_manip.errors import HumanoidManipError
    from humanoid_manip.loop import EpisodeJob
    from humanoid_manip.loop.episode import report_line

    out = Path(args.out).resolve()
    jobs = [EpisodeJob(args.task, args.seed + i, "teleop", out_dir=str(out), index=i,
                       render=not args.no_render, safety=not args.no_safety,
                       torque_noise=args.torque_noise) for i in range(args.episodes)]
    t0 = time.perf_counter()
    results = run_episode_jobs(jobs, args, desc=f"collect {args.task}")
    wall = time.perf_counter() - t0
    done = [r for r in results if r.ok]
    for r in results:
        print(report_line(r.report) if r.ok else f"LOST {r.job.name}: {r.error} "
                                                  f"({r.attempts} attempts)")
    summary = {"task": args.task, "episodes": len(done),
               "successes": sum(r.report.success for r in done), "wall_s": round(wall, 2),
               "episodes_per_minute": round(60.0 * len(done) / wall, 3),
               "workers": results.workers,
               "files": [{"path": r.report.path, "seed": r.report.seed,
                          "success": r.report.success,
                          "sim_time_s": round(r.report.sim_time_s, 3),
                          "wall_s": round(r.report.wall_s, 2), "bytes": r.report.bytes,
                          "worker": r.worker, "attempts": r.attempts} for r in done],
               "failed": [{"seed": r.job.seed, "error": r.error, "attempts": r.attempts}
                          for r in results if not r.ok]}
    print(f"{summary['successes']}/{len(jobs)} successful, "
          f"{summary['episodes_per_minute']:.2f} episodes/min on {results.workers} "
          f"worker(s), into {out}")
    if args.json:
        try:
            Path(args.json).write_text(json.dumps(summary, indent=1) + "\n")
        except OSError as exc:
            raise HumanoidManipError(f"cannot write --json {args.json}: {exc.strerror} (the "
                                     f"episodes are in {args.out})") from None
    return 0 if len(done) == len(jobs) else 1
