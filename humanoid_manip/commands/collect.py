"""`humanoid-manip collect`: scripted demonstrations through the teleop path, recorded."""
from __future__ import annotations

from humanoid_manip.commands._args import (
    non_negative_int,
    output_dir,
    output_file,
    positive_int,
    task_name,
)

HELP = ("record scripted-expert demonstrations through the teleop path (IK, retargeting, "
        "PD + gravity comp, safety monitor) as MCAP episodes")


def add_arguments(p) -> None:
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
    p.add_argument("--json", metavar="FILE", type=output_file,
                   help="also write a JSON summary here")
    p.add_argument("--force", action="store_true", help="overwrite an existing --json file")


def run(args) -> int:
    import json
    import time
    from pathlib import Path

    from tqdm import tqdm

    from humanoid_manip.errors import HumanoidManipError
    from humanoid_manip.sim import Simulation
    from humanoid_manip.teleop.collect import collect_episode
    from humanoid_manip.teleop.config import load_teleop_config
    from humanoid_manip.teleop.controller import TeleopController

    if args.episodes < 1 or args.seed < 0:
        raise HumanoidManipError("--episodes must be >= 1 and --seed >= 0")
    sim = Simulation(args.task, seed=args.seed, render=not args.no_render)
    controller = TeleopController(sim.robot, load_teleop_config())
    monitor = None
    if not args.no_safety:
        from humanoid_manip.safety import SafetyMonitor, load_safety_config

        safety = load_safety_config()
    results = []
    t0 = time.perf_counter()
    limit = sim.time_limit_s
    with tqdm(total=args.episodes, unit="episode", desc=f"collect {args.task}") as bar:
        for i in range(args.episodes):
            seed = args.seed + i
            if not args.no_safety:
                monitor = SafetyMonitor(sim.robot, safety)  # fresh per episode, like a reset
            inner = tqdm(total=round(limit, 1), unit="sim s", leave=False, desc=f"seed {seed}",
                         bar_format="{desc}: {bar} {n:.1f}/{total} sim s")

            def tick(t, inner=inner):
                if t - inner.n >= 0.1:
                    inner.update(round(t - inner.n, 1))

            r = collect_episode(sim, controller, args.out, seed, monitor=monitor,
                                render=not args.no_render, index=i, on_step=tick)
            inner.close()
            results.append(r)
            bar.set_postfix(success=f"{sum(x.success for x in results)}/{len(results)}")
            bar.update(1)
    wall = time.perf_counter() - t0
    sim.close()
    for r in results:
        print(f"{'ok  ' if r.success else 'FAIL'} seed {r.seed}: {r.path} "
              f"({r.sim_time_s:.2f} s sim, {r.wall_s:.1f} s wall, {r.bytes / 1e6:.2f} MB)")
    summary = {"task": args.task, "episodes": len(results),
               "successes": sum(r.success for r in results), "wall_s": round(wall, 2),
               "episodes_per_minute": round(60.0 * len(results) / wall, 3),
               "files": [{"path": str(r.path), "seed": r.seed, "success": r.success,
                          "sim_time_s": round(r.sim_time_s, 3), "wall_s": round(r.wall_s, 2),
                          "bytes": r.bytes} for r in results]}
    print(f"{summary['successes']}/{summary['episodes']} successful, "
          f"{summary['episodes_per_minute']:.2f} episodes/min, into {Path(args.out)}")
    if args.json:
        try:
            Path(args.json).write_text(json.dumps(summary, indent=1) + "\n")
        except OSError as exc:
            raise HumanoidManipError(f"cannot write --json {args.json}: {exc.strerror} (the "
                                     f"episodes are in {args.out})") from None
    return 0
