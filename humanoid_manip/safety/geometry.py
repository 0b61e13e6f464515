"""Self-collision distances from the robot's own collision geoms, via MuJoCo's collision pass.

The monitor keeps a private copy of the robot-alone model whose geoms carry a contact margin, so
one mj_collision call (broad phase plus narrow phase, in C) returns every pair of robot parts
from different collision segments (left arm+hand, right arm+hand, body; the model's collision
bits) closer than the margin, with signed distance, points and normal. Two changes make the
margin reliable: cylinders become the capsules that enclose them and tiny boxes the spheres that
enclose them, because MuJoCo's cylinder and box-box colliders can miss pairs that are inside the
margin but not yet touching (measured: a fingertip cylinder reached a leg cylinder unseen).
Capsules and spheres only add material, so distances stay conservative.
"""
from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from humanoid_manip.robot.mujoco_model import robot_mjspec
from humanoid_manip.robot.spec import RobotSpec

SMALL_BOX = 0.02  # m: boxes with every half-size below this become enclosing spheres


@dataclass(frozen=True)
class Proximity:
    """Two robot bodies closer than the margin: closest points (world), unit normal a→b, gap."""

    body_a: int
    point_a: np.ndarray
    body_b: int
    point_b: np.ndarray
    normal: np.ndarray
    distance: float


def collision_model(robot: RobotSpec, margin: float) -> mujoco.MjModel:
    """The robot-alone model with enclosing capsules/spheres and a contact margin on every geom."""
    spec = robot_mjspec(robot)
    for geom in spec.geoms:
        if geom.type == mujoco.mjtGeom.mjGEOM_CYLINDER:
            geom.type = mujoco.mjtGeom.mjGEOM_CAPSULE
        elif geom.type == mujoco.mjtGeom.mjGEOM_BOX and max(geom.size) < SMALL_BOX:
            geom.size = [float(np.linalg.norm(geom.size)), 0.0, 0.0]
            geom.type = mujoco.mjtGeom.mjGEOM_SPHERE
        geom.margin = margin
        geom.gap = 0.0
    # a link never collides with its parent (MuJoCo's parent filter misses some URDF links)
    for body in spec.bodies:
        parent = body.parent
        if parent is not None and parent.name and parent.name != "world" and body.geoms and \
                parent.geoms:
            spec.add_exclude(bodyname1=parent.name, bodyname2=body.name)
    return spec.compile()


class SelfCollisionModel:
    """Pairs of robot bodies in different segments closer than `margin` (m), closest first."""

    def __init__(self, model: mujoco.MjModel, margin: float):
        self.model, self.margin = model, margin
        parent = model.body_parentid
        self._adjacent = {(b, int(parent[b])) for b in range(model.nbody)}
        self._adjacent |= {(p, b) for b, p in self._adjacent}

    def proximities(self, data: mujoco.MjData) -> list[Proximity]:
        """Needs kinematics at the current state; one C call, then the few close pairs."""
        mujoco.mj_collision(self.model, data)
        if data.ncon == 0:
            return []
        con = data.contact
        dist = con.dist
        if dist.min() >= self.margin:  # the collider reports some pairs a little beyond it
            return []
        close = np.flatnonzero(dist < self.margin)
        geom_body = self.model.geom_bodyid
        g1, g2, pos, frame = con.geom1, con.geom2, con.pos, con.frame
        best: dict[tuple[int, int], Proximity] = {}
        for i in close:
            a, b = int(geom_body[g1[i]]), int(geom_body[g2[i]])
            if (a, b) in self._adjacent:
                continue  # a link and its parent, as MuJoCo's own parent filter
            d = float(dist[i])
            if (a, b) in best and best[(a, b)].distance <= d:
                continue
            n = frame[i, :3].copy()
            half = 0.5 * d * n
            best[(a, b)] = Proximity(a, pos[i] - half, b, pos[i] + half, n, d)
        return sorted(best.values(), key=lambda p: p.distance)
