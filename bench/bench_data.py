"""Benchmark of the training cache: build speed (episodes/s) and reader throughput (samples/s)
at the training image size (config/robot.yaml). Prints a table and writes JSON.

    .venv/bin/python bench/bench_data.py [--episodes 12] [--seconds 5] [--out bench/data.json]

Episodes are synthetic (write_synthetic): joint states and torques at the physics rate and
three cameras at the camera rate, so their size is that of a recorded episode of that length.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")


def _mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=12)
    p.add_argument("--seconds", type=float, default=5.0, help="length of each episode")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--read-seconds", type=float, default=4.0, help="how long to read batches")
    p.add_argument("--out", default=str(Path(__file__).with_name("data.json")))
    p.add_argument("--learn-json", default=str(Path(__file__).with_name("learn.json")),
                   help="bench_learn.py's results: the training rate the reader must feed")
    args = p.parse_args(argv)

    from humanoid_manip.data.cache import CacheReader, build_cache
    from humanoid_manip.data.settings import load_data_config
    from humanoid_manip.data.synth import write_synthetic
    from humanoid_manip.robot import load_robot

    robot = load_robot()
    sample_hz = load_data_config().cache.sample_hz
    with tempfile.TemporaryDirectory() as tmp:
        ds = Path(tmp) / "dataset"
        t = time.perf_counter()
        for i in range(args.episodes):
            write_synthetic(ds / f"ep{i:03d}.mcap", robot, args.seconds, seed=i)
        write_s = time.perf_counter() - t
        cold = build_cache(ds, robot=robot)
        warm = build_cache(ds, robot=robot)
        write_synthetic(ds / "ep000.mcap", robot, args.seconds, seed=1000)
        one = build_cache(ds, robot=robot)
        reader = CacheReader(ds / ".cache")
        results = {}
        for prefetch in (0, 2):
            n = 0
            epochs = 0
            t = time.perf_counter()
            while time.perf_counter() - t < args.read_seconds:
                for batch in reader.batches(args.batch, seed=epochs, prefetch=prefetch):
                    n += len(batch["torque"])
                    if time.perf_counter() - t >= args.read_seconds:
                        break
                epochs += 1
            results[prefetch] = n / (time.perf_counter() - t)
        image = reader.arrays[0]["images"].shape[1:]
        out = {
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                        "platform": platform.platform()},
            "dataset": {"episodes": args.episodes, "seconds_each": args.seconds,
                        "mcap_mb": round(_mb(ds) - _mb(ds / ".cache"), 1),
                        "cache_mb": round(_mb(ds / ".cache"), 1), "samples": len(reader),
                        "sample_hz": sample_hz, "image": list(image),
                        "write_s": round(write_s, 2)},
            "cache_build": {"cold_s": round(cold.seconds, 3),
                            "cold_episodes_per_s": round(args.episodes / cold.seconds, 2),
                            "unchanged_s": round(warm.seconds, 3),
                            "one_changed_s": round(one.seconds, 3),
                            "one_changed_decoded": one.built},
            "reader": {"batch": args.batch,
                       "samples_per_s": round(results[0], 1),
                       "samples_per_s_prefetch": round(results[2], 1),
                       "mb_per_s_prefetch": round(results[2] * (
                           int(image[0]) * int(image[1]) * int(image[2]) * int(image[3]))
                           / 1e6, 1)},
        }
    rows = [("episodes built from MCAP (cold)", f"{out['cache_build']['cold_episodes_per_s']}"
             f" ep/s ({args.episodes} x {args.seconds:g} s in {cold.seconds:.2f} s)"),
            ("rebuild, nothing changed", f"{warm.seconds:.3f} s"),
            ("rebuild, one episode changed", f"{one.seconds:.3f} s ({len(one.built)} decoded)"),
            ("reader, no prefetch", f"{results[0]:,.0f} samples/s"),
            ("reader, prefetch 2", f"{results[2]:,.0f} samples/s "
             f"({out['reader']['mb_per_s_prefetch']} MB/s of images)"),
            ("sample", f"images {list(image)} uint8, batch {args.batch}")]
    learn = Path(args.learn_json)
    if learn.is_file():
        train = max(r["samples_per_s"] for r in json.loads(learn.read_text())["training"])
        out["training_reference"] = {"file": str(learn), "samples_per_s": round(train, 1),
                                     "reader_headroom_x": round(results[2] / train, 1)}
        rows.append(("training consumes (bench_learn)", f"{train:,.1f} samples/s: the reader "
                     f"is {results[2] / train:,.0f}x faster"))
    w = max(len(a) for a, _ in rows)
    print("\n".join(f"{a:<{w}}  {b}" for a, b in rows))
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
