"""The laundry corner shared by the dryer tasks: a front-loading dryer, its door, maybe a wall."""
from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

BOX = mujoco.mjtGeom.mjGEOM_BOX
DOOR_THICKNESS = 0.02
CABINET_WIDTH = 0.62  # along y
CABINET_DEPTH = 0.55  # along x
WALL = 0.015  # sheet metal of the cabinet and drum
RIM = 0.03  # the drum is this much wider than the door opening on each side
HANDLE_RADIUS = 0.012
HANDLE_INSET = 0.04  # the handle bar's distance from the door's free edge
HANDLE_HALF_LENGTH = 0.1


@dataclass(frozen=True)
class DryerLayout:
    """Where the dryer's parts are, decided at build time from the seed."""

    front_x: float  # the cabinet's front face
    center_y: float  # the door opening's centre
    center_z: float
    opening: float  # side of the square door opening (m)
    door_width: float
    hinge_sign: int  # +1: hinge on the robot's right, door swings to the right; -1: left
    handle_standoff: float  # from the door's outer face to the handle bar's axis
    wall: bool
    wall_y: float  # the side wall's inner face (meaningless without a wall)
    wall_front: float  # how far the wall reaches in front of the cabinet

    @property
    def hinge(self) -> np.ndarray:
        """The hinge axis' point at the opening's height."""
        return np.array([self.front_x - DOOR_THICKNESS / 2 - 0.002,
                         self.center_y - self.hinge_sign * self.door_width / 2, self.center_z])

    @property
    def handle_local(self) -> np.ndarray:
        """The handle bar's axis point in the door frame (door closed = world axes)."""
        return np.array([-DOOR_THICKNESS / 2 - self.handle_standoff,
                         self.hinge_sign * (self.door_width - HANDLE_INSET), 0.0])

    def door_frame(self, angle: float) -> tuple[np.ndarray, np.ndarray]:
        """Origin and rotation matrix of the door frame when open by `angle` (rad)."""
        a = self.hinge_sign * angle
        c, s = np.cos(a), np.sin(a)
        return self.hinge, np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])

    @property
    def floor_z(self) -> float:
        """The drum's floor, flush with the opening's lower edge."""
        return self.center_z - self.opening / 2


