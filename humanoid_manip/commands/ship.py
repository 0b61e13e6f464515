"""`humanoid-manip ship`: a flywheel round's policy as a release (policy, lineage, evaluation)."""
from __future__ import annotations

from humanoid_manip.commands._args import (
    existing_file,
    existing_path,
    non_negative_int,
    output_dir,
)

HELP = ("copy a flywheel round's (or a training run's) policy file into a release folder "
        "with its lineage and evaluation (NAME.onnx, NAME.lineage.json, NAME.eval.json)")


def add_arguments(p) -> None:
    p.add_argument("run", type=existing_path,
                   help="a `humanoid-manip flywheel --out` folder, a `humanoid-manip train "
                        "--out` folder, or a policy .onnx made without one (`humanoid-manip "
                        "average`); for the last two the evaluations come from --merge")
    p.add_argument("--dest", required=True, type=output_dir,
                   help="release folder (e.g. policies/)")
    p.add_argument("--round", type=non_negative_int,
                   help="which round (default: the last finished)")
    p.add_argument("--name", default="default", help="file name stem (default: default)")
    p.add_argument("--merge", nargs="+", default=[], metavar="EVAL_JSON", type=existing_file,
                   help="evaluation reports of the same policy run elsewhere "
                        "(`eval --out` writes eval_TASK.json), merged by seed")
    p.add_argument("--force", action="store_true", help="replace existing release files")


def run(args) -> int:
    import json
    from pathlib import Path

    from humanoid_manip.errors import HumanoidManipError
    from humanoid_manip.learn.ship import write_release

    more = []
    for f in args.merge:
        try:
            more.append(json.loads(Path(f).read_text()))
        except (OSError, ValueError) as exc:
            raise HumanoidManipError(f"cannot read evaluation report {f}: {exc}") from None
    out = write_release(args.run, args.dest, args.round, args.name, more, force=args.force)
    for kind, path in out.items():
        print(f"{kind}: {path}")
    return 0
