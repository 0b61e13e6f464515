"""Value types for every command's options, so a bad value fails while the command line is read:
one line naming the option and what would be right, exit status 2, before any work starts.

Use them as `p.add_argument("--episodes", type=positive_int, …)`. test/test_cli_bad_input.py
walks every verb's options and feeds each type its bad values, so a new verb is covered as soon
as its options use these types (plain int/float/str options fail that test unless listed there
as free text).

Output files are checked twice: the type checks that the file can be created (its folder exists
or can be made, and is writable); check_outputs(args), run by cli.main after parsing, refuses an
existing one unless the command has --force and it was given.
"""
from __future__ import annotations

import argparse
import math
import os
import tempfile
from pathlib import Path

from humanoid_manip.errors import HumanoidManipError

ArgumentTypeError = argparse.ArgumentTypeError


class OutputExistsError(HumanoidManipError):
    """An output file exists and --force was not given."""


def _number(text: str, kind: type, what: str):
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise ArgumentTypeError(f"{what} expected, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ArgumentTypeError(f"{what} expected, got {text!r} (not a finite number)")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (counts: episodes, steps, rounds)."""
    value = _number(text, int, "an integer >= 1")
    if value < 1:
        raise ArgumentTypeError(f"an integer >= 1 expected, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0 (seeds, delays, optional counts)."""
    value = _number(text, int, "an integer >= 0")
    if value < 0:
        raise ArgumentTypeError(f"an integer >= 0 expected, got {text!r}")
    return value


def finite_float(text: str) -> float:
    """Any finite number (no NaN or infinity)."""
    return _number(text, float, "a finite number")


def positive_float(text: str) -> float:
    """A finite number > 0 (durations, rates, speeds)."""
    value = _number(text, float, "a number > 0")
    if value <= 0:
        raise ArgumentTypeError(f"a number > 0 expected, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0 (where 0 means 'none' or 'no limit')."""
    value = _number(text, float, "a number >= 0")
    if value < 0:
        raise ArgumentTypeError(f"a number >= 0 expected, got {text!r}")
    return value


def port(text: str) -> int:
    """A TCP port, 1-65535."""
    value = _number(text, int, "a port number (1-65535)")
    if not 1 <= value <= 65535:
        raise ArgumentTypeError(f"a port number (1-65535) expected, got {text!r}")
    return value


def task_name(text: str) -> str:
    """A registered task (config/tasks.yaml)."""
    from humanoid_manip.sim.tasks.base import task_names

    names = task_names()
    if text not in names:
        raise ArgumentTypeError(f"unknown task {text!r}; valid: {', '.join(names)}")
    return text


def task_file(text: str) -> tuple[str, str]:
    """TASK=FILE: a registered task and a readable file (a bundle's part)."""
    task, sep, file = text.partition("=")
    if not sep:
        raise ArgumentTypeError(f"TASK=FILE expected, got {text!r}")
    return task_name(task), existing_file(file)


def _readable(path: Path, text: str) -> None:
    if not os.access(path, os.R_OK):
        raise ArgumentTypeError(f"{text!r} is not readable")


def existing_file(text: str) -> str:
    """A readable file."""
    p = Path(text).expanduser()
    if not p.exists():
        raise ArgumentTypeError(f"{text!r} does not exist")
    if not p.is_file():
        raise ArgumentTypeError(f"{text!r} is not a file")
    _readable(p, text)
    return text


def existing_dir(text: str) -> str:
    """A readable folder."""
    p = Path(text).expanduser()
    if not p.exists():
        raise ArgumentTypeError(f"{text!r} does not exist")
    if not p.is_dir():
        raise ArgumentTypeError(f"{text!r} is not a folder")
    _readable(p, text)
    return text


def existing_path(text: str) -> str:
    """A readable file or folder."""
    p = Path(text).expanduser()
    if not p.exists():
        raise ArgumentTypeError(f"{text!r} does not exist")
    _readable(p, text)
    return text


def policy_file(text: str) -> str:
    """An .onnx policy file, or 'default' (what the stack runs)."""
    return text if text == "default" else existing_file(text)


def _creatable(p: Path, text: str) -> None:
    """The nearest existing ancestor of p is a folder we can create files in."""
    ancestor = p.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ArgumentTypeError(f"cannot write {text!r}: {ancestor} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=ancestor):
            pass
    except OSError:
        raise ArgumentTypeError(f"cannot write {text!r}: no file can be created in "
                                f"{ancestor}") from None


class OutputFile(str):
    """A file to create (see check_outputs)."""


def output_file(text: str) -> OutputFile:
    """A file to write: creatable here; an existing one needs --force (check_outputs)."""
    if not text:
        raise ArgumentTypeError("a file name expected, got ''")
    p = Path(text).expanduser()
    if p.is_dir():
        raise ArgumentTypeError(f"{text!r} is a folder, not a file")
    _creatable(p, text)
    return OutputFile(text)


def output_dir(text: str) -> str:
    """A folder to write into: an existing writable folder, or one that can be created."""
    if not text:
        raise ArgumentTypeError("a folder name expected, got ''")
    p = Path(text).expanduser()
    if p.exists() and not p.is_dir():
        raise ArgumentTypeError(f"{text!r} exists and is not a folder")
    _creatable(p / "x", text)
    return text


def new_dir(text: str) -> str:
    """A folder to create: it must not exist yet."""
    if not text:
        raise ArgumentTypeError("a folder name expected, got ''")
    p = Path(text).expanduser()
    if p.exists():
        raise ArgumentTypeError(f"{text!r} exists; give a new folder")
    _creatable(p, text)
    return text


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse an OutputFile that exists, unless args.force (the command's --force) is set."""
    force = bool(getattr(args, "force", False))
    for value in vars(args).values():
        if isinstance(value, OutputFile) and Path(value).expanduser().exists() and not force:
            hint = ("pass --force to overwrite it" if hasattr(args, "force")
                    else "choose another name")
            raise OutputExistsError(f"{value} exists; {hint}")

