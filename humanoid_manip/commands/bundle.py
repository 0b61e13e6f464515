"""`humanoid-manip bundle`: several policy files as one, each task run by the file chosen for it
(learn/bundle.py)."""
from __future__ import annotations

from humanoid_manip.commands._args import output_file, task_file

HELP = ("bundle policy files (all privileged-state teachers, or all pixel policies of the same "
        "cameras) into one file of the same contract, each task run by the file chosen for it "
        "(NAME.onnx, NAME.lineage.json, NAME.eval.json)")
EXAMPLE = ("example: humanoid-manip bundle --part pick_place=policies/teacher_pick_place.onnx "
           "--part dryer_open=policies/teacher_dryer_open.onnx --part "
           "zip_bag_open=policies/teacher_zip_bag_open.onnx --out /tmp/teacher_all.onnx")


def add_arguments(p) -> None:
    p.epilog = EXAMPLE
    p.add_argument("--part", dest="parts", action="append", required=True, type=task_file,
                   metavar="TASK=FILE",
                   help="a task and the policy file that runs it; repeat it for each task, in "
                        "the order of the bundle's task_names. The file must know the task; "
                        "one file may run several")
    p.add_argument("--out", required=True, type=output_file,
                   help="the bundle's .onnx; NAME.lineage.json and NAME.eval.json (each task's "
                        "episodes from its part's own <stem>.eval.json) are written beside it")
    p.add_argument("--force", action="store_true", help="replace existing output files")


def run(args) -> int:
    from humanoid_manip.learn.bundle import write_bundle

    out = write_bundle(args.parts, args.out, force=args.force)
    for kind, path in out.items():
        print(f"{kind}: {path}")
    import json

    missing = json.loads(out["eval"].read_text())["not_evaluated"]
    if missing:
        print(f"not evaluated (no <part>.eval.json with the task beside its part): "
              f"{', '.join(missing)}")
    return 0
