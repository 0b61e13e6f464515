"""Policy and simulation timing: prints a table and writes JSON.

    .venv/bin/python bench/bench_policy.py [--out bench/results/policy.json] [--quick]

1. Inference, batch 1, on a small conv net shaped like a trained policy (3 cameras 96×96 stacked
   as 9 channels, 4 strided convs, MLP over features + proprio + memory, 48 torques, 64 memory),
   built with onnx.helper: ONNX Runtime against PyTorch eager on the same weights (outputs
   compared), at the same thread count. PyTorch is optional (pip install torch==2.13.0); without
   it the ratio is reported as null.
2. The simulation core alone: physics-only and physics + three cameras at 30 Hz real-time factor.
3. policy_node alone on wall time, fed 30 Hz cameras and 500 Hz joint states by this process:
   latency from image arrival to torque request (p50/p99), achieved rate against the target,
   deadline misses, all as the node reports them in /diagnostics.
4. The sim stack (`humanoid-manip up sim` with the same network): the same policy figures on
   simulated time and the sim's real-time factor with the three cameras rendering.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid()).randint(101, 200)))

import numpy as np  # noqa: E402

from humanoid_manip.policy.demo import cnn_policy, save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _pct(samples_s) -> dict:
    a = np.asarray(samples_s) * 1000.0
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "n": int(a.size)}


def _inputs(robot, rng):
    return {"images": rng.integers(0, 256, (1, 3, 96, 96, 3), dtype=np.uint8),
            "proprio": np.concatenate([robot.home, np.zeros(robot.n)])[None].astype(np.float32),
            "task": np.zeros(1, np.int64), "state_in": np.zeros((1, 64), np.float32)}


def inference_network(robot=None, folder: Path | None = None):
    """(serialized ONNX, weights, example inputs): built for `robot`, or read from `folder`.

    `--export-inference DIR` writes a folder that `--inference-from DIR` reads on a machine
    with only onnxruntime and torch (no MuJoCo, no ROS), e.g. a quiet benchmark box.
    """
    if folder is not None:
        w = dict(np.load(folder / "weights.npz"))
        feeds = dict(np.load(folder / "inputs.npz"))
        return (folder / "cnn_policy.onnx").read_bytes(), w, feeds
    model, w = cnn_policy(robot, seed=0)
    return model.SerializeToString(), w, _inputs(robot, np.random.default_rng(0))


def bench_inference(network, iters: int, threads: int) -> dict:
    import onnxruntime as ort

    model, w, feeds = network
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    for _ in range(50):
        sess.run(None, feeds)
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        torque, _state = sess.run(["torque", "state_out"], feeds)
        times.append(time.perf_counter() - t0)
    out = {"network": "4 strided convs (9→16→32→32→32) + MLP 256, 48 torques, 64 memory",
           "threads": threads, "onnxruntime": _pct(times), "pytorch_eager": None,
           "ratio_pytorch_over_onnxruntime_p50": None, "max_abs_diff_nm": None}
    try:
        import torch
    except ImportError:
        out["pytorch_note"] = "torch not installed: pip install torch==2.13.0 for the ratio"
        return out
    torch.set_num_threads(threads)
    net = _torch_net(torch, w)
    t_in = {k: torch.from_numpy(v) for k, v in feeds.items()}
    with torch.inference_mode():
        for _ in range(50):
            net(**t_in)
        times_t = []
        for _ in range(iters):
            t0 = time.perf_counter()
            t_torque, _ = net(**t_in)
            times_t.append(time.perf_counter() - t0)
    out["pytorch_eager"] = _pct(times_t)
    out["pytorch_version"] = torch.__version__
    out["max_abs_diff_nm"] = float(np.abs(t_torque.numpy() - torque).max())
    out["ratio_pytorch_over_onnxruntime_p50"] = (out["pytorch_eager"]["p50_ms"]
                                                 / out["onnxruntime"]["p50_ms"])
    return out


def _torch_net(torch, w):
    """The same network as policy.demo.cnn_policy, in PyTorch, with its weights."""
    nn, F = torch.nn, torch.nn.functional
    n_conv = sum(1 for k in w if k.startswith("conv") and k.endswith(".w"))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = nn.ModuleList()
            for i in range(n_conv):
                wt = torch.from_numpy(w[f"conv{i}.w"])
                conv = nn.Conv2d(wt.shape[1], wt.shape[0], wt.shape[2], stride=2,
                                 padding=wt.shape[2] // 2)
                conv.weight.data.copy_(wt)
                conv.bias.data.copy_(torch.from_numpy(w[f"conv{i}.b"]))
                self.convs.append(conv)
            self.fc1, self.fc2, self.fcs = (self._linear(n) for n in ("fc1", "fc2", "fcs"))
            for k in ("prop_mean", "prop_inv_scale", "effort"):
                self.register_buffer(k, torch.from_numpy(w[k]))

        @staticmethod
        def _linear(name):
            wt = torch.from_numpy(w[f"{name}.w"])
            lin = nn.Linear(wt.shape[1], wt.shape[0])
            lin.weight.data.copy_(wt)
            lin.bias.data.copy_(torch.from_numpy(w[f"{name}.b"]))
            return lin

        def forward(self, images, proprio, task, state_in):
            b, n, h, wd, _ = images.shape
            x = (images.float() / 255.0).permute(0, 1, 4, 2, 3).reshape(b, n * 3, h, wd)
            for conv in self.convs:
                x = F.relu(conv(x))
            feat = x.mean(dim=(2, 3))
            p = (proprio - self.prop_mean) * self.prop_inv_scale
            a1 = F.relu(self.fc1(torch.cat([feat, p, state_in], dim=1)))
            return torch.tanh(self.fc2(a1)) * self.effort, torch.tanh(self.fcs(a1))

    return Net().eval()


def bench_sim_core(seconds: float) -> dict:
    from humanoid_manip.sim import Simulation

    sim = Simulation("pick_place", seed=0)
    tau = np.zeros(sim.robot.n)
    steps = int(seconds / sim.dt)
    t0 = time.perf_counter()
    for _ in range(steps):
        sim.step(tau)
    physics = time.perf_counter() - t0
    sim.reset(0)
    renders = []
    t0 = time.perf_counter()
    for _ in range(steps):
        sim.step(tau)
        if sim.camera_due():
            r0 = time.perf_counter()
            sim.render()
            renders.append(time.perf_counter() - r0)
    both = time.perf_counter() - t0
    sim.close()
    return {"task": "pick_place", "sim_seconds": seconds,
            "physics_only_real_time_factor": seconds / physics,
            "physics_and_3_cameras_real_time_factor": seconds / both,
            "render_3_cameras": _pct(renders)}


class _Ros:
    """A bench node: feeds a lone policy_node, and collects /diagnostics."""

    def __init__(self):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray

        self.rclpy = rclpy
        rclpy.init()
        self.node = rclpy.create_node("bench_policy")
        self.status: dict[str, list[dict]] = {}
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 50)
        self.executor = rclpy.executors.SingleThreadedExecutor()
        self.executor.add_node(self.node)

    def _on_diag(self, msg):
        for s in msg.status:
            values = {}
            for kv in s.values:
                try:
                    values[kv.key] = float(kv.value)
                except ValueError:
                    values[kv.key] = kv.value
            self.status.setdefault(s.name, []).append(values)

    def feed(self, robot):
        """Publish 30 Hz cameras and 500 Hz joint states on wall time, as drivers would."""
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image, JointState

        from humanoid_manip.nodes import convert

        qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
        cams = [self.node.create_publisher(Image, f"/{c}/image_raw", qos)
                for c in robot.camera_names]
        js = self.node.create_publisher(JointState, "/joint_states", qos)
        rng = np.random.default_rng(0)
        frames = [rng.integers(0, 256, (96, 96, 3), dtype=np.uint8) for _ in range(4)]
        count = [0]
        zeros = np.zeros(robot.n)

        def images():
            stamp = self.node.get_clock().now().to_msg()
            for pub in cams:
                pub.publish(convert.array_to_image(frames[count[0] % 4], stamp, "cam"))
            count[0] += 1

        def joints():
            stamp = self.node.get_clock().now().to_msg()
            js.publish(convert.joint_state_msg(robot.names, robot.home, zeros, zeros, stamp))

        self.node.create_timer(1.0 / robot.rates.camera_hz, images)
        self.node.create_timer(1.0 / robot.rates.physics_hz, joints)

    def wait_for(self, prefix: str, timeout: float = 90.0) -> bool:
        """Spin until a /diagnostics status named prefix… has arrived."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and not self.all(prefix):
            self.executor.spin_once(timeout_sec=0.05)
        return bool(self.all(prefix))

    def spin_for(self, seconds: float):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.01)

    def last(self, prefix: str) -> dict:
        for name, values in self.status.items():
            if name.startswith(prefix):
                return values[-1]
        return {}

    def all(self, prefix: str) -> list[dict]:
        for name, values in self.status.items():
            if name.startswith(prefix):
                return values
        return []

    def close(self):
        self.node.destroy_node()
        self.rclpy.try_shutdown()


