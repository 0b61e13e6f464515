"""Data-collection controllers: wrist IK reaches, grasp postures blend, PD clips to limits."""
from __future__ import annotations

import numpy as np
import pytest

from humanoid_manip.control import HAND_POSES, IKError, JointPD, WristIK, WristTarget, hand_targets
from humanoid_manip.errors import UnknownNameError


def test_wrist_ik_reaches_a_nearby_pose(robot):
    ik = WristIK(robot)
    pos, quat = ik.palm_pose("right")
    goal = WristTarget(pos + [0.03, 0.05, -0.08], quat)
    q = robot.home.copy()
    for _ in range(10):
        q = ik.solve({"right": goal}, q)
    assert ik.error("right", goal) < 0.005
    np.testing.assert_array_equal(q[robot.group_indices("right_hand")],
                                  robot.home[robot.group_indices("right_hand")])
    assert np.all(q >= robot.lower - 1e-6) and np.all(q <= robot.upper + 1e-6)


def test_wrist_ik_refuses_a_bad_target(robot):
    with pytest.raises(IKError):
        WristIK(robot).solve({"left": WristTarget(np.array([np.nan, 0, 1]))}, robot.home)


def test_hand_postures_blend_from_open(robot):
    open_ = hand_targets(robot, "left", "power", 0.0)
    closed = hand_targets(robot, "left", "power", 1.0)
    half = hand_targets(robot, "left", "power", 0.5)
    np.testing.assert_allclose(half, (open_ + closed) / 2)
    assert closed.sum() > open_.sum()
    idx = robot.group_indices("left_hand")
    assert np.all(closed >= robot.lower[idx]) and np.all(closed <= robot.upper[idx])
    assert set(HAND_POSES) >= {"open", "power", "hook", "pinch"}
    with pytest.raises(UnknownNameError, match="power"):
        hand_targets(robot, "left", "fist", 1.0)


def test_joint_pd_adds_bias_and_clips_to_effort_limits(robot):
    pd = JointPD(robot)
    q = robot.home.copy()
    tau = pd.torque(q, np.zeros(robot.n), q, bias=np.full(robot.n, 0.1))
    np.testing.assert_allclose(tau, np.minimum(0.1, robot.effort_limit))
    far = pd.torque(q, np.zeros(robot.n), q + 10.0)
    np.testing.assert_allclose(far, robot.effort_limit)
