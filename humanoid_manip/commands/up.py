"""`humanoid-manip up`: a stack's nodes as child processes, from the config launch files read."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from humanoid_manip.commands._args import (
    existing_file,
    non_negative_float,
    non_negative_int,
    output_file,
    task_name,
)

HELP = ("start a stack (sim, hardware, teleop) as the launch files would, without a ROS install; "
        "runs until Ctrl-C or --duration")

# Options for the stack arguments of config/stack.yaml (also settable as --arg NAME:=VALUE).
OPTIONS = ("policy", "task", "seed", "real_time_factor", "enable", "view", "namespace",
           "use_sim_time")


def add_arguments(p) -> None:
    p.add_argument("stack", nargs="?", default="sim",
                   help="which stack of config/stack.yaml: sim (default), hardware, teleop")
    p.add_argument("--policy", metavar="ONNX", type=existing_file,
                   help="policy file (default: config/policy.yaml model, the shipped "
                        "policies/default.onnx)")
    p.add_argument("--task", type=task_name, help="task name (default: config/stack.yaml)")
    p.add_argument("--seed", type=non_negative_int, help="first episode's seed")
    p.add_argument("--real-time-factor", dest="real_time_factor", type=non_negative_float,
                   help="sim speed cap, 0 = as fast as it can (default 1)")
    p.add_argument("--enable", action="store_const", const="true",
                   help="arm the safety monitor as soon as joint states arrive, so the policy "
                        "drives the robot (sim stack; hardware needs an explicit ~/enable)")
    p.add_argument("--view", action="store_const", const="true",
                   help="also run view_node: the stack in Rerun's web viewer at "
                        "http://127.0.0.1:9090 (it only subscribes; the teleop stack runs it "
                        "anyway)")
    p.add_argument("--no-view", dest="view", action="store_const", const="false",
                   help="without view_node (the teleop stack runs it by default)")
    p.add_argument("--namespace", help="ROS namespace for every node")
    p.add_argument("--use-sim-time", dest="use_sim_time", choices=("true", "false"))
    p.add_argument("--arg", action="append", default=[], metavar="NAME:=VALUE",
                   help="any stack argument, as for ros2 launch")
    p.add_argument("--duration", type=non_negative_float, default=0.0,
                   help="stop after this many wall-clock seconds (default 0: until Ctrl-C)")
    p.add_argument("--stack-config", metavar="YAML", type=existing_file,
                   help="stack description (default: config/)")
    p.add_argument("--print", dest="print_only", action="store_true",
                   help="print the commands and parameters, start nothing")
    p.add_argument("--log", metavar="FILE", type=output_file,
                   help="append the nodes' output to FILE; the terminal then shows only their "
                        "warnings and errors")


def _values(args, stack) -> dict:
    from humanoid_manip.errors import ConfigError

    texts = {name: str(getattr(args, name)) for name in OPTIONS
             if getattr(args, name) is not None}
    for item in args.arg:
        if ":=" not in item:
            raise ConfigError(f"--arg {item!r}: write NAME:=VALUE")
        k, v = item.split(":=", 1)
        texts[k.strip()] = v
    if texts.get("policy"):
        texts["policy"] = str(Path(texts["policy"]).expanduser().resolve())
    return {k: stack.argument(k).parse(v) for k, v in texts.items()}


def _shown(node, cmd: list[str]) -> str:
    """A node's command line with its parameters as -p NAME:=VALUE (the parameter file `up`
    writes is temporary), ready to paste into a shell."""
    import shlex

    def text(v) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if len(str(v)) > 200:  # robot_description: the URDF's text
            return f"<{len(str(v))} characters>"
        return shlex.quote(str(v)) if v != "" else "''"

    i = cmd.index("--params-file")
    params = [f"-p {k}:={text(v)}" for k, v in node.parameters.items()]
    return " ".join([shlex.join(cmd[:i]), *params, shlex.join(cmd[i + 2:])]).rstrip()


def shown_with_log(line: str) -> bool:
    """With --log, a node's output line still shown on the terminal: all but info and debug
    log lines (warnings, errors, and what is not a log line, such as a refusal or traceback)."""
    return not line.startswith(("[INFO]", "[DEBUG]"))


class _Output:
    """Where the nodes' lines go: the terminal, or a log file and the terminal's share."""

    def __init__(self, log: Path | None):
        self.lock = threading.Lock()
        self.file = None
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            self.file = open(log, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        # a status line being redrawn on the terminal (the keyboard driver's) is cleared first
        self.clear = "\r\033[K" if sys.stdout.isatty() else ""

    def line(self, text: str, node_line: bool = True, terminal: bool = True) -> None:
        """A line of a node (node_line) or of up's own; `terminal` False: the log file's only
        when there is one."""
        with self.lock:
            if self.file is not None:
                self.file.write(text + "\n")
                self.file.flush()
                if not terminal or (node_line and not shown_with_log(text.split("] ", 1)[-1])):
                    return
            print(f"{self.clear}{text}", flush=True)

    def close(self) -> None:
        with self.lock:
            if self.file is not None:
                self.file.close()
                self.file = None


class _Child:
    def __init__(self, node, cmd, env, output: _Output):
        self.node, self.cmd = node, cmd
        self.output = output
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        self.reader = threading.Thread(target=self._pump, daemon=True)
        self.reader.start()
        self.stopped_by_us = False

    def _pump(self) -> None:
        width = 20
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.output.line(f"[{self.node.name:<{width}}] {line}")

    def signal(self, sig) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass


def run(args) -> int:
    from humanoid_manip.stack import executable_path, load_stack, resolve

    stack = load_stack(args.stack, args.stack_config)
    nodes = resolve(stack, _values(args, stack))
    # another package's node (robot_state_publisher) runs only where a ROS 2 install has it
    absent = [n for n in nodes if not n.own and executable_path(n) is None]
    nodes = [n for n in nodes if n.own or executable_path(n) is not None]
    if not nodes:
        print(f"up {stack.name}: this stack has no nodes yet ({stack.description})")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix=f"humanoid_manip_up_{stack.name}_"))
    try:
        return _start(args, stack, nodes, absent, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the nodes read their parameters at start


def _start(args, stack, nodes, absent, tmp: Path) -> int:
    from humanoid_manip.stack import node_command, params_yaml

    commands = []
    for node in nodes:
        pf = tmp / f"{node.name}.params.yaml"
        pf.write_text(params_yaml(node))
        commands.append((node, node_command(node, pf)))
    output = _Output(None if args.print_only or not args.log else Path(args.log))
    output.line(f"up {stack.name}: {stack.description}", node_line=False)
    for node, _ in commands:
        output.line(f"  {node.name:<20} {node.describe()}", node_line=False, terminal=False)
    for node in absent:
        output.line(f"  {node.name:<20} not started: {node.package}/{node.executable} is not "
                    "installed here (ros2 launch starts it from a ROS 2 install)", node_line=False)
    if args.print_only:
        for node, cmd in commands:
            print(_shown(node, cmd))
        return 0
    if args.log:
        print(f"up {stack.name}: node output in {args.log} (warnings and errors also here)")

    from humanoid_manip.nodes import LAUNCHER_PID_ENV

    env = dict(os.environ)
    env.setdefault("MUJOCO_GL", "egl")
    env["PYTHONUNBUFFERED"] = "1"
    env[LAUNCHER_PID_ENV] = str(os.getpid())  # a killed `up` leaves no node running
    env.setdefault("RCUTILS_COLORIZED_OUTPUT", "0")
    env.setdefault("RCUTILS_CONSOLE_OUTPUT_FORMAT", "[{severity}] {message}")

    stop = threading.Event()
    reason = ["stopped"]

    def on_signal(signum, _frame):
        reason[0] = f"got {signal.Signals(signum).name}"
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    children: list[_Child] = []
    t0 = time.monotonic()
    try:
        for node, cmd in commands:
            children.append(_Child(node, cmd, env, output))
        output.line(f"up {stack.name}: started {len(children)} nodes "
                    f"({'until Ctrl-C' if args.duration <= 0 else f'for {args.duration:g} s'})",
                    node_line=False)
        while not stop.is_set():
            if args.duration > 0 and time.monotonic() - t0 >= args.duration:
                reason[0] = f"--duration {args.duration:g} s reached"
                break
            dead = [c for c in children if c.proc.poll() is not None]
            if dead:
                reason[0] = f"{dead[0].node.name} exited with code {dead[0].proc.returncode}"
                break
            stop.wait(0.2)
    finally:
        _shutdown(children)
        for s, h in old.items():
            signal.signal(s, h)
        output.close()
    return _summary(stack.name, children, reason[0], time.monotonic() - t0)


def _shutdown(children) -> None:
    """SIGINT each node in reverse start order, waiting for each, then SIGTERM, then SIGKILL.

    Reverse order stops the consumers before the sim: /clock keeps running while they shut
    down, and the monitor's last (zero) command still reaches a live sim.
    """
    for c in reversed(children):
        if c.proc.poll() is None:
            c.stopped_by_us = True
            c.signal(signal.SIGINT)
            try:
                c.proc.wait(10.0)
            except subprocess.TimeoutExpired:
                pass
    for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        running = [c for c in children if c.proc.poll() is None]
        if not running:
            break
        for c in running:
            print(f"up: {c.node.name} did not stop; sending {sig.name}", flush=True)
            c.signal(sig)
        deadline = time.monotonic() + wait_s
        for c in running:
            try:
                c.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
    for c in children:
        c.reader.join(timeout=2.0)


def _summary(name, children, reason, wall) -> int:
    print(f"up {name}: {reason}; ran {wall:.1f} s")
    ok = True
    for c in children:
        rc = c.proc.returncode
        clean = c.stopped_by_us and rc in (0, -signal.SIGINT, 130)
        ok &= clean
        print(f"  {c.node.name:<20} exit code {rc}{'' if clean else '  (not a clean stop)'}")
    sys.stdout.flush()
    return 0 if ok else 1
