"""`humanoid-manip robot`: the joints in canonical order, or the compiled MuJoCo model."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from humanoid_manip.commands._args import existing_file, output_file
from humanoid_manip.errors import HumanoidManipError

HELP = "show the robot's joints in canonical order (SI units) or export its MuJoCo model"


def add_arguments(p) -> None:
    p.add_argument("--json", action="store_true", help="print {'joints': [...]} as JSON")
    p.add_argument("--export-mjcf", metavar="FILE", type=output_file,
                   help="write the compiled MuJoCo model (MJCF)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --export-mjcf")
    p.add_argument("--robot-config", metavar="YAML", type=existing_file,
                   help="robot.yaml to use (default: config/)")
    p.add_argument("--urdf", metavar="FILE", type=existing_file,
                   help="URDF to use instead of robot.yaml's")


def run(args) -> int:
    from humanoid_manip.robot import load_robot, robot_mjspec

    robot = load_robot(args.robot_config, urdf=args.urdf)
    if args.export_mjcf:
        spec = robot_mjspec(robot)
        spec.compile()
        out = Path(args.export_mjcf)
        try:
            out.write_text(spec.to_xml())
        except OSError as exc:
            raise HumanoidManipError(f"cannot write {out}: {exc}") from None
        print(f"wrote {out} ({robot.n} joints, {len(robot.cameras)} cameras)", file=sys.stderr)
    if args.json:
        print(json.dumps({"joints": [j.as_dict() for j in robot.joints]}, indent=1))
    elif not args.export_mjcf:
        print(f"{robot.urdf_path}  ({robot.n} joints)")
        print(f"{'#':>3} {'joint':<22} {'group':<11} {'lower':>7} {'upper':>7} "
              f"{'vel rad/s':>9} {'effort N·m':>10}")
        for i, j in enumerate(robot.joints):
            print(f"{i:>3} {j.name:<22} {j.group:<11} {j.lower:>7.2f} {j.upper:>7.2f} "
                  f"{j.velocity:>9.1f} {j.effort:>10.1f}")
    return 0
