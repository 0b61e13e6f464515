"""A simple kinematic human hand that makes 21-point keypoints: the keyboard's hand and tests'.

Not anatomy: a hand the size of an adult's with four planar fingers and a thumb that can oppose,
enough to produce open hands, fists and pinches as a tracker would report them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Hand frame: x from the wrist along the fingers, y toward the thumb, z the back of the hand.
_KNUCKLES = {"index": (0.092, 0.024), "middle": (0.090, 0.004),
             "ring": (0.085, -0.015), "little": (0.078, -0.032)}
_BONES = {"index": (0.040, 0.023, 0.019), "middle": (0.045, 0.027, 0.020),
          "ring": (0.042, 0.026, 0.019), "little": (0.033, 0.019, 0.018)}
_THUMB_CMC = np.array([0.025, 0.022, -0.012])
_THUMB_BONES = (0.045, 0.032, 0.027)
_FLEX_SPLIT = (1.5, 1.6, 1.0)  # mcp, pip, dip angles (rad) of a fully curled finger


def _rot(axis: np.ndarray, angle: float) -> np.ndarray:
    a = axis / np.linalg.norm(axis)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


@dataclass(frozen=True)
class HandPose:
    """Finger curls in [0, 1] (index, middle, ring, little) and the thumb's four angles (rad)."""

    curls: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    thumb: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # opposition, abd, mcp, ip


def keypoints(pose: HandPose, side: str = "right") -> np.ndarray:
    """21×3 keypoints (m) of a hand in its own frame; the left hand is the mirror image."""
    out = np.zeros((21, 3))
    for i, f in enumerate(("index", "middle", "ring", "little")):
        c = float(np.clip(pose.curls[i], 0.0, 1.0))
        p = np.array([*_KNUCKLES[f], 0.0])
        k = 5 + 4 * i
        out[k] = p
        angle = 0.0
        for j, (bone, full) in enumerate(zip(_BONES[f], _FLEX_SPLIT)):
            angle += c * full
            p = p + bone * np.array([np.cos(angle), 0.0, -np.sin(angle)])
            out[k + 1 + j] = p
    opp, abd, mcp, ip = pose.thumb
    d = np.array([np.cos(0.8), np.sin(0.8), 0.0])
    d = _rot(np.array([1.0, 0.0, 0.0]), -opp) @ _rot(np.array([0.0, 0.0, 1.0]), -abd) @ d
    out[1] = p = _THUMB_CMC.copy()
    for j, (bone, flex) in enumerate(zip(_THUMB_BONES, (0.0, mcp, ip))):
        if flex:
            axis = np.cross(d, np.array([0.0, 0.0, -1.0]))
            d = _rot(axis, flex) @ d if np.linalg.norm(axis) > 1e-9 else d
        p = p + bone * d
        out[2 + j] = p
    if side == "left":
        out[:, 1] *= -1.0
    return out


OPEN = HandPose()
FIST = HandPose((1.0, 1.0, 1.0, 1.0), (0.9, 0.4, 0.6, 0.6))


def pinch_pose(index_curl: float = 0.6) -> HandPose:
    """Thumb tip on the index tip, the other fingers folded: a precision pinch."""
    from scipy.optimize import minimize

    curls = (index_curl, 1.0, 1.0, 1.0)
    target = keypoints(HandPose(curls))[8]

    def gap(th):
        return float(np.sum((keypoints(HandPose(curls, tuple(th)))[4] - target) ** 2))

    bounds = [(0.0, 2.0), (-0.5, 1.5), (0.0, 1.5), (0.0, 1.5)]
    best = min((minimize(gap, x0, method="L-BFGS-B", bounds=bounds)
                for x0 in ([0.8, 0.3, 0.3, 0.3], [1.2, 0.0, 0.5, 0.5], [1.5, 0.5, 0.2, 0.2])),
               key=lambda r: r.fun)
    return HandPose(curls, tuple(float(v) for v in best.x))
