"""The grasp primitive: named five-finger postures, blended by one closure value per hand."""
from __future__ import annotations

import numpy as np

from humanoid_manip.errors import UnknownNameError
from humanoid_manip.robot import RobotSpec

# Per-joint closed angles (rad) of each posture, by joint suffix; "open" is the 0 end of every
# blend. A target past the contact makes the finger PD squeeze with a force that grows with the
# gap, which is how the grasp holds: there is no force sensing.
HAND_POSES: dict[str, dict[str, float]] = {
    "open": {"thumb_abd": 0.6, "thumb_mcp": 0.15, "thumb_ip": 0.15,  # = the home pose's hand
             **{f"{f}_{j}": 0.15 for f in ("index", "middle", "ring", "little")
                for j in ("pip", "dip")}},
    # Power grasp: all fingers wrap, the thumb comes across to close the ring.
    "power": {"thumb_abd": 1.2, "thumb_cmc": 0.8, "thumb_mcp": 0.8, "thumb_ip": 0.8,
              "index_mcp": 1.5, "index_pip": 1.6, "index_dip": 1.2,
              "middle_mcp": 1.5, "middle_pip": 1.6, "middle_dip": 1.2,
              "ring_mcp": 1.5, "ring_pip": 1.6, "ring_dip": 1.2,
              "little_mcp": 1.5, "little_pip": 1.6, "little_dip": 1.2},
    # Hook: fingers curl to hang on a handle or an edge, the thumb stays out of the way.
    "hook": {"thumb_abd": 0.3, "index_mcp": 0.9, "index_pip": 1.7, "index_dip": 1.3,
             "middle_mcp": 0.9, "middle_pip": 1.7, "middle_dip": 1.3,
             "ring_mcp": 0.9, "ring_pip": 1.7, "ring_dip": 1.3,
             "little_mcp": 0.9, "little_pip": 1.7, "little_dip": 1.3},
    # Pinch: thumb and index tips meet; the other fingers fold away.
    "pinch": {"thumb_abd": 1.3, "thumb_cmc": 0.7, "thumb_mcp": 0.5, "thumb_ip": 0.5,
              "index_mcp": 0.9, "index_pip": 0.9, "index_dip": 0.6,
              "middle_mcp": 1.5, "middle_pip": 1.7, "middle_dip": 1.2,
              "ring_mcp": 1.5, "ring_pip": 1.7, "ring_dip": 1.2,
              "little_mcp": 1.5, "little_pip": 1.7, "little_dip": 1.2},
}


def _pose(robot: RobotSpec, side: str, name: str) -> np.ndarray:
    if name not in HAND_POSES:
        raise UnknownNameError("hand posture", name, HAND_POSES)
    joints = robot.groups[f"{side}_hand"]
    pose = {**HAND_POSES["open"], **HAND_POSES[name]}  # a joint a posture leaves out stays open
    return np.array([pose.get(j.removeprefix(f"{side}_"), 0.0) for j in joints])


def hand_targets(robot: RobotSpec, side: str, posture: str, closure: float) -> np.ndarray:
    """Joint targets of one hand (its group order): open at closure 0, `posture` at 1."""
    c = float(np.clip(closure, 0.0, 1.0))
    return (1.0 - c) * _pose(robot, side, "open") + c * _pose(robot, side, posture)
