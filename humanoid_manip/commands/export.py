"""`humanoid-manip export`: a training checkpoint as a policy file (ONNX, DESIGN contract)."""
from __future__ import annotations

from humanoid_manip.commands._args import existing_file, finite_float, output_file

HELP = ("export a training checkpoint to a policy file (ONNX), checked against PyTorch and "
        "the runtime's contract")


def add_arguments(p) -> None:
    p.add_argument("checkpoint", type=existing_file, help="checkpoint.pt of a training run")
    p.add_argument("output", type=output_file, help=".onnx file to write")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")
    p.add_argument("--ensemble", choices=("on", "off"), default=None,
                   help="a chunked head (model.chunk > 1): blend every chunk's target for the "
                        "tick (on) or execute the newest chunk's first target (off); default: "
                        "as it was trained (model.ensemble)")
    p.add_argument("--ensemble-m", type=finite_float, default=None, metavar="M",
                   help="with --ensemble on: a target predicted `age` ticks ago weighs "
                        "exp(M * age) against the newest (default: model.ensemble_m)")


def run(args) -> int:
    from humanoid_manip.learn.export import ExportError, export_checkpoint
    from humanoid_manip.robot import load_robot

    execution = {}
    if args.ensemble is not None:
        execution["ensemble"] = args.ensemble == "on"
    if args.ensemble_m is not None:
        execution["ensemble_m"] = args.ensemble_m
    try:
        p = export_checkpoint(args.checkpoint, args.output, load_robot(), **execution)
    except ValueError as e:  # a head that cannot be run that way (chunk 1 has nothing to blend)
        raise ExportError(f"{args.checkpoint}: {e}") from None
    print(f"wrote {p} ({p.stat().st_size / 1e6:.2f} MB)")
    return 0
