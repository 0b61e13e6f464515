"""Benchmark of data collection: scripted episodes recorded per minute (teleop path, safety
monitor, three cameras, in one process) and recorder_node throughput over DDS (MB/s written,
camera frames received of those sent at 30 Hz × 3, and at full speed). Prints a table and
writes JSON.

    .venv/bin/python bench/bench_collect.py [--task pick_place] [--episodes 2]
        [--recorder-seconds 5] [--out bench/collect.json]
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
ROOT = Path(__file__).resolve().parents[1]
CAMERAS = ("head_camera", "left_wrist_camera", "right_wrist_camera")


def bench_collect(task: str, episodes: int, seed: int) -> dict:
    from humanoid_manip.loop import EpisodeJob, run_job
    from humanoid_manip.loop.jobs import close_cached

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        for i in range(episodes):
            r = run_job(EpisodeJob(task, seed + i, "teleop", out_dir=tmp, index=i))
            rows.append({"seed": r.seed, "success": r.success, "sim_s": round(r.sim_time_s, 2),
                         "wall_s": round(r.wall_s, 2), "MB": round(r.bytes / 1e6, 3)})
        wall = time.perf_counter() - t0
    close_cached()
    mb = sum(r["MB"] for r in rows)
    sim_s = sum(r["sim_s"] for r in rows)
    return {"task": task, "episodes": episodes, "successes": sum(r["success"] for r in rows),
            "wall_s": round(wall, 2), "episodes_per_minute": round(60 * episodes / wall, 3),
            "sim_seconds_per_wall_second": round(sim_s / wall, 3),
            "write_MB_per_s": round(mb / wall, 3), "MB_per_episode": round(mb / episodes, 3),
            "per_episode": rows}


def bench_recorder(seconds: float, full_speed: bool) -> dict:
    """recorder_node in a child process; this process publishes cameras, states, commands."""
    import numpy as np
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image, JointState
    from std_msgs.msg import Float64MultiArray
    from std_srvs.srv import Trigger

    from humanoid_manip.data.episode import read_episode
    from humanoid_manip.robot import load_robot

    robot = load_robot()
    w, h = robot.image.width, robot.image.height
    tmp = tempfile.mkdtemp(prefix="bench_rec_")
    name = f"bench_rec_{int(full_speed)}"
    proc = subprocess.Popen([sys.executable, "-m", "humanoid_manip.nodes.recorder_node",
                             "--ros-args", "-r", f"__node:={name}", "-p", f"out_dir:={tmp}"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not rclpy.ok():
        rclpy.init()
    node = rclpy.create_node(f"bench_pub_{int(full_speed)}")
    be = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)
    rel = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    cams = {c: node.create_publisher(Image, f"/{c}/image_raw", be) for c in CAMERAS}
    js = node.create_publisher(JointState, "/joint_states", be)
    cmd = node.create_publisher(Float64MultiArray, "/effort_controller/commands", rel)
    try:
        client = node.create_client(Trigger, f"/{name}/start")
        assert client.wait_for_service(timeout_sec=30), "recorder did not come up"
        deadline = time.time() + 20
        while any(p.get_subscription_count() == 0 for p in cams.values()):
            assert time.time() < deadline, "recorder never subscribed"
            time.sleep(0.1)
        f = client.call_async(Trigger.Request())
        rclpy.spin_until_future_complete(node, f, timeout_sec=10)
        time.sleep(0.3)
        rng = np.random.default_rng(0)
        frames = [rng.integers(0, 255, (h, w, 3), dtype=np.uint8).tobytes() for _ in range(8)]
        names = list(robot.names)
        q = np.zeros(robot.n).tolist()
        sent = 0
        t0 = time.perf_counter()
        k = 0
        while time.perf_counter() - t0 < seconds:
            if not full_speed:
                time.sleep(max(0.0, t0 + k / 500.0 - time.perf_counter()))
            if not full_speed:  # at full speed: cameras only (a reliable queue would fill)
                js.publish(JointState(name=names, position=q, velocity=q, effort=q))
                cmd.publish(Float64MultiArray(data=q))
            if full_speed or time.perf_counter() - t0 >= sent / 30.0:  # cameras at 30 Hz
                for pub in cams.values():
                    pub.publish(Image(height=h, width=w, encoding="rgb8", step=3 * w,
                                      data=frames[(sent + k) % 8]))
                sent += 1
            k += 1
        pub_s = time.perf_counter() - t0
        time.sleep(0.5)
        stop = node.create_client(Trigger, f"/{name}/stop")
        f = stop.call_async(Trigger.Request())
        rclpy.spin_until_future_complete(node, f, timeout_sec=20)
        path = Path(f.result().message)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        node.destroy_node()
    ep = read_episode(path)
    got = min(len(ep.images[c][0]) for c in CAMERAS)
    size = path.stat().st_size / 1e6
    return {"mode": "cameras at full speed" if full_speed else "30 Hz cameras + 500 Hz states",
            "seconds": round(pub_s, 2), "camera_frames_sent": sent,
            "camera_frames_recorded": got, "frames_lost_pct": round(100 * (1 - got / sent), 2),
            "joint_states_recorded": int(ep.counts.get("/joint_states", 0)),
            "joint_states_sent": 0 if full_speed else k, "file_MB": round(size, 3),
            "recorder_MB_per_s": round(size / pub_s, 3),
            "image_MB_per_s": round(got * len(CAMERAS) * w * h * 3 / 1e6 / pub_s, 3)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="pick_place")
    p.add_argument("--episodes", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--recorder-seconds", type=float, default=5.0)
    p.add_argument("--out", default=str(Path(__file__).with_name("collect.json")))
    args = p.parse_args(argv)

    collect = bench_collect(args.task, args.episodes, args.seed)
    recorder = [bench_recorder(args.recorder_seconds, False),
                bench_recorder(args.recorder_seconds, True)]
    import rclpy

    rclpy.try_shutdown()
    result = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "platform": platform.platform()},
              "collect": collect, "recorder": recorder, "when": time.strftime("%Y-%m-%d %H:%M")}
    print(f"\ncollection ({collect['task']}, teleop path + safety monitor + 3 cameras, "
          "one process):")
    print(f"  {collect['episodes_per_minute']:.2f} episodes/min, "
          f"{collect['successes']}/{collect['episodes']} successful, "
          f"{collect['sim_seconds_per_wall_second']:.2f} sim s per wall s, "
          f"{collect['MB_per_episode']:.2f} MB/episode, {collect['write_MB_per_s']:.2f} MB/s")
    print("\nrecorder_node over DDS:")
    print(f"  {'mode':<32}{'MB/s':>8}{'frames sent':>13}{'recorded':>10}{'lost %':>8}")
    for r in recorder:
        print(f"  {r['mode']:<32}{r['recorder_MB_per_s']:>8.2f}{r['camera_frames_sent']:>13}"
              f"{r['camera_frames_recorded']:>10}{r['frames_lost_pct']:>8.2f}")
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