def _spawn(cmd, stdout=subprocess.DEVNULL):
    """A child in its own session; stderr (and stdout if asked) kept for error reports."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.STDOUT
                            if stdout == subprocess.PIPE else subprocess.PIPE, env=env,
                            start_new_session=True)


def _stop(proc) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    return ((out or b"") + (err or b"")).decode(errors="replace")


POLICY_KEYS = ("rate_target_hz", "rate_achieved_hz", "ticks", "deadline_misses",
               "image_to_torque_p50_ms", "image_to_torque_p99_ms", "inference_p50_ms",
               "inference_p99_ms", "published", "provider")


def bench_policy_node(ros: _Ros, robot, model_path: Path, seconds: float) -> dict:
    ros.status.clear()
    ros.feed(robot)
    proc = _spawn([sys.executable, "-m", "humanoid_manip.nodes.policy_node", "--ros-args",
                   "-p", f"model:={model_path}", "-p", "log_period_s:=0.0"])
    if not ros.wait_for("policy_node"):
        print(_stop(proc)[-3000:], file=sys.stderr)
        raise SystemExit("policy_node sent no /diagnostics")
    ros.spin_for(seconds)
    _stop(proc)
    last = ros.last("policy_node")
    return {"clock": "wall", "seconds": seconds, **{k: last.get(k) for k in POLICY_KEYS}}


def bench_sim_stack(ros: _Ros, model_path: Path, seconds: float) -> dict:
    ros.status.clear()
    proc = _spawn([sys.executable, "-m", "humanoid_manip.cli", "up", "sim", "--policy",
                   str(model_path), "--arg", "auto_reset:=false"], stdout=subprocess.PIPE)
    ros.wait_for("policy_node")
    ros.spin_for(seconds)
    out = _stop(proc)
    if not ros.all("policy_node") or not ros.all("sim_node"):
        print(out[-3000:], file=sys.stderr)
        raise SystemExit("the sim stack sent no /diagnostics")
    policy = ros.last("policy_node")
    sims = ros.all("sim_node")
    rtf = [s["real_time_factor"] for s in sims[3:] if isinstance(s.get("real_time_factor"),
                                                                   float)]
    last_sim = sims[-1] if sims else {}
    return {"clock": "simulated", "seconds": seconds,
            "policy": {k: policy.get(k) for k in POLICY_KEYS},
            "sim": {"real_time_factor_mean": float(np.mean(rtf)) if rtf else None,
                    "real_time_factor_min": float(np.min(rtf)) if rtf else None,
                    "real_time_factor_cap": last_sim.get("real_time_factor_cap"),
                    "sim_time_s": last_sim.get("sim_time_s"),
                    "render_3_cameras_p50_ms": last_sim.get("render_p50_ms"),
                    "render_3_cameras_p99_ms": last_sim.get("render_p99_ms"),
                    "lockstep_timeouts": last_sim.get("lockstep_timeouts"),
                    "cameras": 3}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "policy.json"))
    ap.add_argument("--quick", action="store_true", help="short runs (a smoke test)")
    ap.add_argument("--iters", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--node-seconds", type=float, default=20.0)
    ap.add_argument("--stack-seconds", type=float, default=40.0)
    ap.add_argument("--skip-nodes", action="store_true", help="in-process figures only")
    ap.add_argument("--export-inference", metavar="DIR",
                    help="write the network, weights and inputs to DIR and stop")
    ap.add_argument("--inference-from", metavar="DIR",
                    help="inference figures only, for the network in DIR (no MuJoCo/ROS needed)")
    args = ap.parse_args()
    if args.quick:
        args.iters, args.node_seconds, args.stack_seconds = 200, 8.0, 15.0
    import onnxruntime as ort

    if args.inference_from:
        result = {"machine": _machine(ort), "inference": bench_inference(
            inference_network(folder=Path(args.inference_from)), args.iters, args.threads)}
        _print_table(result)
        _write(result, args.out)
        return 0
    from humanoid_manip.robot import load_robot

    robot = load_robot()
    if args.export_inference:
        model, w, feeds = inference_network(robot)
        d = Path(args.export_inference)
        d.mkdir(parents=True, exist_ok=True)
        (d / "cnn_policy.onnx").write_bytes(model)
        np.savez(d / "weights.npz", **w)
        np.savez(d / "inputs.npz", **feeds)
        print(f"wrote {d}")
        return 0

    result = {"machine": _machine(ort)}
    print("inference …", flush=True)
    result["inference"] = bench_inference(inference_network(robot), args.iters, args.threads)
    print("simulation core …", flush=True)
    result["sim_core"] = bench_sim_core(2.0 if args.quick else 4.0)
    if not args.skip_nodes:
        with tempfile.TemporaryDirectory() as tmp:
            model_path = save(cnn_policy(robot, seed=0, tasks=("pick_place",))[0],
                              Path(tmp) / "cnn_policy.onnx")
            ros = _Ros()
            try:
                print("policy_node on wall time …", flush=True)
                result["policy_node"] = bench_policy_node(ros, robot, model_path,
                                                          args.node_seconds)
            finally:
                ros.close()
            ros = _Ros()
            try:
                print("sim stack …", flush=True)
                result["sim_stack"] = bench_sim_stack(ros, model_path, args.stack_seconds)
            finally:
                ros.close()
    result["machine"]["load_avg_at_end"] = os.getloadavg()[0]
    _print_table(result)
    _write(result, args.out)
    return 0


def _machine(ort) -> dict:
    return {"cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "onnxruntime": ort.__version__,
            "providers": ort.get_available_providers(), "load_avg_at_start": os.getloadavg()[0]}


def _write(result: dict, path) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


def _f(v, fmt="{:.2f}"):
    return "n/a" if v is None else (fmt.format(v) if isinstance(v, float) else str(v))


def _print_table(r: dict) -> None:
    inf = r["inference"]
    rows = [("ONNX Runtime p50 / p99 (ms)", f"{_f(inf['onnxruntime']['p50_ms'], '{:.3f}')} / "
                                            f"{_f(inf['onnxruntime']['p99_ms'], '{:.3f}')}")]
    if inf["pytorch_eager"]:
        rows += [("PyTorch eager p50 / p99 (ms)",
                  f"{inf['pytorch_eager']['p50_ms']:.3f} / {inf['pytorch_eager']['p99_ms']:.3f}"),
                 ("PyTorch / ONNX Runtime (p50)",
                  f"{inf['ratio_pytorch_over_onnxruntime_p50']:.2f}x  (max |Δτ| "
                  f"{inf['max_abs_diff_nm']:.1e} N·m)")]
    else:
        rows.append(("PyTorch eager", inf.get("pytorch_note", "n/a")))
    sc = r.get("sim_core")
    if sc is not None:
        rows += [("sim core RTF physics only", _f(sc["physics_only_real_time_factor"])),
                 ("sim core RTF physics + 3 cameras",
                  _f(sc["physics_and_3_cameras_real_time_factor"])),
                 ("render 3 cameras p50 (ms)", _f(sc["render_3_cameras"]["p50_ms"], "{:.1f}"))]
    for key, label in (("policy_node", "policy_node (wall time)"),):
        if key in r:
            p = r[key]
            rows += [(f"{label} rate", f"{_f(p['rate_achieved_hz'], '{:.1f}')} / "
                                       f"{_f(p['rate_target_hz'], '{:.0f}')} Hz, "
                                       f"{_f(p['deadline_misses'], '{:.0f}')} misses in "
                                       f"{_f(p['ticks'], '{:.0f}')} ticks"),
                     (f"{label} image→torque p50/p99",
                      f"{_f(p['image_to_torque_p50_ms'])} / {_f(p['image_to_torque_p99_ms'])} ms")]
    if "sim_stack" in r:
        p, s = r["sim_stack"]["policy"], r["sim_stack"]["sim"]
        rows += [("sim stack: sim RTF, 3 cameras (mean/min)",
                  f"{_f(s['real_time_factor_mean'])} / {_f(s['real_time_factor_min'])}"),
                 ("sim stack: policy rate (sim time)",
                  f"{_f(p['rate_achieved_hz'], '{:.1f}')} / {_f(p['rate_target_hz'], '{:.0f}')}"
                  f" Hz, {_f(p['deadline_misses'], '{:.0f}')} misses in "
                  f"{_f(p['ticks'], '{:.0f}')} ticks"),
                 ("sim stack: image→torque p50/p99 (wall)",
                  f"{_f(p['image_to_torque_p50_ms'])} / {_f(p['image_to_torque_p99_ms'])} ms")]
    width = max(len(k) for k, _ in rows)
    print(f"\n{'figure':<{width}}  value")
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    sys.exit(main())
