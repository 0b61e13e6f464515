"""Builds the MuJoCo model from the URDF: torque actuators, cameras and collision classes added."""
from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from humanoid_manip.errors import RobotDescriptionError
from humanoid_manip.robot.spec import RobotSpec

# Collision bits. World objects keep MuJoCo's default (contype=1, conaffinity=1) and touch every
# robot part; robot parts touch parts of the other two segments but not their own segment, so
# the fingers of one hand pass through each other (documented simplification) while arm-arm,
# arm-torso and hand-head contacts are real and the safety monitor can be tested against them.
WORLD_BIT, LEFT_BIT, RIGHT_BIT, BODY_BIT = 1, 2, 4, 8
SEGMENT_BITS = {"left": LEFT_BIT, "right": RIGHT_BIT, "body": BODY_BIT}
ROBOT_BITS = LEFT_BIT | RIGHT_BIT | BODY_BIT

# A camera on a link whose x axis looks forward: MuJoCo cameras look along their -z, y up.
_CAM_MAT = np.array([[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def _cam_quat() -> np.ndarray:
    q = np.zeros(4)
    mujoco.mju_mat2Quat(q, _CAM_MAT.flatten())
    return q


def segment_of(body_name: str, robot: RobotSpec) -> str:
    """Which collision segment a robot body belongs to: left, right or body (torso/head/legs)."""
    for side in ("left", "right"):
        if body_name.startswith(f"{side}_") and not body_name.startswith(f"{side}_leg"):
            return side
    return "body"


def robot_mjspec(robot: RobotSpec) -> mujoco.MjSpec:
    """An editable MjSpec of the robot alone; tasks attach their scenes to it."""
    try:
        spec = mujoco.MjSpec.from_file(str(robot.urdf_path))
    except Exception as exc:  # noqa: BLE001 - MuJoCo raises plain ValueError/Exception
        raise RobotDescriptionError(f"MuJoCo cannot load {robot.urdf_path}: {exc}") from None
    spec.modelname = "humanoid"
    spec.option.timestep = 1.0 / robot.rates.physics_hz
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    for j in robot.joints:
        js = spec.joint(j.name)
        if js is None:
            raise RobotDescriptionError(f"MuJoCo model lacks joint {j.name!r}")
        js.armature = j.armature
        act = spec.add_actuator(name=j.name, target=j.name,
                                trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.ctrllimited = True
        act.ctrlrange = [-j.effort, j.effort]
        act.gainprm[0] = 1.0  # a motor: ctrl is the joint torque in N·m
    quat = _cam_quat()
    for cam in robot.cameras:
        body = spec.body(cam.link)
        if body is None:
            raise RobotDescriptionError(f"camera {cam.name!r}: no MuJoCo body {cam.link!r}; "
                                        "is fusestatic=false set in the URDF's <mujoco> block?")
        body.add_camera(name=cam.name, quat=quat, fovy=cam.fovy_deg)
    for side in ("left", "right"):
        spec.body(robot.palms[side]).add_site(name=f"{side}_palm", size=[0.01, 0, 0])
        for tip in robot.fingertips[side]:
            spec.body(tip).add_site(name=tip, size=[0.005, 0, 0])
    for geom in spec.geoms:
        body = geom.parent
        seg = segment_of(body.name, robot)
        bit = SEGMENT_BITS[seg]
        geom.contype = bit
        geom.conaffinity = WORLD_BIT | (ROBOT_BITS & ~bit)
        geom.condim = 4 if seg != "body" else 3  # torsional friction helps fingertip pinches
        geom.friction = [1.0, 0.01, 0.001]
    return spec


def build_model(robot: RobotSpec) -> mujoco.MjModel:
    """The compiled robot-alone model."""
    try:
        return robot_mjspec(robot).compile()
    except ValueError as exc:
        raise RobotDescriptionError(f"MuJoCo cannot compile the robot: {exc}") from None


@dataclass(frozen=True)
class RobotIndex:
    """Where the canonical joints live in a compiled model (robot alone or inside a scene)."""

    qpos: np.ndarray
    dof: np.ndarray
    actuator: np.ndarray

    @classmethod
    def of(cls, model: mujoco.MjModel, robot: RobotSpec) -> RobotIndex:
        qpos, dof, act = [], [], []
        for name in robot.names:
            jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
            aid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, name)
            if jid < 0 or aid < 0:
                raise RobotDescriptionError(f"model lacks joint or actuator {name!r}")
            qpos.append(model.jnt_qposadr[jid])
            dof.append(model.jnt_dofadr[jid])
            act.append(aid)
        return cls(np.array(qpos), np.array(dof), np.array(act))
