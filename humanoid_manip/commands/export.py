"""`humanoid-manip export`: a training checkpoint as a policy file (ONNX, DESIGN contract)."""
from __future__ import annotations

from humanoid_manip.commands._args import existing_file, output_file

HELP = ("export a training checkpoint to a policy file (ONNX), checked against PyTorch and "
        "the runtime's contract")


def add_arguments(p) -> None:
    p.add_argument("checkpoint", type=existing_file, help="checkpoint.pt of a training run")
    p.add_argument("output", type=output_file, help=".onnx file to write")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")


def run(args) -> int:
    from humanoid_manip.learn.export import export_checkpoint
    from humanoid_manip.robot import load_robot

    p = export_checkpoint(args.checkpoint, args.output, load_robot())
    print(f"wrote {p} ({p.stat().st_size / 1e6:.2f} MB)")
    return 0
