"""Bad input, table-driven: every option of every verb of `humanoid-manip` (read from
cli.build_parser(), so a verb added later is walked too) is fed bad values for its type and must
fail with exit status 2 and one line on stderr, no traceback, before any work starts; then the
cases that only show at run time (existing outputs, unreadable inputs, datasets where every
file fails) from an explicit table.

An option typed with a plain int/float, or taking free text not listed in FREE_TEXT, fails
test_every_option_has_a_checked_type: give it a type from humanoid_manip/commands/_args.py.
"""
from __future__ import annotations

import argparse

import pytest

from humanoid_manip.cli import build_parser, main
from humanoid_manip.commands import _args
from humanoid_manip.data.synth import write_synthetic

UNWRITABLE = "/proc/humanoid_manip_test/x"  # nothing can be created under /proc
# What each _args type must refuse; {file}, {dir} and {missing} are made per test.
BAD = {
    _args.positive_int: ["0", "-1", "1.5", "nan", "x"],
    _args.non_negative_int: ["-1", "2.5", "inf", "x"],
    _args.finite_float: ["nan", "inf", "-inf", "x"],
    _args.positive_float: ["0", "-1", "nan", "inf", "x"],
    _args.non_negative_float: ["-0.5", "nan", "-inf", "x"],
    _args.port: ["0", "70000", "x"],
    _args.task_name: ["no_such_task"],
    _args.task_file: ["pick_place", "no_such_task={file}", "pick_place={missing}",
                      "pick_place={dir}"],
    _args.existing_file: ["{missing}", "{dir}"],
    _args.existing_dir: ["{missing}", "{file}"],
    _args.existing_path: ["{missing}"],
    _args.policy_file: ["{missing}", "{dir}"],
    _args.output_file: ["{dir}", "{file}/x", UNWRITABLE, ""],
    _args.output_dir: ["{file}", "{file}/x", UNWRITABLE, ""],
    _args.new_dir: ["{dir}", "{file}", "{file}/x", UNWRITABLE, ""],
}
# A value each type accepts, to fill in the required arguments around the one under test.
VALID = {
    _args.positive_int: "1", _args.non_negative_int: "0", _args.finite_float: "0.5",
    _args.positive_float: "1", _args.non_negative_float: "0", _args.port: "9000",
    _args.task_name: "pick_place", _args.task_file: "pick_place={file}",
    _args.existing_file: "{file}", _args.existing_dir: "{dir}",
    _args.existing_path: "{dir}", _args.policy_file: "default",
    _args.output_file: "{new}.out", _args.output_dir: "{new}", _args.new_dir: "{new}",
}
# Options whose value is free text, or checked when the command runs (RUNTIME below).
FREE_TEXT = {
    ("data", "inspect", "--episode"),  # a file name inside PATH
    ("data", "lineage", "--check"),  # an id or a file, looked up in the graph
    ("data", "export-lerobot", "--repo-id"),
    ("teleop", "--operator"),
    ("up", "stack"),  # names in --stack-config's file
    ("up", "--namespace"),
    ("up", "--arg"),  # NAME:=VALUE, typed by config/stack.yaml
    ("collect", "--address"),  # a Ray cluster's address: checked when Ray connects
    ("eval", "--address"),
    ("flywheel", "--address"),
    ("expert", "--address"),
    ("ship", "--name"),  # a file name stem in --dest
}


def leaf_parsers(parser: argparse.ArgumentParser, path=()):
    """(verb path, parser) of every command that takes no further subcommand."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
    for action in subs:
        for name, sub in action.choices.items():
            yield from leaf_parsers(sub, path + (name,))


def value_actions(parser):
    """The actions that take a value (not flags, help or subcommands)."""
    for a in parser._actions:
        if isinstance(a, (argparse._HelpAction, argparse._VersionAction,
                          argparse._SubParsersAction)) or a.nargs == 0:
            continue
        yield a


def name(action) -> str:
    return action.option_strings[-1] if action.option_strings else action.dest


PARSER = build_parser()
VERBS = list(leaf_parsers(PARSER))
CASES = [(path, name(a), bad) for path, p in VERBS for a in value_actions(p)
         for bad in (BAD.get(a.type, []) + (["no_such_choice"] if a.choices else []))]


@pytest.fixture
def places(tmp_path):
    (tmp_path / "file").write_text("not an episode\n")
    (tmp_path / "dir").mkdir()
    return {"file": str(tmp_path / "file"), "dir": str(tmp_path / "dir"),
            "missing": str(tmp_path / "missing"), "new": str(tmp_path / "new")}


def command_line(path, parser, places, under_test=None, value=None) -> list[str]:
    """The verb with every required argument valid, and `under_test` set to `value`."""
    argv = list(path)
    for a in value_actions(parser):
        if name(a) == under_test:
            given = value.format(**places)
        elif a.required and not a.option_strings or a.required:
            given = (a.choices[0] if a.choices else VALID[a.type]).format(**places)
        else:
            continue
        argv += [given] if not a.option_strings else [f"{a.option_strings[-1]}={given}"]
    return argv


def test_the_walk_covers_every_verb():
    verbs = {p[0] for p, _ in VERBS}
    assert verbs == set(PARSER._subparsers._group_actions[0].choices)  # every top-level verb
    assert ("data", "view") in dict(VERBS) and ("data", "recover") in dict(VERBS)
    assert len(CASES) > 150


@pytest.mark.parametrize("path, parser", VERBS, ids=[" ".join(p) for p, _ in VERBS])
def test_every_option_has_a_checked_type(path, parser):
    for a in value_actions(parser):
        if a.choices or a.type in BAD or (*path, name(a)) in FREE_TEXT:
            continue
        pytest.fail(f"{' '.join(path)} {name(a)}: type {getattr(a.type, '__name__', a.type)}"
                    " is not checked; use a type from humanoid_manip/commands/_args.py (and "
                    "give it BAD values here) or list the option in FREE_TEXT")


@pytest.mark.parametrize("path, option, bad", CASES,
                         ids=[f"{' '.join(p)} {o}={b!r}" for p, o, b in CASES])
def test_bad_value_is_one_line_and_exit_2(path, option, bad, places, capsys):
    parser = dict(VERBS)[path]
    argv = command_line(path, parser, places, option, bad)
    with pytest.raises(SystemExit) as exc:  # parsing alone: a value let through runs nothing
        PARSER.parse_args(argv)
    assert exc.value.code == 2, argv
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error:" in err[0] and "Traceback" not in err[0], (argv, err)
    assert main(argv) == 2  # and main() returns it rather than raising
    capsys.readouterr()


@pytest.mark.parametrize("path, parser", VERBS, ids=[" ".join(p) for p, _ in VERBS])
def test_valid_command_lines_parse(path, parser, places):
    """The table's valid values are valid: each bad case fails for its one bad value."""
    PARSER.parse_args(command_line(path, parser, places))


