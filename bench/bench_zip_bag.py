"""Steps per second of the zip bag's physics on one core, alone and inside the full task scene.

    .venv/bin/python bench/bench_zip_bag.py [--steps 3000] [--seeds 3] [--json out.json]

Three runs: the bag on its table (no robot); the zip_bag_open task as the Simulation builds it
(robot, arena, table, bag, dates) with the robot holding its home pose by joint PD; and a whole
episode of the task's scripted expert (hands on the tabs, lips pulled apart). The
figure is physics time only: mj_step plus the seal's release check, timed by CPU time of this
process, so other load on the machine skews it less than wall time would. Real-time factor =
steps/s x timestep.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from humanoid_manip.sim import Simulation  # noqa: E402
from humanoid_manip.sim.tasks.zip_bag_open import BagParams, ZipBagOpen, bag_scene  # noqa: E402


def bench_bag_alone(seed: int, steps: int, settle: int) -> dict:
    task = ZipBagOpen()
    params = BagParams.draw(task.config, np.random.default_rng(seed))
    spec, bag = bag_scene(params)
    model = spec.compile()
    data = mujoco.MjData(model)
    bag.bind(model)
    bag.seal.close(data)
    for _ in range(settle):
        mujoco.mj_step(model, data)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(steps):
        mujoco.mj_step(model, data)
        bag.seal.update(data)
    return _row("bag on table", seed, steps, time.process_time() - cpu,
                time.perf_counter() - wall, model, data)


def bench_task_scene(seed: int, steps: int, settle: int) -> dict:
    sim = Simulation("zip_bag_open", seed=seed, render=False)
    model, data, robot, idx = sim.model, sim.data, sim.robot, sim.index
    cpu_phys = wall_phys = 0.0
    for i in range(settle + steps):
        q, dq = data.qpos[idx.qpos], data.qvel[idx.dof]
        tau = robot.kp * (robot.home - q) - robot.kd * dq + data.qfrc_bias[idx.dof]
        data.ctrl[idx.actuator] = tau
        c, w = time.process_time(), time.perf_counter()
        mujoco.mj_step(model, data)
        sim.task.after_step(model, data)
        if i >= settle:
            cpu_phys += time.process_time() - c
            wall_phys += time.perf_counter() - w
    return _row("zip_bag_open task (robot + bag)", seed, steps, cpu_phys, wall_phys, model, data)


def bench_expert_episode(seed: int, steps: int, settle: int) -> dict:
    """The scene while the expert pinches and pulls: film contacts and the peeling seal."""
    sim = Simulation("zip_bag_open", seed=seed, render=False)
    expert = sim.task.expert(sim)
    cpu_phys = wall_phys = 0.0
    n = 0
    while not sim.timed_out() and not expert.done(sim):
        sim.data.ctrl[sim.index.actuator] = expert.act(sim)
        c, w = time.process_time(), time.perf_counter()
        mujoco.mj_step(sim.model, sim.data)
        sim.task.after_step(sim.model, sim.data)
        cpu_phys += time.process_time() - c
        wall_phys += time.perf_counter() - w
        n += 1
    return _row("zip_bag_open expert episode", seed, n, cpu_phys, wall_phys, sim.model, sim.data)


def _row(scene, seed, steps, cpu, wall, model, data) -> dict:
    sps = steps / cpu
    return {"scene": scene, "seed": seed, "steps": steps, "cpu_s": cpu, "wall_s": wall,
            "steps_per_s": sps, "realtime_factor": sps * model.opt.timestep,
            "wall_steps_per_s": steps / wall, "nv": model.nv, "ncon_end": int(data.ncon),
            "nefc_end": int(data.nefc)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--settle", type=int, default=250)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--json", default="bench/zip_bag.json")
    args = ap.parse_args()
    rows = []
    for seed in range(args.seeds):
        rows.append(bench_bag_alone(seed, args.steps, args.settle))
        rows.append(bench_task_scene(seed, args.steps, args.settle))
        rows.append(bench_expert_episode(seed, args.steps, args.settle))
    print(f"{'scene':34s} {'seed':>4s} {'nv':>4s} {'nefc':>5s} {'steps/s':>8s} {'x real':>7s} "
          f"{'wall steps/s':>12s}")
    for r in rows:
        print(f"{r['scene']:34s} {r['seed']:4d} {r['nv']:4d} {r['nefc_end']:5d} "
              f"{r['steps_per_s']:8.0f} {r['realtime_factor']:7.2f} {r['wall_steps_per_s']:12.0f}")
    summary = {}
    for scene in sorted({r["scene"] for r in rows}):
        sps = [r["steps_per_s"] for r in rows if r["scene"] == scene]
        summary[scene] = {"min_steps_per_s": min(sps), "median_steps_per_s": float(np.median(sps)),
                          "min_realtime_factor": min(sps) * 0.002}
        print(f"{scene}: median {np.median(sps):.0f} steps/s, worst {min(sps):.0f} "
              f"({min(sps) * 0.002:.2f}x real time)")
    out = {"bench": "zip_bag", "mujoco": mujoco.__version__, "machine": platform.processor()
           or platform.machine(), "cpu_count": os.cpu_count(),
           "loadavg": os.getloadavg(), "rows": rows, "summary": summary}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
