"""Human hand keypoints → robot finger joint targets, by vector matching on the robot's URDF.

The formulation is dex-retargeting's "vector" retargeting with DexPilot's pinch rule: choose
the hand's joint angles so that vectors between robot hand links (each finger's knuckle → its
points, thumb base → thumb points, thumb tip → each fingertip) match the same vectors between
human keypoints, scaled finger by finger to the robot hand, plus a small pull toward the
previous solution for smoothness. Vectors are compared in a palm frame built from the keypoints
themselves (keypoints.palm_frame), on both hands, so any tracker frame works. When the human
thumb tip is within `pinch_threshold` of a fingertip, that pair's target becomes zero length
with a high weight: a pinch closes on the robot too.

dex-retargeting 0.5.0 itself imports torch at package import (and uses it for its loss
gradients), which this stack does not ship outside training; this module solves the same
problem on the robot model built from the URDF (MuJoCo forward kinematics, analytic Jacobians
from the joint axes, damped Gauss-Newton steps projected onto the URDF joint limits).
"""
from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from humanoid_manip.errors import HumanoidManipError
from humanoid_manip.robot import RobotSpec, build_model
from humanoid_manip.teleop.keypoints import (
    CHAIN_BASES,
    TIPS,
    WRIST,
    palm_frame,
    robot_keypoint_links,
    to_hand21,
)


class RetargetError(HumanoidManipError):
    """The robot hand model could not be built, or the solver failed on the keypoints."""


@dataclass(frozen=True)
class RetargetConfig:
    """Retargeting settings (config/teleop.yaml `retarget`)."""

    finger_weight: float = 1.0  # a chain's base → each of its points
    tip_weight: float = 2.0  # extra weight on base → fingertip
    pinch_weight: float = 0.1  # thumb tip → fingertips, when apart
    pinch_threshold: float = 0.03  # m (human): a thumb–fingertip gap below this is a pinch
    pinch_close_weight: float = 20.0  # weight of a pinch pair (target: touching)
    smoothing: float = 2e-5  # pull toward the previous solution (m² per rad²)
    damping: float = 1e-6  # Levenberg damping of each step (m² per rad²)
    iterations: int = 12  # solver steps per call (warm-started from the last call)


