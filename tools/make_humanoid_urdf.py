#!/usr/bin/env python3
"""Writes urdf/humanoid.urdf: the robot is described once, as numbers, and mirrored exactly.

The URDF is the single source of truth at run time; this script is how it was made. Edit the
dimensions here and re-run `python tools/make_humanoid_urdf.py`, then commit both files.

The file ends with the <ros2_control> block: every joint of config/robot.yaml's canonical order
with an effort command interface and position/velocity/effort state interfaces, on mock hardware
(mock_components/GenericSystem) unless `--hardware-plugin` names the robot's own; a real robot's
URDF is written beside it, e.g.
    python tools/make_humanoid_urdf.py --hardware-plugin acme_humanoid/System \
        --hardware-param ip:=192.168.1.10 --out my_robot.urdf

Frames: x forward, y left, z up; zero pose is standing with the arms hanging, palms facing
the thighs. Positive flexion closes a finger or bends an elbow on both sides (the right side is
the left side mirrored through the x-z plane).
"""
from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from humanoid_manip.ros_description import (  # noqa: E402 - the checkout's own package
    MOCK_PLUGIN,
    ControlledJoint,
    ros2_control_xml,
)

OUT = ROOT / "urdf" / "humanoid.urdf"

# (effort N·m, velocity rad/s, lower rad, upper rad, damping N·m·s/rad, friction N·m)
ARM_JOINTS = {
    "shoulder_pitch": (60.0, 3.0, -1.0, 3.1, 1.0, 0.2),
    "shoulder_roll": (60.0, 3.0, -0.4, 2.8, 1.0, 0.2),
    "shoulder_yaw": (40.0, 3.0, -2.0, 2.0, 0.8, 0.1),
    "elbow": (40.0, 3.5, 0.0, 2.5, 0.8, 0.1),
    "wrist_yaw": (12.0, 5.0, -2.0, 2.0, 0.2, 0.05),
    "wrist_pitch": (8.0, 5.0, -1.2, 1.2, 0.2, 0.05),
    "wrist_roll": (8.0, 5.0, -0.8, 0.8, 0.2, 0.05),
}
FINGER = {  # per-finger (effort, velocity, lower, upper, damping, friction)
    "mcp": (2.0, 8.0, -0.2, 1.6, 0.02, 0.0),
    "pip": (1.2, 8.0, 0.0, 1.8, 0.015, 0.0),
    "dip": (0.8, 8.0, 0.0, 1.4, 0.01, 0.0),
}
THUMB = {
    "abd": (2.0, 8.0, 0.0, 1.7, 0.02, 0.0),
    "cmc": (2.0, 8.0, -0.3, 1.2, 0.02, 0.0),
    "mcp": (1.2, 8.0, 0.0, 1.4, 0.015, 0.0),
    "ip": (0.8, 8.0, 0.0, 1.5, 0.01, 0.0),
}
HEAD = {
    "head_pan": (10.0, 3.0, -1.4, 1.4, 0.3, 0.05),
    "head_tilt": (10.0, 3.0, -0.6, 1.0, 0.3, 0.05),
}
# finger name -> (x on palm edge, phalanx lengths proximal/middle/distal, radius)
FINGERS = {
    "index": (0.030, (0.045, 0.027, 0.022), 0.0090),
    "middle": (0.010, (0.048, 0.030, 0.023), 0.0090),
    "ring": (-0.010, (0.045, 0.028, 0.022), 0.0085),
    "little": (-0.030, (0.036, 0.022, 0.020), 0.0080),
}
PHALANX_DENSITY = 1100.0  # kg/m³ (bone, tendon and a silicone skin)
LIMB_DENSITY = 1050.0


@dataclass
class Inertial:
    mass: float
    com: tuple[float, float, float]
    ixx: float
    iyy: float
    izz: float


def box(mass, sx, sy, sz, com=(0.0, 0.0, 0.0)):
    """Solid box of full sizes sx, sy, sz."""
    return Inertial(mass, com, mass * (sy**2 + sz**2) / 12, mass * (sx**2 + sz**2) / 12,
                    mass * (sx**2 + sy**2) / 12)


def cyl_z(mass, r, length, com=(0.0, 0.0, 0.0)):
    """Solid cylinder along z."""
    side = mass * (3 * r**2 + length**2) / 12
    return Inertial(mass, com, side, side, mass * r**2 / 2)


