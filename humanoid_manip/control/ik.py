"""Wrist inverse kinematics with mink on the robot-alone MuJoCo model (palm sites as frames)."""
from __future__ import annotations

from dataclasses import dataclass

import mink
import numpy as np

from humanoid_manip.errors import HumanoidManipError
from humanoid_manip.robot import RobotIndex, RobotSpec, build_model

SIDES = ("left", "right")
_home_cache: dict[int, WristIK] = {}
# The IK keeps the arms this far (m) from the body and from each other: more than the safety
# monitor's self-collision margin (config/safety.yaml, 3 cm), so that a target the monitor would
# refuse to reach is never asked for; the monitor stays the backstop.
BODY_CLEARANCE = 0.045
ARM_LINKS = ("upper_arm_link", "forearm_link", "palm_link", "wrist_camera_link")
BODY_LINKS = ("torso", "pelvis", "left_leg_link", "right_leg_link", "neck_link", "head_link")


def _geoms(model, bodies) -> list[int]:
    ids = {model.body(b).id for b in bodies}
    return [g for g in range(model.ngeom) if int(model.geom_bodyid[g]) in ids]


class IKError(HumanoidManipError):
    """The IK problem could not be solved (no QP solution, or a bad target)."""


@dataclass(frozen=True)
class WristTarget:
    """Where a palm site should be: world position (m) and orientation (wxyz), or position only."""

    position: np.ndarray
    quat: np.ndarray | None = None


class WristIK:
    """Differential IK, warm-started from its last solution, so targets may move a little per call.

    Solves on a private robot-alone model (as a teleop rig would), with joint limits and a weak
    posture task toward home to resolve the arms' redundancy. Only arm joints are returned
    changed; hands and head keep the values passed in.
    """

    def __init__(self, robot: RobotSpec, orientation_cost: float = 0.5,
                 posture_cost: float = 1e-2, damping: float = 1e-3):
        self.robot = robot
        self.model = build_model(robot)
        self.index = RobotIndex.of(self.model, robot)
        self.configuration = mink.Configuration(self.model)
        self.frames = {s: mink.FrameTask(f"{s}_palm", "site", position_cost=1.0,
                                         orientation_cost=orientation_cost) for s in SIDES}
        self.posture = mink.PostureTask(self.model, cost=posture_cost)
        self.limits = [mink.ConfigurationLimit(self.model)]
        arms = {s: _geoms(self.model, [f"{s}_{b}" for b in ARM_LINKS]) for s in SIDES}
        body = _geoms(self.model, BODY_LINKS)
        self.limits.append(mink.CollisionAvoidanceLimit(
            self.model, [(arms["left"], body), (arms["right"], body),
                         (arms["left"], arms["right"])],
            minimum_distance_from_collisions=BODY_CLEARANCE,
            collision_detection_distance=BODY_CLEARANCE + 0.04))
        self.damping = damping
        self.orientation_cost = orientation_cost
        q = np.zeros(self.model.nq)
        q[self.index.qpos] = robot.home
        self.posture.set_target(q)
        self.arm = np.concatenate([robot.group_indices("left_arm"),
                                   robot.group_indices("right_arm")])
        self.reset(robot.home)

    def reset(self, q: np.ndarray) -> None:
        """Start from a joint configuration (canonical order)."""
        full = np.zeros(self.model.nq)
        full[self.index.qpos] = q
        self.configuration.update(full)

    @staticmethod
    def home_quat(robot: RobotSpec, side: str) -> np.ndarray:
        """Orientation (wxyz) of a palm at the home pose: the hand's natural working attitude."""
        ik = _home_cache.get(id(robot))
        if ik is None:
            ik = _home_cache[id(robot)] = WristIK(robot)
        ik.reset(robot.home)
        return ik.palm_pose(side)[1]

    def palm_pose(self, side: str) -> tuple[np.ndarray, np.ndarray]:
        """Position and wxyz orientation of a palm site at the current IK solution."""
        t = self.configuration.get_transform_frame_to_world(f"{side}_palm", "site")
        return t.translation().copy(), t.rotation().wxyz.copy()

    def solve(self, targets: dict[str, WristTarget], q_rest: np.ndarray,
              iterations: int = 3, dt: float = 0.05) -> np.ndarray:
        """Joint targets (canonical order) putting the palms at `targets`; others from q_rest."""
        tasks = [self.posture]
        for side, target in targets.items():
            task = self.frames[side]
            pos = np.asarray(target.position, dtype=float)
            if pos.shape != (3,) or not np.all(np.isfinite(pos)):
                raise IKError(f"{side} palm target must be 3 finite numbers, got {pos}")
            if target.quat is None:
                task.set_orientation_cost(0.0)
                quat = self.palm_pose(side)[1]
            else:
                task.set_orientation_cost(self.orientation_cost)
                quat = np.asarray(target.quat, dtype=float)
            task.set_target(mink.SE3.from_rotation_and_translation(mink.SO3(quat), pos))
            tasks.append(task)
        for _ in range(iterations):
            try:
                v = mink.solve_ik(self.configuration, tasks, dt, "daqp", self.damping,
                                  limits=self.limits)
            except mink.exceptions.NoSolutionFound:
                try:  # arms already inside the clearance can make the QP infeasible
                    v = mink.solve_ik(self.configuration, tasks, dt, "daqp", self.damping,
                                      limits=self.limits[:1])
                except mink.exceptions.NoSolutionFound as exc:
                    raise IKError(f"wrist IK found no solution: {exc}") from None
            self.configuration.integrate_inplace(v, dt)
        q = np.array(q_rest, dtype=float)
        q[self.arm] = self.configuration.q[self.index.qpos][self.arm]
        return q

    def error(self, side: str, target: WristTarget) -> float:
        """Position error (m) of a palm at the current solution."""
        return float(np.linalg.norm(self.palm_pose(side)[0] - target.position))
