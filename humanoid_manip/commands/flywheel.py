"""`humanoid-manip flywheel`: collect, train, evaluate, correct, retrain (learn/cli.py)."""
from __future__ import annotations

from humanoid_manip.learn import cli as _learn

HELP = _learn.VERBS["flywheel"][0]


def add_arguments(p) -> None:
    _learn.VERBS["flywheel"][1](p)


def run(args) -> int:
    args.learn_command = "flywheel"
    return _learn.run(args)
