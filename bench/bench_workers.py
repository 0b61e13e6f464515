"""Benchmark of collection on several workers: `humanoid-manip collect` run as a user runs it
(a fresh process, Ray's start-up included), on 1 worker (in-process) and on N (Ray); checks
that every run recorded bit-identical joint states, prints a table and writes JSON.

    .venv/bin/python bench/bench_workers.py [--task pick_place] [--episodes 8] [--seed 0]
        [--workers 1 2] [--repeats 1] [--render] [--out bench/workers.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIELDS = ("position", "velocity", "effort", "command", "request")


def collect(task: str, episodes: int, seed: int, workers: int, render: bool, out: Path) -> dict:
    cmd = [sys.executable, "-m", "humanoid_manip.cli", "collect", "--task", task,
           "--episodes", str(episodes), "--seed", str(seed), "--workers", str(workers),
           "--out", str(out / "data"), "--json", str(out / "summary.json")]
    if not render:
        cmd.append("--no-render")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT),
                                                        os.environ.get("PYTHONPATH", "")])}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    summary = json.loads((out / "summary.json").read_text())
    return {"workers": workers, "wall_s": round(wall, 2), "episodes": summary["episodes"],
            "successes": summary["successes"],
            "episodes_per_minute": round(60 * summary["episodes"] / wall, 3),
            "in_command_wall_s": summary["wall_s"], "load_average_before": load,
            "files": {f["seed"]: f["path"] for f in summary["files"]}}


def identical(a: dict, b: dict) -> bool:
    """Every episode of run a records the same joint states, labels and commands as run b's."""
    import numpy as np

    from humanoid_manip.data.episode import read_episode

    if set(a) != set(b):
        return False
    for seed in a:
        x, y = read_episode(a[seed], images=False), read_episode(b[seed], images=False)
        if not all(np.array_equal(getattr(x, f), getattr(y, f)) for f in FIELDS):
            return False
    return True


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="pick_place")
    p.add_argument("--episodes", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeats", type=int, default=1, help="runs per worker count (median kept)")
    p.add_argument("--render", action="store_true", help="with the cameras")
    p.add_argument("--out", default=str(ROOT / "bench" / "workers.json"))
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):
            for n in args.workers:
                out = Path(tmp) / f"w{n}_r{rep}"
                rows.append(collect(args.task, args.episodes, args.seed, n, args.render, out))
                print(f"  {n} worker(s), run {rep + 1}: {rows[-1]['wall_s']:.1f} s",
                      flush=True)
        ref = rows[0]["files"]
        same = all(identical(ref, r["files"]) for r in rows[1:])
    by = {}
    for n in args.workers:
        runs = sorted((r for r in rows if r["workers"] == n), key=lambda r: r["wall_s"])
        by[n] = runs[len(runs) // 2]
    base = by[args.workers[0]]["wall_s"]
    print(f"\ncollect --task {args.task} --episodes {args.episodes} --seed {args.seed}"
          f"{'' if args.render else ' --no-render'}, wall time of the whole command "
          f"(start-up included), median of {args.repeats}")
    print(f"{'workers':>8} {'wall s':>8} {'episodes/min':>13} {'speed-up':>9} {'successes':>10}")
    for n in args.workers:
        r = by[n]
        print(f"{n:>8} {r['wall_s']:>8.1f} {r['episodes_per_minute']:>13.2f} "
              f"{base / r['wall_s']:>8.2f}x {r['successes']:>6}/{r['episodes']}")
    print(f"recorded joint states, labels and commands bit-identical across runs: {same}")
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    result = {"task": args.task, "episodes": args.episodes, "seed": args.seed,
              "render": args.render, "repeats": args.repeats, "identical": same,
              "runs": [{k: v for k, v in r.items() if k != "files"} for r in rows],
              "median": {str(n): {k: v for k, v in by[n].items() if k != "files"}
                         for n in args.workers},
              "speedup": {str(n): round(base / by[n]["wall_s"], 3) for n in args.workers},
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version(), "load_average_after": load}}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