def cyl_mass(r, length, density):
    return density * math.pi * r**2 * length


def sphere(mass, r, com=(0.0, 0.0, 0.0)):
    i = 2 * mass * r**2 / 5
    return Inertial(mass, com, i, i, i)


def rot_y(a):
    c, s = math.cos(a), math.sin(a)
    return ((c, 0, s), (0, 1, 0), (-s, 0, c))


def rot_z(a):
    c, s = math.cos(a), math.sin(a)
    return ((c, -s, 0), (s, c, 0), (0, 0, 1))


def matmul(a, b):
    return tuple(tuple(sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3))
                 for i in range(3))


def rpy_from_matrix(r):
    """URDF rpy (R = Rz(yaw) Ry(pitch) Rx(roll)) of a rotation matrix."""
    pitch = math.asin(max(-1.0, min(1.0, -r[2][0])))
    if abs(math.cos(pitch)) < 1e-9:
        return (0.0, pitch, math.atan2(-r[0][1], r[1][1]))
    return (math.atan2(r[2][1], r[2][2]), pitch, math.atan2(r[1][0], r[0][0]))


def fmt(v):
    return " ".join(f"{x:.6g}" if abs(x) > 1e-12 else "0" for x in v)


class Writer:
    def __init__(self):
        self.lines: list[str] = []
        self.efforts: dict[str, float] = {}  # moving joint -> effort limit, in file order

    def link(self, name, inertial: Inertial | None = None, geoms=()):
        out = [f'  <link name="{name}">']
        if inertial is not None:
            out += [
                "    <inertial>",
                f'      <origin xyz="{fmt(inertial.com)}" rpy="0 0 0"/>',
                f'      <mass value="{inertial.mass:.6g}"/>',
                f'      <inertia ixx="{inertial.ixx:.6g}" ixy="0" ixz="0" '
                f'iyy="{inertial.iyy:.6g}" iyz="0" izz="{inertial.izz:.6g}"/>',
                "    </inertial>",
            ]
        for shape, xyz, rpy, material in geoms:
            for tag in ("visual", "collision"):
                out.append(f"    <{tag}>")
                out.append(f'      <origin xyz="{fmt(xyz)}" rpy="{fmt(rpy)}"/>')
                out.append(f"      <geometry>{shape}</geometry>")
                if tag == "visual":
                    out.append(f'      <material name="{material}"/>')
                out.append(f"    </{tag}>")
        out.append("  </link>")
        self.lines += out

    def fixed(self, name, parent, child, xyz, rpy=(0, 0, 0)):
        self.lines += [
            f'  <joint name="{name}" type="fixed">',
            f'    <parent link="{parent}"/>',
            f'    <child link="{child}"/>',
            f'    <origin xyz="{fmt(xyz)}" rpy="{fmt(rpy)}"/>',
            "  </joint>",
        ]

    def revolute(self, name, parent, child, xyz, axis, spec, rpy=(0, 0, 0)):
        effort, velocity, lower, upper, damping, friction = spec
        self.efforts[name] = effort
        self.lines += [
            f'  <joint name="{name}" type="revolute">',
            f'    <parent link="{parent}"/>',
            f'    <child link="{child}"/>',
            f'    <origin xyz="{fmt(xyz)}" rpy="{fmt(rpy)}"/>',
            f'    <axis xyz="{fmt(axis)}"/>',
            f'    <limit lower="{lower:.6g}" upper="{upper:.6g}" effort="{effort:.6g}" '
            f'velocity="{velocity:.6g}"/>',
            f'    <dynamics damping="{damping:.6g}" friction="{friction:.6g}"/>',
            "  </joint>",
        ]


def mirror_xyz(v, side):
    return v if side == "left" else (v[0], -v[1], v[2])


def mirror_axis(a, side):
    """Axial vectors under the y-reflection: (ax, ay, az) -> (-ax, ay, -az)."""
    return a if side == "left" else (-a[0], a[1], -a[2])


def mirror_rpy(rpy, side):
    return rpy if side == "left" else (-rpy[0], rpy[1], -rpy[2])


def cylinder(r, length):
    return f'<cylinder radius="{r:.6g}" length="{length:.6g}"/>'


