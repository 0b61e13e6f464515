"""Retargeting: a human fist closes the robot hand, a pinch brings thumb and index tips < 1 cm."""
import numpy as np
import pinocchio as pin
import pytest

from humanoid_manip.teleop import synthetic
from humanoid_manip.teleop.keypoints import from_openxr
from humanoid_manip.teleop.retarget import HandRetargeter, RetargetConfig

FLEXION = ("mcp", "pip", "dip")


@pytest.fixture(scope="module")
def pin_model(robot):
    """An independent forward-kinematics model: pinocchio straight from the URDF."""
    model = pin.buildModelFromUrdf(str(robot.urdf_path))
    return model, model.createData()


def tip_positions(pin_model, robot, side, q_hand):
    model, data = pin_model
    q = pin.neutral(model)
    for name, v in zip(robot.groups[f"{side}_hand"], q_hand):
        q[model.joints[model.getJointId(name)].idx_q] = v
    pin.framesForwardKinematics(model, data, q)
    return {t: data.oMf[model.getFrameId(t)].translation.copy()
            for t in (*robot.fingertips[side], robot.palms[side])}


def stream(pose_from, pose_to, side, n=15):
    """Keypoints of a hand moving from one pose to another (what a tracker would send)."""
    for s in np.linspace(0.0, 1.0, n):
        curls = tuple((1 - s) * a + s * b for a, b in zip(pose_from.curls, pose_to.curls))
        thumb = tuple((1 - s) * a + s * b for a, b in zip(pose_from.thumb, pose_to.thumb))
        yield synthetic.keypoints(synthetic.HandPose(curls, thumb), side)


@pytest.mark.parametrize("side", ["left", "right"])
def test_closing_fist_closes_the_robot_hand(robot, pin_model, side):
    h = HandRetargeter(robot, side)
    for kp in stream(synthetic.OPEN, synthetic.OPEN, side, 3):
        q_open = h.retarget(kp)
    for kp in stream(synthetic.OPEN, synthetic.FIST, side):
        q = h.retarget(kp)
    names = robot.groups[f"{side}_hand"]
    for finger in ("index", "middle", "ring", "little"):
        for j in FLEXION:
            i = names.index(f"{side}_{finger}_{j}")
            upper = robot.joints[robot.index(names[i])].upper
            assert q[i] > 0.55 * upper, f"{names[i]} = {q[i]:.2f} of {upper:.2f}: not closed"
            assert abs(q_open[i]) < 0.1, f"{names[i]} = {q_open[i]:.2f} in an open hand"
    tips_open = tip_positions(pin_model, robot, side, q_open)
    tips = tip_positions(pin_model, robot, side, q)
    palm = robot.palms[side]
    for tip in robot.fingertips[side][1:]:
        closed = np.linalg.norm(tips[tip] - tips[palm])
        opened = np.linalg.norm(tips_open[tip] - tips_open[palm])
        assert closed < 0.6 * opened, f"{tip}: {closed:.3f} m from the palm (open {opened:.3f})"


@pytest.mark.parametrize("side", ["left", "right"])
def test_pinch_brings_thumb_and_index_tips_within_1cm(robot, pin_model, side):
    h = HandRetargeter(robot, side)
    for kp in stream(synthetic.OPEN, synthetic.pinch_pose(), side):
        q = h.retarget(kp)
    tips = tip_positions(pin_model, robot, side, q)
    thumb, index = robot.fingertips[side][:2]
    gap = np.linalg.norm(tips[thumb] - tips[index])
    print(f"{side} pinch: thumb-index tip distance {gap * 1000:.1f} mm")
    assert gap < 0.01


def test_retargeting_is_frame_independent(robot):
    """A tracker reporting in another frame (rotated, shifted, OpenXR layout) gives the same."""
    kp = synthetic.keypoints(synthetic.pinch_pose(), "right")
    rng = np.random.default_rng(3)
    a = rng.normal(size=3)
    rot = pin.exp3(a / np.linalg.norm(a) * 1.1)
    moved = kp @ rot.T + np.array([0.3, -1.0, 1.4])
    xr = np.zeros((26, 3))
    xr[[1, 2, 3, 4, 5, 7, 8, 9, 10, 12, 13, 14, 15, 17, 18, 19, 20, 22, 23, 24, 25]] = moved
    np.testing.assert_allclose(from_openxr(xr), moved)
    h1, h2 = HandRetargeter(robot, "right"), HandRetargeter(robot, "right")
    for _ in range(3):
        q1, q2 = h1.retarget(kp), h2.retarget(from_openxr(xr))
    np.testing.assert_allclose(q1, q2, atol=1e-6)


def test_robot_hand_keypoints_round_trip(robot):
    """Keypoints made from the robot's own hand (as scripted experts send) retarget to it."""
    from humanoid_manip.control import hand_targets

    h = HandRetargeter(robot, "right", RetargetConfig())
    want = hand_targets(robot, "right", "power", 1.0)
    kp = h.robot_keypoints(want) * 0.87  # any size: fingers are scaled one by one
    for _ in range(3):
        q = h.retarget(kp)
    np.testing.assert_allclose(q, want, atol=0.01)
