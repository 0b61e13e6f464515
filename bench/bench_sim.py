"""Physics steps per second and real-time factor per task, without and with the cameras.

    .venv/bin/python bench/bench_sim.py [--seconds 4] [--tasks pick_place dryer_open]
                                        [--json bench/results/bench_sim.json]

Each task is built as the Simulation builds it (robot, arena, task scene; seed 0) and stepped at
500 Hz with the robot holding its home pose by joint PD plus gravity compensation (what any
controller costs at least). "physics" times Simulation.step alone (mj_step plus the task's
after_step hook); "loop" adds the controller; "with cameras" also renders the three robot
cameras at 30 Hz at robot.yaml's image size (MUJOCO_GL=egl, on the CPU here). Times are CPU
time of this process, which other load on a shared machine skews less than wall time.
Real-time factor = steps/s × timestep.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from humanoid_manip.sim import Simulation, task_names  # noqa: E402


def bench(task: str, seconds: float, render: bool) -> dict:
    sim = Simulation(task, seed=0, render=render)
    robot, data, idx = sim.robot, sim.data, sim.index
    steps = int(round(seconds / sim.dt))
    if render:
        sim.render()  # the renderer's one-off start is not part of the rate
    phys = loop = 0.0
    frames = 0
    for _ in range(steps):
        c0 = time.process_time()
        q, dq = data.qpos[idx.qpos], data.qvel[idx.dof]
        tau = np.clip(robot.kp * (robot.home - q) - robot.kd * dq + data.qfrc_bias[idx.dof],
                      -robot.effort_limit, robot.effort_limit)
        c1 = time.process_time()
        sim.step(tau)
        c2 = time.process_time()
        if render and sim.camera_due():
            sim.render()
            frames += 1
        c3 = time.process_time()
        phys += c2 - c1
        loop += c3 - c0
    sim.close()
    return {"task": task, "cameras": render, "steps": steps, "frames": frames,
            "physics_steps_per_s": round(steps / phys, 1),
            "physics_real_time_factor": round(steps / phys * sim.dt, 2),
            "loop_steps_per_s": round(steps / loop, 1),
            "loop_real_time_factor": round(steps / loop * sim.dt, 2),
            "nefc_at_end": int(data.nefc), "ncon_at_end": int(data.ncon)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=4.0, help="simulated seconds per run")
    p.add_argument("--tasks", nargs="*", default=None, help="default: every registered task")
    p.add_argument("--json", default="bench/results/bench_sim.json", help="where to write")
    args = p.parse_args()
    rows = []
    print(f"{'task':<14} {'cameras':<8} {'physics steps/s':>15} {'RTF':>6} "
          f"{'loop steps/s':>13} {'RTF':>6} {'frames':>6}")
    for task in args.tasks or task_names():
        for render in (False, True):
            r = bench(task, args.seconds, render)
            rows.append(r)
            print(f"{task:<14} {'30 Hz' if render else 'none':<8} "
                  f"{r['physics_steps_per_s']:>15.0f} {r['physics_real_time_factor']:>6.1f} "
                  f"{r['loop_steps_per_s']:>13.0f} {r['loop_real_time_factor']:>6.1f} "
                  f"{r['frames']:>6}", flush=True)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": platform.processor() or platform.machine(),
                               "cpus": os.cpu_count(), "seconds": args.seconds,
                               "results": rows}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