def box_shape(sx, sy, sz):
    return f'<box size="{sx:.6g} {sy:.6g} {sz:.6g}"/>'


def sphere_shape(r):
    return f'<sphere radius="{r:.6g}"/>'


def add_arm(w: Writer, side: str):
    s = side
    m = lambda v: mirror_xyz(v, s)  # noqa: E731
    ax = lambda v: mirror_axis(v, s)  # noqa: E731
    skin = "skin"
    w.revolute(f"{s}_shoulder_pitch", "torso", f"{s}_shoulder_pitch_link", m((0, 0.25, 0.37)),
               (0, -1, 0), ARM_JOINTS["shoulder_pitch"])
    w.link(f"{s}_shoulder_pitch_link", sphere(1.2, 0.05), [(sphere_shape(0.05), (0, 0, 0),
                                                           (0, 0, 0), "shell")])
    w.revolute(f"{s}_shoulder_roll", f"{s}_shoulder_pitch_link", f"{s}_shoulder_roll_link",
               m((0, 0.0, -0.04)), ax((1, 0, 0)), ARM_JOINTS["shoulder_roll"])
    w.link(f"{s}_shoulder_roll_link", sphere(0.6, 0.04), [])
    w.revolute(f"{s}_shoulder_yaw", f"{s}_shoulder_roll_link", f"{s}_upper_arm_link",
               (0, 0, -0.04), ax((0, 0, 1)), ARM_JOINTS["shoulder_yaw"])
    w.link(f"{s}_upper_arm_link", cyl_z(2.0, 0.045, 0.24, (0, 0, -0.12)),
           [(cylinder(0.045, 0.20), (0, 0, -0.12), (0, 0, 0), "shell")])
    w.revolute(f"{s}_elbow", f"{s}_upper_arm_link", f"{s}_forearm_link", (0, 0, -0.26),
               (0, -1, 0), ARM_JOINTS["elbow"])
    w.link(f"{s}_forearm_link", cyl_z(1.2, 0.038, 0.22, (0, 0, -0.11)),
           [(cylinder(0.038, 0.18), (0, 0, -0.12), (0, 0, 0), "shell")])
    w.revolute(f"{s}_wrist_yaw", f"{s}_forearm_link", f"{s}_wrist_yaw_link", (0, 0, -0.22),
               ax((0, 0, 1)), ARM_JOINTS["wrist_yaw"])
    w.link(f"{s}_wrist_yaw_link", sphere(0.15, 0.025), [])
    w.revolute(f"{s}_wrist_pitch", f"{s}_wrist_yaw_link", f"{s}_wrist_pitch_link",
               (0, 0, -0.02), (0, -1, 0), ARM_JOINTS["wrist_pitch"])
    w.link(f"{s}_wrist_pitch_link", sphere(0.1, 0.02), [])
    w.revolute(f"{s}_wrist_roll", f"{s}_wrist_pitch_link", f"{s}_palm_link", (0, 0, -0.02),
               ax((1, 0, 0)), ARM_JOINTS["wrist_roll"])
    # Palm: fingers point along -z, the palm faces the body (-y on the left hand).
    w.link(f"{s}_palm_link", box(0.40, 0.085, 0.03, 0.10, (0, 0, -0.06)),
           [(box_shape(0.085, 0.03, 0.10), (0, 0, -0.06), (0, 0, 0), skin)])
    # Palm centre frame on the palm surface, for IK and the workspace box.
    w.fixed(f"{s}_palm_center_joint", f"{s}_palm_link", f"{s}_palm_center", m((0, -0.016, -0.07)))
    w.link(f"{s}_palm_center")
    # Wrist camera on the back of the hand, looking along the fingers, tilted toward the palm.
    # Wrist camera on the thumb edge of the wrist, looking along the fingers and tilted 0.3 rad
    # toward the palm, so that it sees the pinch between thumb and index.
    view = rpy_from_matrix(matmul(rot_y(math.pi / 2), rot_z(-0.3)))
    w.fixed(f"{s}_wrist_camera_joint", f"{s}_palm_link", f"{s}_wrist_camera_link",
            m((0.05, -0.02, 0.0)), mirror_rpy(view, s))
    w.link(f"{s}_wrist_camera_link", box(0.03, 0.025, 0.025, 0.02),
           [(box_shape(0.02, 0.025, 0.02), (0, 0, 0), (0, 0, 0), "shell")])

    curl = ax((-1, 0, 0))  # rotates the -z finger toward the palm (-y on the left)
    # Children in joint-name order: pinocchio (urdfdom) visits them so, MuJoCo in file order.
    for finger, (fx, lengths, r) in sorted(FINGERS.items()):
        parent = f"{s}_palm_link"
        origin = m((fx, 0.0, -0.11))
        for seg, length in zip(("mcp", "pip", "dip"), lengths):
            child = f"{s}_{finger}_{seg}_link"
            w.revolute(f"{s}_{finger}_{seg}", parent, child, origin, curl, FINGER[seg])
            mass = cyl_mass(r, length, PHALANX_DENSITY)
            w.link(child, cyl_z(mass, r, length, (0, 0, -length / 2)),
                   [(cylinder(r, length - 0.004), (0, 0, -length / 2), (0, 0, 0), skin)])
            parent, origin = child, (0, 0, -length)
        w.fixed(f"{s}_{finger}_tip_joint", parent, f"{s}_{finger}_tip", origin)
        w.link(f"{s}_{finger}_tip")

    # Thumb: its base sits on the palm side near the wrist, pointing forward (+x).
    # abd swings it in front of the palm (opposition); cmc/mcp/ip curl it down toward the fingers.
    w.revolute(f"{s}_thumb_abd", f"{s}_palm_link", f"{s}_thumb_abd_link", m((0.04, -0.012, -0.03)),
               ax((0, 0, -1)), THUMB["abd"])
    w.link(f"{s}_thumb_abd_link", sphere(0.02, 0.012), [])
    parent = f"{s}_thumb_abd_link"
    origin = (0.0, 0.0, 0.0)
    r = 0.0095
    for seg, length in zip(("cmc", "mcp", "ip"), (0.045, 0.035, 0.028)):
        child = f"{s}_thumb_{seg}_link"
        w.revolute(f"{s}_thumb_{seg}", parent, child, origin, (0, 1, 0), THUMB[seg])
        mass = cyl_mass(r, length, PHALANX_DENSITY)
        # Along +x: the cylinder's own axis is z, so pitch it by 90 degrees.
        inert = cyl_z(mass, r, length, (length / 2, 0, 0))
        inert = Inertial(mass, inert.com, inert.izz, inert.iyy, inert.ixx)
        w.link(child, inert, [(cylinder(r, length - 0.004), (length / 2, 0, 0),
                               (0, math.pi / 2, 0), skin)])
        parent, origin = child, (length, 0, 0)
    w.fixed(f"{s}_thumb_tip_joint", parent, f"{s}_thumb_tip", origin)
    w.link(f"{s}_thumb_tip")


