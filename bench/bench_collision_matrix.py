"""How many link pairs each rule for MoveIt's disabled-collision matrix gets wrong.

The setup assistant's rule (disable a pair never seen touching in N uniform samples) against
this project's (tools/make_moveit_config.py: never within a margin, in samples or in a local
search of each pair's distance). A rule's "wrongly disabled" pairs are those it disables as
Never that a second, independent sampling (another seed) sees touching. Prints a table and
writes JSON.

    .venv/bin/python bench/bench_collision_matrix.py [--samples 50000] [--check-samples 50000]
        [--out bench/collision_matrix.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=50_000)
    p.add_argument("--check-samples", type=int, default=50_000)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "collision_matrix.json")
    args = p.parse_args()

    from humanoid_manip.moveit_config.collision_matrix import (
        NEVER,
        SelfCollisionSampler,
        disabled_pairs,
    )
    from humanoid_manip.robot import load_robot

    sys.path.insert(0, str(ROOT / "tools"))
    import make_moveit_config as tool

    robot = load_robot()
    t0 = time.perf_counter()
    check = SelfCollisionSampler.build(robot, 0.0).sample(args.check_samples, seed=1)
    touching = {k for k, a in check.items() if a.distance <= 0.0}
    rules = {
        "setup assistant (contact seen, margin 0, no search)": (args.samples, 0.0, 0.0, 0),
        "margin 2 cm, no search": (args.samples, 0.02, 0.02, 0),
        f"this project (margin {tool.MARGIN * 100:g} cm, search, {tool.SAMPLES} samples)":
            (tool.SAMPLES, tool.MARGIN, tool.SEARCH_HORIZON, tool.SEARCH_STARTS),
    }
    rows = []
    for name, (samples, margin, horizon, starts) in rules.items():
        t = time.perf_counter()
        pairs, _ = disabled_pairs(robot, samples, tool.SEED, margin, horizon, starts)
        never = {(q.link1, q.link2) for q in pairs if q.reason == NEVER}
        rows.append({"rule": name, "samples": samples, "never": len(never),
                     "wrongly_disabled": len(never & touching),
                     "examples": sorted(never & touching)[:3],
                     "seconds": round(time.perf_counter() - t, 1)})
    print(f"check: {args.check_samples} samples, seed 1: {len(touching)} pairs touching "
          f"({time.perf_counter() - t0:.0f} s in all)")
    print(f"{'rule':<62} {'Never':>6} {'wrongly disabled':>17} {'s':>6}")
    for r in rows:
        print(f"{r['rule']:<62} {r['never']:>6} {r['wrongly_disabled']:>17} {r['seconds']:>6}")
    args.out.write_text(json.dumps({"check_samples": args.check_samples,
                                    "touching_in_check": len(touching), "rules": rows},
                                   indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
