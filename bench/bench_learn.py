"""Learning timing: training throughput and the exported policy's latency; prints, writes JSON.

    .venv/bin/python bench/bench_learn.py [--policy FILE.onnx --checkpoint FILE.pt]
                                          [--out bench/learn.json] [--quick]

1. Training: samples (control ticks with a loss) per second of the config/train.yaml model and
   batch on a generated dataset with the robot's real shapes, at torch's default thread count
   and at one thread.
2. Inference, batch 1, one control tick: ONNX Runtime (CPU, 1 thread, the options
   PolicyRuntime opens the file with: policy.runtime.session_options, batch axis fixed to 1)
   against PyTorch eager on the same network (1 thread, and torch's default alone), with the
   outputs compared; beside them the same session with the batch axis left free (the options
   before), and PolicyRuntime.step as the policy node calls it (copying the images in,
   checking the outputs). The variants take turns in blocks of 50 calls. The network is the shipped
   policy's dryer_open tick by default (policies/default.onnx, a bundle whose dryer_open part's
   weights are policies/student_dryer_open.pt; --task for another part with its --checkpoint), or
   --policy/--checkpoint, or with --fresh the config/train.yaml model freshly initialized
   (same size and graph, so the same timing).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from humanoid_manip.learn.config import load_train_config
from humanoid_manip.learn.dataset import WindowSampler, add_bias, compute_stats
from humanoid_manip.learn.export import example_inputs, export_onnx, session
from humanoid_manip.learn.toy import toy_episodes
from humanoid_manip.learn.train import (
    PolicyIO,
    _step_generator,
    build_model,
    load_policy,
    sequence_loss,
)
from humanoid_manip.robot import load_robot

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TORCH_THREADS = torch.get_num_threads()
BLOCK = 50  # calls in a row per variant in the inference timing
# the shipped bundle and the weights (no optimizer) of the part its dryer_open tick runs: the
# main job's tick (the first task that checkpoint knows)
SHIPPED, SHIPPED_CKPT = "policies/default.onnx", "policies/student_dryer_open.pt"


def bench_training(cfg, robot, steps: int, threads: int) -> dict:
    torch.set_num_threads(threads)
    episodes = toy_episodes(robot, n_episodes=8, ticks=2 * (cfg.window + cfg.burn_in))
    if cfg.model.action == "pd":  # the label splits into target and bias (learn/train.py)
        episodes = add_bias(episodes, robot)
    io = PolicyIO.for_robot(robot, ("a", "b"))
    model = build_model(cfg.model, io, compute_stats(episodes), robot.effort_limit, cfg.seed,
                        robot.kp, robot.kd)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    sampler = WindowSampler(episodes, cfg.batch_size, cfg.window, cfg.burn_in, cfg.seed)
    ticks, seconds = 0, 0.0
    for step in range(steps + 2):
        batch = sampler.batch(step)
        t0 = time.perf_counter()
        loss = sequence_loss(model, batch, cfg, _step_generator(cfg.seed, step))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step >= 2:  # two warm-up steps
            seconds += time.perf_counter() - t0
            ticks += batch.size
    return {"threads": threads, "steps": steps, "batch_size": cfg.batch_size,
            "window": cfg.window, "burn_in": cfg.burn_in, "samples_per_s": ticks / seconds,
            "s_per_step": seconds / steps}


def _percentiles(times: list[float]) -> dict:
    a = np.asarray(times) * 1000.0
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "mean_ms": float(a.mean()), "min_ms": float(a.min())}


def routed(path: Path, robot, model_tasks: tuple[str, ...], task: str | None):
    """(task, the file's index of it, the network's, where the network's recurrent state sits in
    the file's): a bundle (learn/bundle.py) runs the task on one part, whose weights the
    checkpoint holds; a plain file is the network itself."""
    from humanoid_manip.policy.runtime import PolicyRuntime

    contract = PolicyRuntime(path, robot, provider="cpu").contract
    task = task or next(t for t in contract.task_names if t in model_tasks)
    if task not in contract.task_names or task not in model_tasks:
        raise SystemExit(f"--task {task!r}: the file knows {list(contract.task_names)}, the "
                         f"checkpoint {list(model_tasks)}")
    source = contract.lineage.get("source", {})
    if source.get("type") == "bundle":
        start, end = source["parts"][source["routes"][task]["part"]]["state"]
    else:
        start, end = 0, contract.state_size
    return task, contract.task_names.index(task), model_tasks.index(task), slice(start, end)


def file_parity(model, sess, obs, proprio, task, state, file_task, file_state, seg,
                ticks: int = 3) -> float:
    """Largest |file - network| over torque and the network's state, state fed back."""
    worst = 0.0
    with torch.no_grad():
        for k in range(ticks):
            tau, state = model.step(obs, proprio, task, state)
            o_tau, file_state = sess.run(None, {"images": obs.numpy(), "proprio": proprio.numpy(),
                                                "task": file_task, "state_in": file_state})
            worst = max(worst, float(np.abs(o_tau - tau.numpy()).max()),
                        float(np.abs(file_state[:, seg] - state.numpy()).max()))
            proprio = proprio + 0.01 * (k + 1)
    return worst


def bench_inference(model, path: Path, runs: int, robot, model_tasks: tuple[str, ...],
                    task: str | None = None) -> dict:
    """Batch-1 latency of one control tick; the variants take turns in blocks of BLOCK calls,
    so that a shared machine's load falls on all of them alike."""
    from humanoid_manip.policy.runtime import PolicyRuntime

    model = model.eval()
    images, proprio, _, state = example_inputs(model, 1, seed=0)
    task, file_index, net_index, seg = routed(path, robot, model_tasks, task)
    fixed, free = session(path, threads=1, batch=1), session(path, threads=1, batch=None)
    file_state = np.zeros((1, fixed.get_inputs()[3].shape[1]), np.float32)
    file_state[:, seg] = state.numpy()
    file_task, net_task = np.array([file_index]), torch.tensor([net_index])
    feeds = {"images": images.numpy(), "proprio": proprio.numpy(), "task": file_task,
             "state_in": file_state}
    runtime = PolicyRuntime(path, robot, provider="cpu", threads=1, task=task)
    n = model.n_joints
    q, dq = proprio[0, :n].numpy().astype(np.float64), proprio[0, n:].numpy().astype(np.float64)
    out: dict = {"onnx_mb": path.stat().st_size / 1e6, "task": task,
                 "max_abs_diff": file_parity(model, fixed, images, proprio, net_task, state,
                                             file_task, file_state, seg),
                 "fixed_vs_free_batch_max_abs_diff": float(np.abs(
                     fixed.run(None, feeds)[0] - free.run(None, feeds)[0]).max())}
    torch.set_num_threads(1)
    variants = {
        "onnxruntime_cpu_1_thread": lambda: fixed.run(None, feeds),
        "onnxruntime_cpu_1_thread_free_batch": lambda: free.run(None, feeds),
        "policy_runtime_step_1_thread": lambda: runtime.step(images[0].numpy(), q, dq),
        "torch_eager_1_thread": lambda: model.step(images, proprio, net_task, state),
    }
    times: dict = {k: [] for k in variants}
    names = list(variants)
    with torch.inference_mode():
        for block in range(runs // BLOCK):
            for k in names[block % len(names):] + names[:block % len(names)]:  # rotating turns
                f = variants[k]
                for _ in range(5):  # back in cache after the other variants
                    f()
                for _ in range(BLOCK):
                    t0 = time.perf_counter()
                    f()
                    times[k].append(time.perf_counter() - t0)
        if DEFAULT_TORCH_THREADS != 1:  # PyTorch at its own thread count, alone
            torch.set_num_threads(DEFAULT_TORCH_THREADS)
            for _ in range(20):
                model.step(images, proprio, net_task, state)
            key = f"torch_eager_{DEFAULT_TORCH_THREADS}_thread"
            times[key] = []
            for _ in range(runs):
                t0 = time.perf_counter()
                model.step(images, proprio, net_task, state)
                times[key].append(time.perf_counter() - t0)
    torch.set_num_threads(DEFAULT_TORCH_THREADS)
    for k, v in times.items():
        out[k] = _percentiles(v)
    ort = out["onnxruntime_cpu_1_thread"]
    out["eager_over_ort_p50"] = {k: out[k]["p50_ms"] / ort["p50_ms"] for k in times
                                 if k.startswith("torch_eager")}
    out["eager_over_ort_min"] = {k: out[k]["min_ms"] / ort["min_ms"] for k in times
                                 if k.startswith("torch_eager")}  # least disturbed by load
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", help="an exported policy file (with --checkpoint); default: the "
                    f"shipped {SHIPPED} with {SHIPPED_CKPT} when they exist")
    ap.add_argument("--checkpoint", help="the checkpoint the policy was exported from")
    ap.add_argument("--fresh", action="store_true", help="time a freshly initialized "
                    "config/train.yaml model, not the shipped policy")
    ap.add_argument("--out", default=str(ROOT / "bench" / "learn.json"))
    ap.add_argument("--quick", action="store_true", help="fewer steps and runs")
    ap.add_argument("--skip-training", action="store_true", help="inference only")
    ap.add_argument("--task", help="the task whose tick is timed (a bundle runs it on its own "
                    "part, whose weights --checkpoint holds); default: the first the "
                    "checkpoint knows")
    args = ap.parse_args()
    robot = load_robot()
    cfg = load_train_config()
    if not (args.fresh or args.checkpoint) and (ROOT / SHIPPED).is_file() and \
            (ROOT / SHIPPED_CKPT).is_file():
        args.policy, args.checkpoint = str(ROOT / SHIPPED), str(ROOT / SHIPPED_CKPT)
    default_threads = torch.get_num_threads()
    steps, runs = (3, 200) if args.quick else (10, 1000)
    results = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                           "torch": torch.__version__, "platform": platform.platform(),
                           "loadavg_1min": os.getloadavg()[0]},
               "training": [] if args.skip_training else
               [bench_training(cfg, robot, steps, t) for t in sorted({default_threads, 1},
                                                                     reverse=True)]}
    torch.set_num_threads(default_threads)
    if args.checkpoint:
        model, data = load_policy(args.checkpoint)
        model_tasks = tuple(data["io"]["task_names"])
        policy = Path(args.policy) if args.policy else None
        results["inference_network"] = f"checkpoint {args.checkpoint}"
    else:
        io = PolicyIO.for_robot(robot, ("a", "b"))
        stats = compute_stats(toy_episodes(robot, n_episodes=2, ticks=30))
        model, policy = build_model(cfg.model, io, stats, robot.effort_limit, kp=robot.kp,
                                    kd=robot.kd), None
        model_tasks = tuple(f"t{i}" for i in range(model.n_tasks))
        results["inference_network"] = "config/train.yaml model, freshly initialized"
    with tempfile.TemporaryDirectory() as tmp:
        if policy is None:
            io = PolicyIO.for_robot(robot, model_tasks)
            policy = export_onnx(model, Path(tmp) / "policy.onnx", io)
        results["inference"] = bench_inference(model, policy, runs, robot, model_tasks,
                                               args.task)
    results["machine"]["loadavg_1min_end"] = os.getloadavg()[0]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")

    print(f"{'training':<34}{'samples/s':>12}{'s/step':>10}")
    for r in results["training"]:
        label = f"  torch, {r['threads']} thread(s)"
        print(f"{label:<34}{r['samples_per_s']:>12.1f}"
              f"{r['s_per_step']:>10.3f}")
    inf = results["inference"]
    print(f"{'inference, batch 1':<38}{'p50 ms':>9}{'p99 ms':>9}{'min ms':>9}"
          f"{'p50 vs ORT':>12}{'min vs ORT':>12}")
    for k in [k for k in inf if k.startswith(("onnxruntime", "policy_runtime", "torch_eager"))]:
        r50, rmin = inf["eager_over_ort_p50"].get(k), inf["eager_over_ort_min"].get(k)
        ratios = f"{r50:>11.1f}x{rmin:>11.1f}x" if r50 else ""
        print(f"  {k:<36}{inf[k]['p50_ms']:>9.3f}{inf[k]['p99_ms']:>9.3f}"
              f"{inf[k]['min_ms']:>9.3f}{ratios}")
    print(f"policy file {inf['onnx_mb']:.2f} MB (task {inf['task']}), |ONNX - torch| max "
          f"{inf['max_abs_diff']:.1e}, "
          f"fixed vs free batch axis {inf['fixed_vs_free_batch_max_abs_diff']:.1e}; load "
          f"average {results['machine']['loadavg_1min']:.1f} -> "
          f"{results['machine']['loadavg_1min_end']:.1f} on {os.cpu_count()} CPUs; "
          f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