def canonical_joints(robot_yaml: Path = ROOT / "config" / "robot.yaml") -> list[str]:
    """config/robot.yaml's groups, in order: the joint order of the <ros2_control> block."""
    groups = yaml.safe_load(robot_yaml.read_text())["groups"]
    return [name for names in groups.values() for name in names]


def control_block(w: Writer, plugin: str, params: dict[str, str]) -> str:
    """Every moving joint, canonical order, torque-commanded; all must be in robot.yaml."""
    order = canonical_joints()
    missing = sorted(set(w.efforts) - set(order))
    unknown = sorted(set(order) - set(w.efforts))
    if missing or unknown:
        sys.exit(f"config/robot.yaml groups and this URDF disagree: not in robot.yaml {missing}, "
                 f"not in the URDF {unknown}")
    # Mock hardware starts each joint at 0 rad (inside every limit): the SRDF's "home" pose.
    return ros2_control_xml([ControlledJoint(n, w.efforts[n]) for n in order], plugin, params)


def build(plugin: str = MOCK_PLUGIN, params: dict[str, str] | None = None) -> str:
    w = Writer()
    w.lines += [
        '<?xml version="1.0"?>',
        "<!-- Generated by tools/make_humanoid_urdf.py; edit that script and re-run it. -->",
        '<robot name="humanoid">',
        "  <!-- Read by MuJoCo, ignored by other URDF tools: keeps fixed frames as bodies. -->",
        '  <mujoco><compiler fusestatic="false" discardvisual="true"/></mujoco>',
        '  <material name="shell"><color rgba="0.82 0.83 0.86 1"/></material>',
        '  <material name="skin"><color rgba="0.25 0.25 0.28 1"/></material>',
        '  <material name="trim"><color rgba="0.15 0.35 0.6 1"/></material>',
    ]
    # Fixed lower body: the base stands on the floor, legs locked in a standing pose.
    w.link("base_link", box(1.0, 0.2, 0.2, 0.02, (0, 0, 0.01)), [])
    for side, y in (("left", 0.1), ("right", -0.1)):
        w.fixed(f"{side}_leg_joint", "base_link", f"{side}_leg_link", (0, y, 0.0))
        leg_mass = 10.0
        w.link(f"{side}_leg_link", cyl_z(leg_mass, 0.07, 0.88, (0, 0, 0.48)),
               [(cylinder(0.07, 0.88), (0, 0, 0.48), (0, 0, 0), "trim"),
                (box_shape(0.24, 0.1, 0.05), (0.05, 0, 0.025), (0, 0, 0), "trim")])
    w.fixed("pelvis_joint", "base_link", "pelvis", (0, 0, 0.95))
    w.link("pelvis", box(10.0, 0.22, 0.34, 0.14), [(box_shape(0.22, 0.34, 0.14), (0, 0, 0),
                                                   (0, 0, 0), "trim")])
    w.fixed("torso_joint", "pelvis", "torso", (0, 0, 0.07))
    w.link("torso", box(25.0, 0.22, 0.34, 0.43, (0, 0, 0.215)),
           [(box_shape(0.22, 0.34, 0.43), (0, 0, 0.215), (0, 0, 0), "shell")])
    w.revolute("head_pan", "torso", "neck_link", (0, 0, 0.45), (0, 0, 1), HEAD["head_pan"])
    w.link("neck_link", cyl_z(0.8, 0.04, 0.08, (0, 0, 0.04)),
           [(cylinder(0.04, 0.06), (0, 0, 0.04), (0, 0, 0), "skin")])
    w.revolute("head_tilt", "neck_link", "head_link", (0, 0, 0.09), (0, 1, 0), HEAD["head_tilt"])
    w.link("head_link", sphere(4.0, 0.11, (0.01, 0, 0.1)),
           [(sphere_shape(0.11), (0.01, 0, 0.1), (0, 0, 0), "shell")])
    # Head camera: in the face, pitched 0.6 rad down toward the workspace.
    w.fixed("head_camera_joint", "head_link", "head_camera_link", (0.11, 0, 0.09), (0, 0.6, 0))
    w.link("head_camera_link", box(0.05, 0.03, 0.08, 0.03), [])
    for side in ("left", "right"):
        add_arm(w, side)
    # Last, so that the robot's lineage hash (ros_description.description_sha256, which
    # leaves this block out) is the same whichever hardware drives the robot.
    w.lines += [control_block(w, plugin, params or {}), "</robot>"]
    return "\n".join(w.lines) + "\n"


def _param(text: str) -> tuple[str, str]:
    if ":=" not in text:
        raise argparse.ArgumentTypeError(f"{text!r}: write NAME:=VALUE")
    key, value = text.split(":=", 1)
    return key.strip(), value


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Write the humanoid's URDF (with its ros2_control "
                                            "block) from the numbers in this script.")
    p.add_argument("--hardware-plugin", default=MOCK_PLUGIN,
                   help=f"ros2_control hardware plugin (default {MOCK_PLUGIN}: no robot needed)")
    p.add_argument("--hardware-param", type=_param, action="append", default=[],
                   metavar="NAME:=VALUE", help="a <param> of the hardware (repeatable)")
    p.add_argument("--out", type=Path, default=OUT, help=f"output file (default {OUT})")
    p.add_argument("--force", action="store_true",
                   help="overwrite an existing --out file (the default file is always rewritten)")
    args = p.parse_args(argv)
    out = args.out.resolve()
    if out != OUT and out.exists() and not args.force:
        p.error(f"{out} exists; pass --force to overwrite it")
    text = build(args.hardware_plugin, dict(args.hardware_param))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"wrote {out} (hardware plugin {args.hardware_plugin})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
