"""Accelerator check: which ONNX Runtime provider the policy gets, and how fast MuJoCo renders.

    python bench/bench_device.py [--out bench/results/device.json] [--frames 60]

Runs anywhere. On a machine with an NVIDIA GPU it shows whether the policy runtime picks the
CUDA execution provider (and its latency against the CPU provider on the same network), and
which OpenGL renderer MuJoCo's EGL backend lands on (GPU driver or Mesa's llvmpipe) with the
three robot cameras' frame rate at the policy's image size and at VGA.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402


def _percentiles(samples: list[float]) -> dict[str, float]:
    a = np.asarray(samples) * 1e3
    return {"p50_ms": round(float(np.percentile(a, 50)), 4),
            "p99_ms": round(float(np.percentile(a, 99)), 4)}


def inference(robot, steps: int) -> list[dict]:
    """The same small conv-net policy on each provider the runtime can select."""
    import onnxruntime as ort

    from humanoid_manip.policy.demo import cnn_policy
    from humanoid_manip.policy.runtime import PolicyRuntime

    model, _ = cnn_policy(robot, seed=0)
    blob = model.SerializeToString()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (len(robot.cameras), robot.image.height, robot.image.width, 3),
                          dtype=np.uint8)
    q, dq = robot.home.copy(), np.zeros(robot.n)
    rows = []
    for preference in ("auto", "cpu"):
        rt = PolicyRuntime(blob, robot, provider=preference, threads=4)
        for _ in range(20):
            rt.step(images, q, dq)
        times = []
        for _ in range(steps):
            t0 = time.perf_counter()
            torque = rt.step(images, q, dq)
            times.append(time.perf_counter() - t0)
        rows.append({"asked": preference, "provider": rt.provider, "why": rt.provider_reason,
                     "finite": bool(np.all(np.isfinite(torque))), **_percentiles(times)})
    rows.append({"onnxruntime": ort.__version__, "available": ort.get_available_providers()})
    return rows


def gl_renderer() -> str:
    """The OpenGL renderer string of the context MuJoCo's backend creates."""
    import mujoco
    from OpenGL import GL

    ctx = mujoco.GLContext(64, 64)
    ctx.make_current()
    try:
        return GL.glGetString(GL.GL_RENDERER).decode()
    finally:
        ctx.free()


def rendering(frames: int) -> list[dict]:
    """Frames per second of the three robot cameras together, per image size."""
    from humanoid_manip.sim.core import Simulation

    rows = []
    for size in ((96, 96), (640, 480)):
        sim = Simulation("pick_place", seed=0, image_size=size)
        sim.render()  # context creation outside the timing
        t0 = time.perf_counter()
        for _ in range(frames):
            sim.step(np.zeros(sim.robot.n))
            sim.render()
        dt = time.perf_counter() - t0
        rows.append({"size": f"{size[0]}x{size[1]}", "three_camera_sets_per_s":
                     round(frames / dt, 1), "frames_per_s": round(3 * frames / dt, 1)})
        sim.close()
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/results/device.json")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--steps", type=int, default=500)
    args = ap.parse_args()
    from humanoid_manip.robot import load_robot

    robot = load_robot()
    result = {"machine": platform.node(), "python": platform.python_version(),
              "mujoco_gl": os.environ.get("MUJOCO_GL")}
    result["inference"] = inference(robot, args.steps)
    try:
        result["gl_renderer"] = gl_renderer()
    except Exception as exc:  # noqa: BLE001 - report, don't fail the whole check
        result["gl_renderer"] = f"unavailable: {exc}"
    result["rendering"] = rendering(args.frames)

    print(f"{'provider asked':<16}{'got':<24}{'p50 ms':>9}{'p99 ms':>9}")
    for row in result["inference"][:-1]:
        print(f"{row['asked']:<16}{row['provider']:<24}{row['p50_ms']:>9.3f}{row['p99_ms']:>9.3f}")
    print(f"onnxruntime {result['inference'][-1]['onnxruntime']}: "
          f"{result['inference'][-1]['available']}")
    print(f"OpenGL renderer: {result['gl_renderer']}")
    for row in result["rendering"]:
        print(f"render {row['size']:>8}: {row['frames_per_s']:>8.1f} frames/s (3 cameras)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