class HandRetargeter:
    """One robot hand (side) of the URDF-built MuJoCo model; retarget(kp) → joint targets."""

    def __init__(self, robot: RobotSpec, side: str, config: RetargetConfig | None = None,
                 model: mujoco.MjModel | None = None):
        self.config = config or RetargetConfig()
        self.side = side
        self.joint_names = robot.groups[f"{side}_hand"]
        self.model = model if model is not None else build_model(robot)
        self.data = mujoco.MjData(self.model)
        jids = [mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_JOINT, n)
                for n in self.joint_names]
        if min(jids) < 0:
            raise RetargetError(f"robot model lacks hand joints of the {side} hand")
        self.jids = np.array(jids)
        self.qadr = self.model.jnt_qposadr[self.jids]
        self.lower = np.array([robot.joints[robot.index(n)].lower for n in self.joint_names])
        self.upper = np.array([robot.joints[robot.index(n)].upper for n in self.joint_names])
        self.bodies = []
        for link in robot_keypoint_links(side):
            bid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, link)
            if bid < 0:
                raise RetargetError(f"{robot.urdf_path}: no link {link!r} for a hand keypoint")
            self.bodies.append(bid)
        self.bodies = np.array(self.bodies)
        # which hand joints move which keypoint (the joint's body is the point's ancestor)
        self._moves = np.zeros((21, len(jids)), dtype=bool)
        jbody = self.model.jnt_bodyid[self.jids]
        for k, b in enumerate(self.bodies):
            chain = set()
            while b > 0:
                chain.add(int(b))
                b = self.model.body_parentid[b]
            self._moves[k] = [int(jb) in chain for jb in jbody]
        # The arm is fixed in this model: the palm frame is a constant.
        kp0 = self.robot_keypoints(np.clip(np.zeros(len(jids)), self.lower, self.upper),
                                   world=True)
        self._origin = kp0[WRIST].copy()
        self._rot = palm_frame(kp0)
        self.pairs, self.base_weights = self._pairs()
        self._robot_lengths = self.chain_lengths(kp0)
        self.q = np.clip(robot.home[robot.indices(self.joint_names)], self.lower, self.upper)

    def _pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(origin, task) keypoint pairs and their weights; see the module docstring."""
        c = self.config
        pairs, weights = [], []
        for base in CHAIN_BASES:
            for k in range(base + 1, base + 4):
                pairs.append((base, k))
                weights.append(c.finger_weight + (c.tip_weight if k in TIPS else 0.0))
        for tip in TIPS[1:]:
            pairs.append((TIPS[0], tip))
            weights.append(c.pinch_weight)
        return np.array(pairs), np.array(weights)

    @staticmethod
    def chain_lengths(kp: np.ndarray) -> np.ndarray:
        """Length of each of the five chains (base → tip along its points), in kp's units."""
        seg = np.linalg.norm(np.diff(kp[1:].reshape(5, 4, 3), axis=1), axis=2)
        return seg.sum(axis=1)

    def robot_keypoints(self, q_hand: np.ndarray, world: bool = False) -> np.ndarray:
        """21×3 positions of the robot hand's keypoint links in its palm frame (or world)."""
        self.data.qpos[self.qadr] = q_hand
        mujoco.mj_kinematics(self.model, self.data)
        p = self.data.xpos[self.bodies]
        if world:
            return p.copy()
        return (p - self._origin) @ self._rot

    def _jacobians(self) -> np.ndarray:
        """d(keypoint in palm frame)/dq_hand, 21×3×16, at the last robot_keypoints call."""
        p = self.data.xpos[self.bodies]  # 21×3
        axis = self.data.xaxis[self.jids]  # 16×3
        anchor = self.data.xanchor[self.jids]
        d = p[:, None, :] - anchor[None, :, :]  # 21×16×3
        a = axis[None, :, :]
        j = np.empty_like(d)  # axis × d, written out: np.cross is slow on small arrays
        j[..., 0] = a[..., 1] * d[..., 2] - a[..., 2] * d[..., 1]
        j[..., 1] = a[..., 2] * d[..., 0] - a[..., 0] * d[..., 2]
        j[..., 2] = a[..., 0] * d[..., 1] - a[..., 1] * d[..., 0]
        j *= self._moves[:, :, None]
        return np.einsum("kjc,cd->kdj", j, self._rot)

    def targets(self, keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Robot-scale target vectors (palm frame) and weights for each pair, from human kp.

        A finger's vectors are scaled by the robot finger's length over the human one's, so
        hands of other proportions still straighten and curl fully; thumb–fingertip vectors
        use the mean of those ratios.
        """
        kp = to_hand21(keypoints)
        local = (kp - kp[WRIST]) @ palm_frame(kp)
        human = self.chain_lengths(local)
        if np.any(human < 1e-4):
            raise RetargetError(f"{self.side} hand keypoints: a finger has zero length")
        ratio = self._robot_lengths / human
        o, t = self.pairs[:, 0], self.pairs[:, 1]
        scale = np.where(o == TIPS[0], float(np.mean(ratio)), ratio[(o - 1) // 4])
        vec = scale[:, None] * (local[t] - local[o])
        w = self.base_weights.copy()
        pinch = (o == TIPS[0]) & (np.linalg.norm(local[t] - local[o], axis=1)
                                  < self.config.pinch_threshold)
        vec[pinch] = 0.0
        w[pinch] = self.config.pinch_close_weight
        return vec, w

    def retarget(self, keypoints: np.ndarray) -> np.ndarray:
        """Joint targets of this hand (its group order) for 21 human keypoints (any frame).

        Damped Gauss-Newton steps projected onto the joint limits, warm-started from the last
        solution: a few iterations per call track a moving hand.
        """
        vec, w = self.targets(keypoints)
        o, t = self.pairs[:, 0], self.pairs[:, 1]
        sw = np.sqrt(w)[:, None]
        lam = self.config.smoothing
        prev = self.q.copy()
        n = len(prev)

        def evaluate(q):
            p = self.robot_keypoints(q)
            r = (sw * (p[t] - p[o] - vec)).ravel()
            return r, float(r @ r + lam * np.sum((q - prev) ** 2))

        q = prev.copy()
        r, cost = evaluate(q)
        for _ in range(self.config.iterations):
            jk = self._jacobians()
            j = (sw[:, :, None] * (jk[t] - jk[o])).reshape(-1, n)
            g = j.T @ r + lam * (q - prev)
            # joints at a limit that the gradient pushes further out stay there (active set)
            free = ~(((q <= self.lower + 1e-9) & (g > 0)) | ((q >= self.upper - 1e-9) & (g < 0)))
            h = j.T @ j + (lam + self.config.damping) * np.eye(n)
            step = np.zeros(n)
            step[free] = np.linalg.solve(h[np.ix_(free, free)], -g[free])
            alpha, improved = 1.0, False
            while alpha > 1e-3:
                q_try = np.clip(q + alpha * step, self.lower, self.upper)
                r_try, cost_try = evaluate(q_try)
                if cost_try < cost:
                    improved = True
                    break
                alpha *= 0.5
            if not improved:
                self.robot_keypoints(q)  # leave the model at q
                break
            moved = np.max(np.abs(q_try - q))
            q, r, cost = q_try, r_try, cost_try
            if moved < 1e-4:
                break
        if not np.all(np.isfinite(q)):
            raise RetargetError(f"{self.side} hand retargeting diverged on these keypoints")
        self.q = q
        return q.copy()

    def reset(self, q_hand: np.ndarray | None = None) -> None:
        """Forget the previous solution (a new session), optionally starting from q_hand."""
        if q_hand is not None:
            self.q = np.clip(np.asarray(q_hand, dtype=float), self.lower, self.upper)
