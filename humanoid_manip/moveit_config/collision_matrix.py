"""Which link pairs MoveIt may skip in collision checking, found by sampling the robot in MuJoCo.

MoveIt's setup assistant disables a pair when it is Adjacent (joined by a joint, links without
geometry in between skipped), in collision in the Default (zero) pose, or Never seen in collision
over many random joint states. Sampling only shows where contact was seen, and contacts between
the two hands' fingers are rare among uniform joint states: with 50,000 samples the assistant's
rule disabled 65 pairs that a second seed then saw touching. So here a pair counts as able to
touch when it came within `margin` of contact, in a sample or in a local search that descends
the pair's distance over the joints from its closest samples (and from random starts); only pairs
that never came that close are disabled as Never. The geometry is the safety monitor's
(cylinders as the capsules that enclose them, tiny boxes as enclosing spheres): it only adds
material, so a pair kept apart here is kept apart in the URDF's geometry too.
"""
from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from humanoid_manip.robot import RobotIndex, RobotSpec
from humanoid_manip.safety.geometry import collision_model

ADJACENT, DEFAULT, NEVER = "Adjacent", "Default", "Never"


@dataclass(frozen=True)
class Approach:
    """How close a pair came (signed distance, m) and at which joint positions (canonical)."""

    distance: float
    q: np.ndarray


@dataclass(frozen=True)
class SelfCollisionSampler:
    """The robot's collision geometry, every pair of links checked, contacts within `margin`."""

    model: mujoco.MjModel
    index: RobotIndex
    robot: RobotSpec
    margin: float

    @classmethod
    def build(cls, robot: RobotSpec, margin: float) -> SelfCollisionSampler:
        model = collision_model(robot, margin)
        # every geom against every other (the stack's collision classes skip same-segment pairs)
        model.geom_contype[:] = 1
        model.geom_conaffinity[:] = 1
        model.geom_margin[:] = margin
        model.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_FILTERPARENT)
        return cls(model, RobotIndex.of(model, robot), robot, margin)

    @property
    def links(self) -> list[str]:
        """Links with collision geometry, in body order."""
        return [self.model.body(b).name for b in sorted(set(self.model.geom_bodyid.tolist()))]

    def closest(self, data: mujoco.MjData, q: np.ndarray) -> dict[tuple[str, str], float]:
        """Signed distance (m) of each link pair closer than the margin at joint positions q."""
        data.qpos[self.index.qpos] = q
        mujoco.mj_kinematics(self.model, data)
        mujoco.mj_collision(self.model, data)
        out: dict[tuple[str, str], float] = {}
        body = self.model.geom_bodyid
        for c in data.contact[:data.ncon]:
            a = self.model.body(body[c.geom[0]]).name
            b = self.model.body(body[c.geom[1]]).name
            if a == b:
                continue
            key = (a, b) if a < b else (b, a)
            out[key] = min(out.get(key, np.inf), float(c.dist))
        return out

    def sample(self, samples: int, seed: int, progress=None) -> dict[tuple[str, str], Approach]:
        """The closest approach seen per pair (within the margin) over `samples` uniform joint
        states, seeded."""
        rng = np.random.default_rng(seed)
        data = mujoco.MjData(self.model)
        lo, hi = self.robot.lower, self.robot.upper
        seen: dict[tuple[str, str], Approach] = {}
        for _ in range(samples):
            q = rng.uniform(lo, hi)
            for key, d in self.closest(data, q).items():
                if key not in seen or d < seen[key].distance:
                    seen[key] = Approach(d, q)
            if progress is not None:
                progress(1)
        return seen

    def descend(self, data: mujoco.MjData, pair: tuple[str, str], q: np.ndarray,
                iterations: int = 200) -> Approach:
        """Closest approach of a pair found by projected gradient descent on its distance from q.

        The distance gradient is nᵀ(J_b − J_a) at the closest points (joints that move both
        links cancel); each step aims at half the distance, at most 0.2 rad per joint.
        """
        m, idx = self.model, self.index
        ga = np.flatnonzero(m.geom_bodyid == m.body(pair[0]).id)
        gb = np.flatnonzero(m.geom_bodyid == m.body(pair[1]).id)
        lo, hi = self.robot.lower, self.robot.upper
        jac_a, jac_b = np.zeros((3, m.nv)), np.zeros((3, m.nv))
        fromto, best_ft = np.zeros(6), np.zeros(6)
        q = np.array(q, dtype=float)
        best = Approach(np.inf, q.copy())
        for _ in range(iterations):
            data.qpos[idx.qpos] = q
            mujoco.mj_kinematics(m, data)
            mujoco.mj_comPos(m, data)
            dist, pa_geom = np.inf, None
            for a in ga:
                for b in gb:
                    d = mujoco.mj_geomDistance(m, data, int(a), int(b), 10.0, fromto)
                    if d < dist:
                        dist, pa_geom, best_ft[:] = d, a, fromto
            if dist < best.distance:
                best = Approach(float(dist), q.copy())
            if dist <= 0.0 or pa_geom is None:
                break
            pa, pb = best_ft[:3], best_ft[3:]
            n = (pb - pa) / max(np.linalg.norm(pb - pa), 1e-12)
            mujoco.mj_jac(m, data, jac_a, None, pa, m.body(pair[0]).id)
            mujoco.mj_jac(m, data, jac_b, None, pb, m.body(pair[1]).id)
            grad = (n @ (jac_b - jac_a))[idx.dof]  # d(distance)/dq, canonical order
            g2 = float(grad @ grad)
            if g2 < 1e-12:
                break  # the joints cannot change this distance here
            step = np.clip(-0.5 * dist * grad / g2, -0.2, 0.2)
            q_next = np.clip(q + step, lo, hi)
            if np.allclose(q_next, q):
                break  # pushed against the limits
            q = q_next
        return best


