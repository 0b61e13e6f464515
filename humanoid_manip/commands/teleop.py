"""`humanoid-manip teleop`: a human (or a recorded stream) drives the simulated robot, recorded."""
from __future__ import annotations

from humanoid_manip.commands._args import (
    existing_file,
    non_negative_float,
    non_negative_int,
    output_dir,
    positive_float,
    task_name,
)

HELP = ("teleoperate the simulated robot with a device (keyboard, or a recorded hand stream) "
        "and record the session as an episode")


def add_arguments(p) -> None:
    p.add_argument("--device", required=True, choices=("keyboard", "replay"),
                   help="keyboard (terminal keys) or replay (a .jsonl/.csv hand stream)")
    p.add_argument("file", nargs="?", type=existing_file,
                   help="the hand-stream file, for --device replay")
    p.add_argument("--task", default=None, type=task_name,
                   help="task (default: config/stack.yaml's)")
    p.add_argument("--seed", type=non_negative_int, default=None, help="the episode's seed")
    p.add_argument("--out", default="episodes", type=output_dir,
                   help="folder for the episode (default episodes/)")
    p.add_argument("--operator", default="", help="who is operating (recorded)")
    p.add_argument("--speed", type=positive_float, default=None, help="replay speed factor")
    p.add_argument("--outcome", choices=("success", "failure"), default=None,
                   help="--device replay: the episode's outcome label, given to the recorder at "
                        "the stream's end (the keyboard operator presses y or n)")
    p.add_argument("--real-time-factor", dest="real_time_factor", type=non_negative_float,
                   default=None, help="sim speed cap, 0 = none (default 1)")
    p.add_argument("--no-view", dest="view", action="store_false",
                   help="without the live view (view_node: the robot, the three cameras, the "
                        "palm targets and the deadman in Rerun's web viewer)")
    p.add_argument("--verbose", action="store_true",
                   help="show every node's log here (default: into OUT/logs/, with warnings and "
                        "errors shown here, so the status line stays readable)")


def run(args) -> int:
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from humanoid_manip.errors import ConfigError

    if args.outcome and args.device != "replay":
        raise ConfigError("--outcome labels a replayed stream; the keyboard operator presses y "
                          "(success) or n (failure)")
    if args.device == "replay":
        if not args.file:
            raise ConfigError("--device replay needs the hand-stream FILE")
        from humanoid_manip.teleop.replay import read_hand_stream

        read_hand_stream(args.file)  # fail early, with the reason, before starting anything
    out = Path(args.out).resolve()
    up = [sys.executable, "-m", "humanoid_manip", "up", "teleop",
          "--arg", f"out:={out}", "--arg", f"operator:={args.operator}"]
    if not args.view:
        up.append("--no-view")
    if not args.verbose:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        up += ["--log", str(out / "logs" / f"teleop_{stamp}.log")]
    if args.task:
        up += ["--task", args.task]
    if args.seed is not None:
        up += ["--seed", str(args.seed)]
    if args.real_time_factor is not None:
        up += ["--real-time-factor", str(args.real_time_factor)]
    driver = [sys.executable, "-m", f"humanoid_manip.nodes.{args.device}_driver", "--ros-args",
              "-p", "use_sim_time:=true"]
    if args.device == "replay":
        driver += ["-p", f"file:={Path(args.file).resolve()}", "-p", "arm_safety:=true",
                   "-p", "stop_recorder:=true", "-p", "exit_when_done:=true"]
        if args.speed is not None:
            driver += ["-p", f"speed:={args.speed}"]
        if args.outcome:
            driver += ["-p", f"outcome:={args.outcome}"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")

    def on_term(_signum, _frame):
        raise KeyboardInterrupt  # a SIGTERM ends the session as Ctrl-C does: the stack stops

    signal.signal(signal.SIGTERM, on_term)
    stack = subprocess.Popen(up, env=env, stdin=subprocess.DEVNULL)
    rc = 0
    try:
        time.sleep(1.0)
        if stack.poll() is not None:
            return stack.returncode or 1
        if args.view:  # view_node logs this URL too (into the log file): it serves both ports
            from urllib.parse import quote

            from humanoid_manip.viz import GRPC_PORT, WEB_PORT

            data = quote(f"rerun+http://127.0.0.1:{GRPC_PORT}/proxy", safe="")
            print(f"live view: open http://127.0.0.1:{WEB_PORT}/?url={data} in a browser "
                  "(--no-view: without)", flush=True)
        if args.device == "keyboard":
            print("keyboard: e arms the safety monitor, space holds the deadman, y/n mark the "
                  "outcome; Ctrl-C ends the session", flush=True)
        rc = subprocess.call(driver, env=env)
        time.sleep(1.0)  # the recorder's stop call and last messages
    except KeyboardInterrupt:
        rc = 130
    finally:
        if stack.poll() is None:
            stack.send_signal(signal.SIGINT)
        try:
            stack.wait(timeout=40)
        except subprocess.TimeoutExpired:
            stack.kill()
    print(f"teleop: session over; episodes in {out}")
    return 0 if rc in (0, 130, -signal.SIGINT) else rc
