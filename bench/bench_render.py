"""CPU rendering: three-camera frames per second before and after the cheap render path.

    .venv/bin/python bench/bench_render.py [--tasks pick_place dryer_open] [--frames 40]
                                           [--lp-threads 2 0] [--repeats 2]
                                           [--out bench/render.json]

Per task (seed 0) the robot swings its joints about home (joint PD + gravity) and, every 1/30 s
of simulated time, each variant renders the three 96x96 robot cameras in turn, interleaved, so
that the shared machine's load falls on all of them alike:
- before: the old Simulation.render(): a mujoco.Renderer made per episode on MuJoCo's 16 stacks
  per round shape, a 4096² shadow map and the floor's 0.05 m grid, update_scene + render per
  camera;
- exact: the new path (one GL context kept across resets, geoms outside each camera's view
  culled, one pixel buffer) on the old tessellation and floor grid: the same pixels as before;
- after: Simulation.render() as it is now, which also draws NUM_STACKS (8) stacks and the
  floor on a 0.1 m grid.
Frames/s are three-camera frames per second of this process's CPU time (llvmpipe's threads
included) and of wall time, from the median frame; "start" is what a new episode costs the
renderer (context and textures, first frame) beyond its frames. Pixel difference: mean absolute
difference (0-255) of after against before over all frames and cameras, with the share of
pixels off by more than 8 and the largest difference. Each --lp-threads value runs the whole
measurement in a child process with LP_NUM_THREADS set before the GL context exists (Mesa's
own default, which the code keeps, is one llvmpipe thread per CPU; 0 rasterizes in the
rendering thread), --repeats times in turn. The summary gives ratios measured inside one
process (wall time across processes on a shared machine says more about the other jobs than
about rendering), their range over the child runs, and what an 8 s episode's rendering costs in
CPU, its start included.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OLD_STACKS, OLD_SHADOW = 16, 4096  # MuJoCo's defaults, what the images were rendered with
OLD_FLOOR_GRID = 0.05  # the floor plane's rendering grid (m) before
EPISODE_FRAMES = 240  # an 8 s episode at 30 Hz


def _swing(sim, steps: int) -> None:
    robot, data, idx = sim.robot, sim.data, sim.index
    for _ in range(steps):
        q, dq = data.qpos[idx.qpos], data.qvel[idx.dof]
        target = robot.home + 0.3 * np.sin(2.0 * data.time + np.arange(robot.n))
        sim.step(np.clip(robot.kp * (target - q) - robot.kd * dq + data.qfrc_bias[idx.dof],
                         -robot.effort_limit, robot.effort_limit))


def _old_quality(model):
    """Put the model's old render settings in place (tessellation, shadow map, floor grid) and
    return a function that puts the new ones back; a render context built in between draws
    what the old code drew."""
    import mujoco

    q = model.vis.quality
    floor = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "floor")
    new = (q.numstacks, q.shadowsize, float(model.geom_size[floor, 2]))
    q.numstacks, q.shadowsize, model.geom_size[floor, 2] = OLD_STACKS, OLD_SHADOW, OLD_FLOOR_GRID

    def restore():
        q.numstacks, q.shadowsize, model.geom_size[floor, 2] = new
    return restore


def _timed(fn):
    c, w = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c, time.perf_counter() - w


def _old_render(renderer, data, names):
    """The old Simulation.render() body."""
    images = {}
    for name in names:
        renderer.update_scene(data, camera=name)
        images[name] = renderer.render().copy()
    return images


def _start_costs(task: str, seeds: range) -> dict:
    """Renderer start per episode, CPU and wall seconds (median): old per-episode Renderer with
    its shadow map against the kept context."""
    import mujoco

    from humanoid_manip.sim import Simulation

    sim = Simulation(task, seed=seeds[0])
    sim.render()
    before, after = [], []
    for seed in seeds:
        sim.reset(seed)
        restore = _old_quality(sim.model)
        r, c0, w0 = _timed(lambda: mujoco.Renderer(sim.model, sim.image_height, sim.image_width))
        restore()
        first = lambda r=r: _old_render(r, sim.data, sim.camera_names)  # noqa: E731
        _, c1, w1 = _timed(first)
        _, c2, w2 = _timed(first)
        r.close()
        before.append((c0 + c1 - c2, w0 + w1 - w2))
        _, c1, w1 = _timed(sim.render)  # new model: the kept context gets new textures
        _, c2, w2 = _timed(sim.render)
        after.append((c1 - c2, w1 - w2))
    sim.close()
    b, a = np.median(before, axis=0), np.median(after, axis=0)
    return {"before_cpu_s": float(b[0]), "before_wall_s": float(b[1]),
            "after_cpu_s": float(a[0]), "after_wall_s": float(a[1])}


def measure(task: str, frames: int) -> dict:
    """Interleaved before / exact / after frame times and the pixel difference, one task."""
    import mujoco

    from humanoid_manip.sim import Simulation
    from humanoid_manip.sim.render import CameraRenderer

    sim = Simulation(task, seed=0)
    names = sim.camera_names
    ids = {n: mujoco.mj_name2id(sim.model, mujoco.mjtObj.mjOBJ_CAMERA, n) for n in names}
    restore = _old_quality(sim.model)
    old = mujoco.Renderer(sim.model, sim.image_height, sim.image_width)
    exact = CameraRenderer(sim.image_width, sim.image_height)
    exact.use(sim.model)  # builds its render context now, on the old quality
    restore()
    sim.render()
    from OpenGL import GL

    gl = GL.glGetString(GL.GL_RENDERER).decode()
    times = {k: [] for k in ("before", "exact", "after")}
    diffs, exact_max, digest = [], 0, hashlib.sha256()
    for _ in range(frames):
        _swing(sim, 17)
        b, *t = _timed(lambda: _old_render(old, sim.data, names))
        times["before"].append(t)
        e, *t = _timed(lambda: exact.render(sim.model, sim.data, ids))
        times["exact"].append(t)
        a, *t = _timed(sim.render)
        times["after"].append(t)
        for n in names:
            digest.update(a[n].tobytes())
            exact_max = max(exact_max, int(np.abs(e[n].astype(int) - b[n]).max()))
            diffs.append(np.abs(a[n].astype(np.int16) - b[n].astype(np.int16)))
    old.close()
    exact.close()
    sim.close()
    d = np.stack(diffs)
    out = {"task": task, "frames": frames, "gl_renderer": gl}
    for k, v in times.items():
        cpu, wall = np.median(np.asarray(v), axis=0)
        fastest = np.min(np.asarray(v), axis=0)
        out[k] = {"cpu_fps": 1.0 / cpu, "wall_fps": 1.0 / wall, "cpu_ms": 1e3 * cpu,
                  "wall_ms": 1e3 * wall, "fastest_cpu_ms": 1e3 * fastest[0],
                  "fastest_wall_ms": 1e3 * fastest[1]}
    out["exact_max_pixel_diff"] = exact_max
    out["after_images_sha256"] = digest.hexdigest()  # the same under every LP_NUM_THREADS
    out["after_vs_before_pixels"] = {"mean_abs": float(d.mean()),
                                     "share_over_8": float((d.max(-1) > 8).mean()),
                                     "max": int(d.max())}
    out["start"] = _start_costs(task, range(1, 4))
    return out


def child(tasks: list[str], frames: int) -> dict:
    return {"lp_num_threads": os.environ["LP_NUM_THREADS"],
            "loadavg_1min_start": os.getloadavg()[0],
            "tasks": [measure(t, frames) for t in tasks],
            "loadavg_1min_end": os.getloadavg()[0]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=["pick_place", "dryer_open"])
    ap.add_argument("--frames", type=int, default=40, help="three-camera frames per variant")
    ap.add_argument("--lp-threads", nargs="+", default=[str(os.cpu_count()), "0"],
                    help="LP_NUM_THREADS values to run under (default: the CPU count, which "
                    "is Mesa's own default, then 0: no llvmpipe threads)")
    ap.add_argument("--repeats", type=int, default=2, help="run the LP_NUM_THREADS values in "
                    "turn this many times (a shared machine's load drifts)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "render.json"))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.tasks, args.frames)))
        return 0
    runs = []
    for lp in [v for _ in range(args.repeats) for v in args.lp_threads]:
        env = dict(os.environ, LP_NUM_THREADS=lp)
        proc = subprocess.run([sys.executable, __file__, "--child", "--frames", str(args.frames),
                               "--tasks", *args.tasks], env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr[-2000:], file=sys.stderr)
            return proc.returncode
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    results = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                           "platform": platform.platform()},
               "image": "3 cameras, robot.yaml image size", "runs": runs}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")

    print(f"{'LP_NUM_THREADS':<15}{'task':<14}{'variant':<8}{'CPU fps':>9}{'wall fps':>10}"
          f"{'CPU x':>7}{'wall x':>8}{'fastest CPU ms':>16}{'start CPU s':>13}"
          f"{'start wall s':>14}")
    for run in runs:
        for r in run["tasks"]:
            base = r["before"]
            for k in ("before", "exact", "after"):
                v = r[k]
                start = {"before": (r["start"]["before_cpu_s"], r["start"]["before_wall_s"]),
                         "after": (r["start"]["after_cpu_s"], r["start"]["after_wall_s"])}.get(k)
                tail = f"{start[0]:>13.3f}{start[1]:>14.3f}" if start else ""
                print(f"{run['lp_num_threads']:<15}{r['task']:<14}{k:<8}{v['cpu_fps']:>9.1f}"
                      f"{v['wall_fps']:>10.1f}{v['cpu_fps'] / base['cpu_fps']:>6.2f}x"
                      f"{v['wall_fps'] / base['wall_fps']:>7.2f}x{v['fastest_cpu_ms']:>16.2f}"
                      f"{tail}")
        print(f"{'':<29}load average {run['loadavg_1min_start']:.1f} -> "
              f"{run['loadavg_1min_end']:.1f} on {os.cpu_count()} CPUs")
    print(f"renderer: {runs[0]['tasks'][0]['gl_renderer']}")
    for r in runs[0]["tasks"]:
        p = r["after_vs_before_pixels"]
        print(f"{r['task']}: pixels after vs before: mean |diff| {p['mean_abs']:.3f}/255, "
              f"{100 * p['share_over_8']:.2f} % off by more than 8, max {p['max']}; exact vs "
              f"before: max {r['exact_max_pixel_diff']}")
    summary = {}
    for task in [r["task"] for r in runs[0]["tasks"]]:
        rows = [x for run in runs for x in run["tasks"] if x["task"] == task]

        def spread(values):
            return {"median": float(np.median(values)), "min": float(np.min(values)),
                    "max": float(np.max(values))}
        episode = [(x["start"]["before_cpu_s"] + EPISODE_FRAMES * x["before"]["cpu_ms"] / 1e3)
                   / (x["start"]["after_cpu_s"] + EPISODE_FRAMES * x["after"]["cpu_ms"] / 1e3)
                   for x in rows]
        summary[task] = {
            "after_over_before_cpu_fps": spread([x["after"]["cpu_fps"] / x["before"]["cpu_fps"]
                                                 for x in rows]),
            "after_over_before_wall_fps": spread([x["after"]["wall_fps"]
                                                  / x["before"]["wall_fps"] for x in rows]),
            "exact_over_before_cpu_fps": spread([x["exact"]["cpu_fps"] / x["before"]["cpu_fps"]
                                                 for x in rows]),
            "episode_render_cpu_before_over_after": spread(episode),
            "after_cpu_fps_by_lp_num_threads": {
                lp: spread([x["after"]["cpu_fps"] for run in runs
                            if run["lp_num_threads"] == lp for x in run["tasks"]
                            if x["task"] == task]) for lp in args.lp_threads}}
        m = summary[task]
        print(f"{task}: after / before, same process: CPU fps "
              f"{m['after_over_before_cpu_fps']['min']:.2f}-"
              f"{m['after_over_before_cpu_fps']['max']:.2f}x, wall fps "
              f"{m['after_over_before_wall_fps']['min']:.2f}-"
              f"{m['after_over_before_wall_fps']['max']:.2f}x (exact alone "
              f"{m['exact_over_before_cpu_fps']['min']:.2f}-"
              f"{m['exact_over_before_cpu_fps']['max']:.2f}x); a {EPISODE_FRAMES}-frame "
              f"episode's rendering CPU, start included: "
              f"{m['episode_render_cpu_before_over_after']['min']:.2f}-"
              f"{m['episode_render_cpu_before_over_after']['max']:.2f}x less; after's CPU fps "
              "by LP_NUM_THREADS: " + ", ".join(
                  f"{lp}: {v['median']:.0f}" for lp, v in
                  m["after_cpu_fps_by_lp_num_threads"].items()))
    same = {r["task"]: len({x["after_images_sha256"] for run in runs for x in run["tasks"]
                            if x["task"] == r["task"]}) == 1 for r in runs[0]["tasks"]}
    results["summary"] = summary
    results["same_images_under_every_lp_num_threads"] = same
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    print(f"same images under every LP_NUM_THREADS: {same}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
