"""The `humanoid-manip` command: one verb per module in humanoid_manip/commands/."""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from humanoid_manip import __version__
from humanoid_manip.commands._args import check_outputs
from humanoid_manip.errors import HumanoidManipError

# One module per verb; each defines HELP, add_arguments(parser) and run(args) -> int.
COMMANDS = ("robot", "demo", "up", "data", "collect", "teleop", "tasks", "expert", "train",
            "export", "eval", "flywheel", "ship", "bundle", "average", "reset")


class Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line (and where to look), not the usage dump."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="humanoid-manip",
        description="Bimanual humanoid manipulation driven by one learned "
                    "pixels-to-torque policy: robot description, simulation, safety monitor, "
                    "data and learning tools.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"humanoid_manip.commands.{name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen rendering without a display
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # a bad command line (told on stderr), --help or --version
        return exc.code if isinstance(exc.code, int) else 2
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        check_outputs(args)
        return int(args._run(args) or 0)
    except HumanoidManipError as exc:
        print(f"humanoid-manip {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `humanoid-manip robot | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"humanoid-manip {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