def build_dryer(spec: mujoco.MjSpec, lay: DryerLayout, door_mass: float, hinge_damping: float,
                door_open: float = 0.0) -> None:
    """Cabinet with a drum behind a square opening, a hinged door with a bar handle, a wall."""
    world = spec.worldbody
    a, xf, yc, zc = lay.opening, lay.front_x, lay.center_y, lay.center_z
    half_drum = a / 2 + RIM
    top = zc + half_drum + WALL + 0.12
    white = [0.92, 0.92, 0.9, 1]
    cab = world.add_body(name="dryer", pos=[xf, yc, 0])
    w2, d2 = CABINET_WIDTH / 2, CABINET_DEPTH / 2

    def box(name, center, half, rgba=white):
        cab.add_geom(name=name, type=BOX, pos=center, size=half, rgba=rgba)

    floor_z = zc - a / 2  # the drum's floor, flush with the opening's lower edge
    ceil_z = zc + half_drum
    mid_z, half_z = (floor_z + ceil_z) / 2, (ceil_z - floor_z) / 2
    box("dryer_base", [d2, 0, (floor_z - WALL) / 2], [d2, w2, (floor_z - WALL) / 2])
    box("dryer_top", [d2, 0, (top + ceil_z) / 2], [d2, w2, (top - ceil_z) / 2])
    for s in (-1, 1):  # cabinet sides beside the drum
        box(f"dryer_side{'lr'[s > 0]}", [d2, s * (half_drum + (w2 - half_drum) / 2), mid_z],
            [d2, (w2 - half_drum) / 2, half_z + WALL])
    grey = [0.55, 0.55, 0.58, 1]
    box("drum_floor", [d2, 0, floor_z - WALL / 2], [d2 - WALL, half_drum, WALL / 2], grey)
    box("drum_ceiling", [d2, 0, ceil_z + WALL / 2], [d2 - WALL, half_drum, WALL / 2], grey)
    box("drum_back", [CABINET_DEPTH - WALL / 2, 0, mid_z], [WALL / 2, half_drum, half_z], grey)
    for s in (-1, 1):
        box(f"drum_wall{'lr'[s > 0]}", [d2, s * (half_drum - WALL / 2), mid_z],
            [d2 - WALL, WALL / 2, half_z], grey)
    # The front panel around the opening: a frame RIM wide over the drum's edge.
    ring = [0.85, 0.85, 0.83, 1]
    box("front_top", [WALL / 2, 0, zc + (a / 2 + half_drum) / 2], [WALL / 2, half_drum, RIM / 2],
        ring)
    for s in (-1, 1):
        box(f"front_side{'lr'[s > 0]}", [WALL / 2, s * (a / 2 + half_drum) / 2, zc],
            [WALL / 2, RIM / 2, a / 2], ring)

    hinge = lay.hinge
    sg = lay.hinge_sign
    door = world.add_body(name="door", pos=hinge)
    door.add_joint(name="door_hinge", type=mujoco.mjtJoint.mjJNT_HINGE, axis=[0, 0, sg],
                   range=[0.0, np.deg2rad(115)], limited=True, damping=hinge_damping,
                   frictionloss=0.05, armature=0.01, ref=0.0)
    dw = lay.door_width
    door.add_geom(name="door_panel", type=BOX, pos=[0, sg * dw / 2, 0],
                  size=[DOOR_THICKNESS / 2, dw / 2, dw / 2], mass=door_mass,
                  rgba=[0.75, 0.78, 0.8, 1])
    door.add_geom(name="door_glass", type=mujoco.mjtGeom.mjGEOM_CYLINDER,
                  pos=[-DOOR_THICKNESS / 2 - 0.001, sg * dw / 2, 0],
                  euler=[0, np.pi / 2, 0], size=[dw * 0.32, 0.001, 0],
                  rgba=[0.2, 0.25, 0.3, 1], contype=0, conaffinity=0, mass=0.001)
    hl = lay.handle_local
    so = lay.handle_standoff
    door.add_geom(name="handle", type=mujoco.mjtGeom.mjGEOM_CAPSULE, pos=hl,
                  size=[HANDLE_RADIUS, HANDLE_HALF_LENGTH, 0], rgba=[0.2, 0.2, 0.22, 1],
                  mass=0.05, condim=4)
    for s in (-1, 1):
        door.add_geom(name=f"handle_post{'lr'[s > 0]}", type=BOX,
                      pos=[-DOOR_THICKNESS / 2 - so / 2, hl[1], s * (HANDLE_HALF_LENGTH - 0.01)],
                      size=[so / 2, 0.008, 0.008], rgba=[0.2, 0.2, 0.22, 1], mass=0.02)
    door.add_site(name="handle", pos=hl, size=[0.01, 0, 0])
    door.add_site(name="door_edge", pos=[0, sg * dw, 0], size=[0.01, 0, 0])
    spec.add_exclude(bodyname1="door", bodyname2="dryer")

    if lay.wall:
        wall_len = CABINET_DEPTH + lay.wall_front
        world.add_geom(name="side_wall", type=BOX,
                       pos=[xf + CABINET_DEPTH - wall_len / 2,
                            lay.wall_y - sg * 0.05, 1.0],
                       size=[wall_len / 2, 0.05, 1.0], rgba=[0.8, 0.78, 0.7, 1])
    world.add_geom(name="back_wall", type=BOX, pos=[xf + CABINET_DEPTH + 0.06, 0, 1.0],
                   size=[0.05, 1.5, 1.0], rgba=[0.8, 0.78, 0.7, 1])


def door_angle(model: mujoco.MjModel, data: mujoco.MjData) -> float:
    """How far the door is open (rad, 0 closed)."""
    return float(data.qpos[model.jnt_qposadr[model.joint("door_hinge").id]])
