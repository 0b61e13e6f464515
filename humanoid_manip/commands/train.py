"""`humanoid-manip train`: the learning pipeline's train step (humanoid_manip/learn/cli.py)."""
from __future__ import annotations

from humanoid_manip.learn import cli as _learn

HELP = _learn.VERBS["train"][0]


def add_arguments(p) -> None:
    _learn.VERBS["train"][1](p)


def run(args) -> int:
    args.learn_command = "train"
    return _learn.run(args)
