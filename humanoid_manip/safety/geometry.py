"""Self-collision distances from the robot's own collision geoms, via MuJoCo's collision pass.

The monitor keeps a private copy of the robot-alone model whose geoms carry a contact margin, so
one mj_collision call (broad phase plus narrow phase, in C) returns every pair of robot parts
from different collision segments (left arm+hand, right arm+hand, body; the model's collision
bits) closer than the margin, with signed distance, points and normal. Two changes make the
margin reliable: cylinders become the capsules that enclose them and tiny boxes the spheres that
enclose them, because MuJoCo's cylinder and box-box colliders can miss pairs that are inside the
margin but not yet touching (measured: a fingertip cylinder reached a leg cylinder unseen).
Capsules and spheres only add material, so distances stay conservative.

The pass also measures distances up to HORIZON beyond the margin: that clearance, with
`joint_reach`'s bound on how far any point can move per radian of each joint, lets the monitor
skip the geometry on ticks when the joints have not moved enough to bring anything into a margin.
"""
from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from humanoid_manip.robot.mujoco_model import robot_mjspec
from humanoid_manip.robot.spec import RobotSpec

SMALL_BOX = 0.02  # m: boxes with every half-size below this become enclosing spheres
HORIZON = 0.05  # m: distances are measured this far beyond the margin (the skippable clearance)


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
    """The robot-alone model with enclosing capsules/spheres; geoms report pairs within
    margin + HORIZON."""
    spec = robot_mjspec(robot)
    for geom in spec.geoms:
        if geom.type == mujoco.mjtGeom.mjGEOM_CYLINDER:
            geom.type = mujoco.mjtGeom.mjGEOM_CAPSULE
        elif geom.type == mujoco.mjtGeom.mjGEOM_BOX and max(geom.size) < SMALL_BOX:
            geom.size = [float(np.linalg.norm(geom.size)), 0.0, 0.0]
            geom.type = mujoco.mjtGeom.mjGEOM_SPHERE
        geom.margin = margin + HORIZON
        geom.gap = 0.0
    # a link never collides with its parent (MuJoCo's parent filter misses some URDF links)
    for body in spec.bodies:
        parent = body.parent
        if parent is not None and parent.name and parent.name != "world" and body.geoms and \
                parent.geoms:
            spec.add_exclude(bodyname1=parent.name, bodyname2=body.name)
    return spec.compile()


@dataclass(frozen=True)
class Scan:
    """One collision pass: the pairs inside the margin, and how far the closest pair is from it."""

    proximities: list[Proximity]  # closest first
    clearance: float  # closest cross-segment distance minus the margin, at most HORIZON


class SelfCollisionModel:
    """Pairs of robot bodies in different segments closer than `margin` (m), closest first."""

    def __init__(self, model: mujoco.MjModel, margin: float):
        self.model, self.margin = model, margin
        parent = model.body_parentid
        self._adjacent = {(b, int(parent[b])) for b in range(model.nbody)}
        self._adjacent |= {(p, b) for b, p in self._adjacent}

    def scan(self, data: mujoco.MjData) -> Scan:
        """Needs kinematics at the current state; one C call, then the few close pairs."""
        mujoco.mj_collision(self.model, data)
        if data.ncon == 0:
            return Scan([], HORIZON)
        con = data.contact
        dist = con.dist
        geom_body = self.model.geom_bodyid
        g1, g2, pos, frame = con.geom1, con.geom2, con.pos, con.frame
        best: dict[tuple[int, int], Proximity] = {}
        closest = self.margin + HORIZON
        for i in np.argsort(dist, kind="stable"):
            a, b = int(geom_body[g1[i]]), int(geom_body[g2[i]])
            if (a, b) in self._adjacent:
                continue  # a link and its parent, as MuJoCo's own parent filter
            d = float(dist[i])
            closest = min(closest, d)
            if d >= self.margin:
                break  # sorted: the rest are beyond the margin too
            if (a, b) in best:
                continue  # a closer contact of this pair came first
            n = frame[i, :3].copy()
            half = 0.5 * d * n
            best[(a, b)] = Proximity(a, pos[i] - half, b, pos[i] + half, n, d)
        return Scan(list(best.values()), min(closest - self.margin, HORIZON))


def joint_reach(model: mujoco.MjModel) -> np.ndarray:
    """Per dof: a bound on the distance from its axis to any geom or site it moves (m).

    A point moves at most reach[i] * |dq_i| when hinge i turns by dq_i (the chord is shorter
    than the arc), whatever the other joints do; the bound adds link offsets along the chain,
    so it holds in every configuration.
    """
    extent = np.zeros(model.nbody)  # farthest geom/site surface from each body's origin
    for g in range(model.ngeom):
        b = model.geom_bodyid[g]
        extent[b] = max(extent[b], np.linalg.norm(model.geom_pos[g]) + model.geom_rbound[g])
    for s in range(model.nsite):
        b = model.site_bodyid[s]
        extent[b] = max(extent[b], np.linalg.norm(model.site_pos[s]))
    reach_from = extent.copy()  # farthest point in the subtree from the body's origin
    for b in range(model.nbody - 1, 0, -1):  # children come after their parents
        parent = model.body_parentid[b]
        reach_from[parent] = max(reach_from[parent],
                                 np.linalg.norm(model.body_pos[b]) + reach_from[b])
    reach = np.zeros(model.nv)
    for j in range(model.njnt):
        if model.jnt_type[j] != mujoco.mjtJoint.mjJNT_HINGE:
            raise ValueError(f"joint {model.joint(j).name}: only hinge joints are bounded")
        reach[model.jnt_dofadr[j]] = np.linalg.norm(model.jnt_pos[j]) + \
            reach_from[model.jnt_bodyid[j]]
    return reach
