#!/usr/bin/env python3
"""Writes config/moveit/: the MoveIt configuration, from urdf/humanoid.urdf and config/robot.yaml.

The SRDF holds config/robot.yaml's groups (left_arm, right_arm, left_hand, right_hand, head)
plus both_arms, the hands as end effectors, the named states home (zero pose) and ready (the
episode start pose), and the collision pairs MoveIt may skip, found by sampling the robot's own
collision geometry in MuJoCo (humanoid_manip/moveit_config/collision_matrix.py says how). Beside
it: kinematics.yaml, joint_limits.yaml, moveit_controllers.yaml, ompl_planning.yaml and
moveit_py.yaml. Seeded: re-running it on unchanged inputs rewrites the same bytes. Re-run it
after changing the URDF or the groups, then commit the files:
    python tools/make_moveit_config.py
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tqdm import tqdm  # noqa: E402

from humanoid_manip.moveit_config import files  # noqa: E402
from humanoid_manip.moveit_config.collision_matrix import disabled_pairs  # noqa: E402
from humanoid_manip.moveit_config.srdf import build_srdf  # noqa: E402
from humanoid_manip.robot import load_robot  # noqa: E402

SAMPLES = 20_000  # uniform joint states sampled for the collision matrix (MoveIt's default: 10k)
SEED = 0
MARGIN = 0.02  # m: a pair that comes this close to contact is never disabled
SEARCH_HORIZON = 0.10  # m: sampled pairs closer than this seed the local search
SEARCH_STARTS = 8  # random starts of the local search per pair not seen within MARGIN
ACCEL_TIME_S = 0.5  # joint acceleration limit: the velocity limit reached in this time
DEFAULT_SCALING = 0.1  # MoveIt's default velocity/acceleration scaling (the setup assistant's)
RESET_SCALING = 0.2  # moveit_py plans a reset motion at this fraction of the limits
PLANNING_TIME_S = 5.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=SAMPLES, help=f"default {SAMPLES}")
    p.add_argument("--out", type=Path, default=ROOT / "config" / files.FOLDER,
                   help="output folder (default config/moveit)")
    args = p.parse_args(argv)
    robot = load_robot()
    with tqdm(total=args.samples, desc="collision sampling", unit="state") as bar:
        disabled, summary = disabled_pairs(robot, args.samples, SEED, MARGIN, SEARCH_HORIZON,
                                           SEARCH_STARTS, progress=bar.update)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    written = {
        files.SRDF: build_srdf(robot, disabled),
        files.KINEMATICS: files.dump(files.kinematics(robot)),
        files.JOINT_LIMITS: files.dump(
            files.joint_limits(robot, ACCEL_TIME_S, DEFAULT_SCALING),
            f"# Velocities from the URDF; accelerations reach them in {ACCEL_TIME_S:g} s.\n"),
        files.CONTROLLERS: files.dump(files.controllers(), (
            "# MoveIt plans here but never executes: a planned path reaches the motors only as\n"
            "# torque requests through the safety monitor, the one publisher on\n"
            "# /effort_controller/commands (`humanoid-manip reset` tracks it with PD + gravity\n"
            "# compensation). No ros2_control controller takes trajectories, so MoveIt's\n"
            "# controller manager lists none and moveit.launch.py runs move_group with\n"
            "# trajectory execution off.\n")),
        files.OMPL: files.dump(files.ompl(robot)),
        files.MOVEIT_PY: files.dump(files.moveit_py(RESET_SCALING, PLANNING_TIME_S)),
    }
    for name, text in written.items():
        (out / name).write_text(text)
    print(f"wrote {', '.join(written)} to {out}")
    print("collision matrix: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
