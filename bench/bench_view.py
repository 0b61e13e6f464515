"""Benchmark of the live view's cost to the sim stack: `up sim` with and without `--view`, the
same seeds, alternating; reports the simulated seconds reached per wall second, the first
episode's end (its state hash must be the same: the view only subscribes), and the CPU the
view node used. Prints a table and writes JSON.

    .venv/bin/python bench/bench_view.py [--seconds 90] [--rounds 1]
        [--out bench/results/view.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid()).randint(101, 200)))
ROOT = Path(__file__).resolve().parents[1]
SIM_T = re.compile(r"\[sim_node\s*\] \[INFO\] t=([0-9.]+) s sim")
ENDED = re.compile(r"episode 0 \(.*\) ended: (\w+), progress ([0-9.]+) after ([0-9.]+) s, "
                   r"state (\w+)")


def run(view: bool, seconds: float, web_port: int) -> dict:
    cmd = [sys.executable, "-m", "humanoid_manip.cli", "up", "sim", "--enable", "--task",
           "dryer_open", "--seed", "1000015"] + (["--view"] if view else [])
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    t0 = time.monotonic()
    cpu: dict[str, float] = {}
    load = os.getloadavg()[0]
    while time.monotonic() - t0 < seconds:
        time.sleep(1.0)
        for child in psutil.Process(proc.pid).children(recursive=True):
            try:
                name = next((a.split(".")[-1] for a in child.cmdline()
                             if a.startswith("humanoid_manip.nodes.")), None)
                if name:
                    t = child.cpu_times()
                    cpu[name] = t.user + t.system
            except psutil.Error:
                pass
    wall = time.monotonic() - t0
    proc.send_signal(signal.SIGINT)
    proc.wait(60)
    reader.join(10)
    text = "".join(lines)
    sim_t = [float(x) for x in SIM_T.findall(text)]
    ended = ENDED.search(text)
    return {"view": view, "wall_s": round(wall, 1), "sim_s": sim_t[-1] if sim_t else None,
            "sim_per_wall": round(sim_t[-1] / wall, 4) if sim_t else None,
            "episode0": dict(zip(("outcome", "progress", "time_s", "state"), ended.groups()))
            if ended else None,
            "cpu_s": {k: round(v, 1) for k, v in sorted(cpu.items())},
            "load_avg_at_start": round(load, 1), "exit_code": proc.returncode}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=90.0)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "view.json"))
    args = ap.parse_args()
    rows = []
    for _ in range(args.rounds):
        for view in (False, True):
            rows.append(run(view, args.seconds, 9090))
            print(json.dumps(rows[-1]), flush=True)
    print(f"\n{'view':<6} {'wall s':>7} {'sim s':>7} {'sim/wall':>9} {'episode 0':<34} "
          f"{'view_node cpu s':>15} {'sim_node cpu s':>14} {'load':>5}")
    for r in rows:
        e = r["episode0"] or {}
        ep = f"{e.get('outcome', '-')} {e.get('time_s', '')} s {e.get('state', '')}"
        print(f"{'yes' if r['view'] else 'no':<6} {r['wall_s']:>7} {r['sim_s'] or '-':>7} "
              f"{r['sim_per_wall'] or '-':>9} {ep:<34} {r['cpu_s'].get('view_node', 0):>15} "
              f"{r['cpu_s'].get('sim_node', 0):>14} {r['load_avg_at_start']:>5}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": platform.node(), "cpus": os.cpu_count(),
                               "runs": rows}, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