OUTPUTS = [(path, name(a)) for path, p in VERBS for a in value_actions(p)
           if a.type is _args.output_file]


@pytest.mark.parametrize("path, option", OUTPUTS, ids=[f"{' '.join(p)} {o}" for p, o in OUTPUTS])
def test_existing_output_file_is_refused_without_force(path, option, places, capsys, tmp_path):
    parser = dict(VERBS)[path]
    existing = tmp_path / "existing.out"
    existing.write_text("keep me")
    argv = command_line(path, parser, places, option, str(existing))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "exists" in err and "Traceback" not in err
    if "--force" in parser._option_string_actions:
        assert "--force" in err
    assert existing.read_text() == "keep me"


# -- what only shows when the command runs -------------------------------------------------
@pytest.fixture(scope="module")
def data(tmp_path_factory, robot):
    d = tmp_path_factory.mktemp("bad")
    junk = d / "junk"
    junk.mkdir()
    (junk / "a.mcap").write_bytes(b"not an mcap file")
    (junk / "b.mcap").write_bytes(b"\x89MCAP0\r\n" + b"\0" * 40)
    good = d / "good"
    good.mkdir()
    write_synthetic(good / "ep.mcap", robot, seconds=0.3, seed=1)
    cut = d / "cut.mcap"
    cut.write_bytes((good / "ep.mcap").read_bytes()[:-4000])  # a recorder killed mid-write
    (d / "empty").mkdir()
    return d


RUNTIME = [  # (argv with {d}: the data fixture, expected exit status, words in the error)
    (["data", "recover", "{d}/cut.mcap", "-o", "{d}/good/ep.mcap"], 2, "exists"),
    (["data", "recover", "{d}/junk/a.mcap"], 2, "no complete chunk"),
    (["data", "show", "{d}/junk/a.mcap"], 2, "cannot read"),
    (["data", "view", "{d}/junk/a.mcap", "--save", "{d}/v.rrd"], 2, "cannot read"),
    (["data", "inspect", "{d}/junk"], 1, "no readable episode"),
    (["data", "inspect", "{d}/good", "-e", "nope.mcap"], 2, "no such file"),
    (["data", "cache", "{d}/junk", "--cache", "{d}/cache"], 1, "could be cached"),
    (["data", "validate", "{d}/empty"], 2, "no .mcap"),
    (["data", "export-lerobot", "{d}/junk", "{d}/lerobot"], 2, "could be exported"),
    (["data", "export-lerobot", "{d}/empty", "{d}/lerobot"], 2, "no .mcap"),
    (["up", "nosuchstack", "--print"], 2, "unknown stack"),
    (["up", "sim", "--print", "--arg", "seed:=x"], 2, "not a int"),
    (["teleop", "--device", "replay"], 2, "needs the hand-stream FILE"),
]


@pytest.mark.parametrize("argv, status, words", RUNTIME, ids=[" ".join(a[:3]) + f" {i}"
                                                               for i, (a, _, _) in
                                                               enumerate(RUNTIME)])
def test_runtime_failures_are_one_line_and_leave_nothing(argv, status, words, data, capsys):
    def files():  # an empty training cache left by `data cache` does no harm
        return sorted(p.relative_to(data) for p in data.rglob("*")
                      if p.relative_to(data).parts[0] != "cache")

    before = files()
    good = (data / "good" / "ep.mcap").read_bytes()
    assert main([a.format(d=data) for a in argv]) == status
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err, err
    assert files() == before  # no partial output, nothing left to block a retry
    assert (data / "good" / "ep.mcap").read_bytes() == good  # nothing overwritten
