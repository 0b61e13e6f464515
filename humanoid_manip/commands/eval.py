"""`humanoid-manip eval`: the learning pipeline's eval step (humanoid_manip/learn/cli.py)."""
from __future__ import annotations

from humanoid_manip.learn import cli as _learn

HELP = _learn.VERBS["eval"][0]


def add_arguments(p) -> None:
    _learn.VERBS["eval"][1](p)


def run(args) -> int:
    args.learn_command = "eval"
    return _learn.run(args)
