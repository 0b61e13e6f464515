"""`humanoid-manip average`: several teacher files of the same tasks as one whose torque is their
mean, a seed ensemble (learn/average.py)."""
from __future__ import annotations

from humanoid_manip.commands._args import existing_file, output_file

HELP = ("average privileged-state teacher files into one teacher file of the same contract whose "
        "torque is the mean of theirs (a seed ensemble); evaluate it with `eval`")
EXAMPLE = ("example: humanoid-manip average runs/u0/policy.onnx runs/u1/policy.onnx "
           "runs/u2/policy.onnx --out runs/u_avg3.onnx")


def add_arguments(p) -> None:
    p.epilog = EXAMPLE
    p.add_argument("members", nargs="+", type=existing_file, metavar="FILE",
                   help="two or more teacher files (.onnx) for the same robot; the average knows "
                        "the tasks they all know")
    p.add_argument("--out", required=True, type=output_file,
                   help="the averaged .onnx (its lineage, naming the members, is in the file)")
    p.add_argument("--force", action="store_true", help="replace an existing output file")


def run(args) -> int:
    from humanoid_manip.learn.average import write_average

    out, tasks = write_average(args.members, args.out, force=args.force)
    print(f"policy: {out} (the mean of {len(args.members)} teachers; tasks {', '.join(tasks)})")
    print(f"next: humanoid-manip eval --policy {out} --task {tasks[0]} --episodes 50 --seed "
          f"1000000 --out E")
    return 0