def adjacent_pairs(model: mujoco.MjModel) -> set[tuple[str, str]]:
    """Links with geometry joined by one joint, or through links without geometry between."""
    has_geom = set(model.geom_bodyid.tolist())

    def nearest_geom_ancestor(b: int) -> int | None:
        p = int(model.body_parentid[b])
        while p != 0 and p not in has_geom:
            p = int(model.body_parentid[p])
        return p if p in has_geom else None

    def geom_descendants_via_bare(b: int) -> list[int]:
        """Children with geometry, looking through children without it."""
        out = []
        for c in range(1, model.nbody):
            if int(model.body_parentid[c]) == b and c != b:
                out += [c] if c in has_geom else geom_descendants_via_bare(c)
        return out

    pairs = set()
    for b in has_geom:
        a = nearest_geom_ancestor(b)
        if a is not None:
            pairs.add(_key(model.body(a).name, model.body(b).name))
    # children of one bare link (legs and pelvis under base_link) meet at that joint too
    for bare in range(model.nbody):
        if bare in has_geom:
            continue
        kids = geom_descendants_via_bare(bare)
        for i, a in enumerate(kids):
            for b in kids[i + 1:]:
                pairs.add(_key(model.body(a).name, model.body(b).name))
    return pairs


def _key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


@dataclass(frozen=True)
class DisabledPair:
    link1: str
    link2: str
    reason: str  # Adjacent, Default or Never


def disabled_pairs(robot: RobotSpec, samples: int, seed: int, margin: float,
                   search_horizon: float, search_starts: int,
                   progress=None) -> tuple[list[DisabledPair], dict]:
    """The SRDF's disable_collisions, sorted, and a summary of how they were found.

    Sampling records every pair within `search_horizon`; a pair not seen within `margin` is
    then searched (descend) from its closest sample and from `search_starts` random states.
    """
    sampler = SelfCollisionSampler.build(robot, search_horizon)
    links = sampler.links
    adjacent = adjacent_pairs(sampler.model)
    data = mujoco.MjData(sampler.model)
    at_zero = sampler.closest(data, np.zeros(robot.n))
    default = {k for k, d in at_zero.items() if d <= 0.0} - adjacent
    seen = sampler.sample(samples, seed, progress)
    rng = np.random.default_rng([seed, 1])
    near = {k for k, a in seen.items() if a.distance <= margin}
    found = set()
    for i, a in enumerate(links):
        for b in links[i + 1:]:
            key = _key(a, b)
            if key in adjacent or key in default or key in near:
                continue
            starts = [seen[key].q] if key in seen else []
            starts += [rng.uniform(robot.lower, robot.upper) for _ in range(search_starts)]
            if any(sampler.descend(data, key, q).distance <= margin for q in starts):
                found.add(key)
    out = []
    for i, a in enumerate(links):
        for b in links[i + 1:]:
            key = _key(a, b)
            if key in adjacent:
                out.append(DisabledPair(*key, ADJACENT))
            elif key in default:
                out.append(DisabledPair(*key, DEFAULT))
            elif key not in near and key not in found:
                out.append(DisabledPair(*key, NEVER))
    out.sort(key=lambda p: (p.link1, p.link2))
    pairs = len(links) * (len(links) - 1) // 2
    summary = {"links": len(links), "pairs": pairs, "samples": samples, "seed": seed,
               "margin_m": margin, "search_starts": search_starts,
               "touched_in_samples": sum(1 for x in seen.values() if x.distance <= 0.0),
               "within_margin_in_samples": len(near), "within_margin_by_search": len(found),
               **{r: sum(1 for p in out if p.reason == r) for r in (ADJACENT, DEFAULT, NEVER)}}
    summary["enabled"] = pairs - len(out)
    return out, summary
