"""Hand keypoint layouts: the 21-point layout teleop speaks, OpenXR's 26 joints, robot links.

Every hand tracker speaks some layout; the teleop topics speak one, the 21-point layout that
MediaPipe Hands (and most glove and vision trackers) use, so a driver converts once and the
retargeter never sees anything else. OpenXR's XR_EXT_hand_tracking reports 26 joints; the
mapping to 21 points keeps the wrist, the thumb's four points and, for each finger, the knuckle
(proximal), middle (intermediate), distal joints and the tip. It drops OpenXR's PALM joint and
the four finger METACARPAL joints (the base of each metacarpal, inside the palm), which have no
21-point counterpart. OpenXR's thumb has no metacarpal-base joint of its own: its
THUMB_METACARPAL joint is the carpometacarpal joint, so it maps to THUMB_CMC.
"""
from __future__ import annotations

import numpy as np

from humanoid_manip.errors import HumanoidManipError

FINGERS = ("thumb", "index", "middle", "ring", "little")

# The 21-point layout (index = position in a /teleop/*_hand_keypoints PoseArray).
HAND21: tuple[str, ...] = (
    "wrist",
    "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_mcp", "index_pip", "index_dip", "index_tip",
    "middle_mcp", "middle_pip", "middle_dip", "middle_tip",
    "ring_mcp", "ring_pip", "ring_dip", "ring_tip",
    "little_mcp", "little_pip", "little_dip", "little_tip",
)
WRIST = 0
TIPS = (4, 8, 12, 16, 20)  # thumb, index, middle, ring, little
KNUCKLES = (5, 9, 13, 17)  # index, middle, ring, little MCP
CHAIN_BASES = (1, 5, 9, 13, 17)  # first point of each chain: thumb CMC, finger knuckles

# OpenXR XrHandJointEXT, in enum order (XR_HAND_JOINT_PALM_EXT = 0 … LITTLE_TIP = 25).
OPENXR26: tuple[str, ...] = (
    "palm", "wrist",
    "thumb_metacarpal", "thumb_proximal", "thumb_distal", "thumb_tip",
    "index_metacarpal", "index_proximal", "index_intermediate", "index_distal", "index_tip",
    "middle_metacarpal", "middle_proximal", "middle_intermediate", "middle_distal", "middle_tip",
    "ring_metacarpal", "ring_proximal", "ring_intermediate", "ring_distal", "ring_tip",
    "little_metacarpal", "little_proximal", "little_intermediate", "little_distal", "little_tip",
)

# For each of the 21 points, the OpenXR joint it is taken from.
HAND21_FROM_OPENXR: dict[str, str] = {
    "wrist": "wrist",
    "thumb_cmc": "thumb_metacarpal", "thumb_mcp": "thumb_proximal",
    "thumb_ip": "thumb_distal", "thumb_tip": "thumb_tip",
    **{f"{f}_{a}": f"{f}_{b}" for f in FINGERS[1:] for a, b in
       (("mcp", "proximal"), ("pip", "intermediate"), ("dip", "distal"), ("tip", "tip"))},
}
OPENXR_TO_HAND21 = np.array([OPENXR26.index(HAND21_FROM_OPENXR[n]) for n in HAND21])

LAYOUTS = {"hand21": 21, "openxr26": 26}


class KeypointError(HumanoidManipError):
    """Keypoints of the wrong shape or layout, or not finite."""


def from_openxr(joints: np.ndarray) -> np.ndarray:
    """26 OpenXR joint positions (26×3) → the 21-point layout (21×3)."""
    a = np.asarray(joints, dtype=float)
    if a.shape != (26, 3):
        raise KeypointError(f"OpenXR hand joints must be 26×3 positions, got shape {a.shape}")
    return a[OPENXR_TO_HAND21].copy()


def to_hand21(points, layout: str = "hand21") -> np.ndarray:
    """Points in a named layout (hand21 or openxr26) → checked 21×3 float array."""
    if layout not in LAYOUTS:
        raise KeypointError(f"unknown keypoint layout {layout!r}; valid: {sorted(LAYOUTS)}")
    a = np.asarray(points, dtype=float)
    if layout == "openxr26":
        a = from_openxr(a)
    if a.shape != (21, 3):
        raise KeypointError(f"hand keypoints must be 21×3 positions ({layout}), got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise KeypointError("hand keypoints contain NaN or Inf")
    return a


def robot_keypoint_links(side: str) -> tuple[str, ...]:
    """The URDF link of the robot's hand at each of the 21 points (its joint origins, tips)."""
    links = [f"{side}_palm_link"]
    links += [f"{side}_thumb_{s}_link" for s in ("abd", "mcp", "ip")] + [f"{side}_thumb_tip"]
    for f in FINGERS[1:]:
        links += [f"{side}_{f}_{s}_link" for s in ("mcp", "pip", "dip")] + [f"{side}_{f}_tip"]
    return tuple(links)


def palm_frame(kp: np.ndarray) -> np.ndarray:
    """A rotation (3×3, columns = axes) of the hand's palm, from the keypoints themselves.

    x: wrist → middle knuckle; z: the palm's normal, from the little to the index knuckle
    crossed with x; y completes the frame. Built the same way on the human and the robot hand,
    it makes retargeting independent of the frame the tracker reports in.
    """
    x = kp[9] - kp[WRIST]
    across = kp[5] - kp[17]
    z = np.cross(x, across)
    nx, nz = np.linalg.norm(x), np.linalg.norm(z)
    if nx < 1e-6 or nz < 1e-9:
        raise KeypointError("degenerate hand keypoints: wrist and knuckles are collinear")
    x = x / nx
    z = z / nz
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)
