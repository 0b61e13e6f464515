"""The URDF is the single source of truth: URDF tools, pinocchio and MuJoCo must agree on it."""
import json
import shutil
import subprocess
import sys

import mujoco
import numpy as np
import pinocchio as pin
import pytest

from humanoid_manip.errors import RobotDescriptionError, UnknownNameError
from humanoid_manip.robot import RobotDynamics, RobotIndex, load_robot


def test_check_urdf_accepts_the_urdf(robot):
    if shutil.which("check_urdf") is None:
        pytest.skip("check_urdf not installed (Debian: liburdfdom-tools)")
    out = subprocess.run(["check_urdf", str(robot.urdf_path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "Successfully Parsed XML" in out.stdout


def test_robot_has_the_promised_structure(robot):
    sizes = {g: len(j) for g, j in robot.groups.items()}
    assert sizes == {"left_arm": 7, "right_arm": 7, "left_hand": 16, "right_hand": 16, "head": 2}
    assert robot.n == 48
    for side in ("left", "right"):
        thumb = [n for n in robot.groups[f"{side}_hand"] if "thumb" in n]
        assert len(thumb) >= 4
        for finger in ("index", "middle", "ring", "little"):
            assert len([n for n in robot.groups[f"{side}_hand"] if f"_{finger}_" in n]) >= 3
    assert set(robot.camera_names) == {"head_camera", "left_wrist_camera", "right_wrist_camera"}
    assert np.all(robot.effort_limit > 0) and np.all(robot.velocity_limit > 0)
    assert np.all(robot.lower < robot.upper)


def test_pinocchio_and_mujoco_have_the_same_joints_in_the_same_order(robot, robot_model):
    pm = pin.buildModelFromUrdf(str(robot.urdf_path))
    pin_order = [pm.names[i] for i in range(1, pm.njoints)]
    mj_order = [robot_model.joint(i).name for i in range(robot_model.njnt)]
    assert pin_order == mj_order
    assert sorted(mj_order) == sorted(robot.names)
    # actuators are in canonical order, so a torque vector maps straight onto data.ctrl
    assert [robot_model.actuator(i).name for i in range(robot_model.nu)] == list(robot.names)


def test_forward_kinematics_agree_between_mujoco_and_pinocchio(robot, robot_model):
    data = mujoco.MjData(robot_model)
    idx = RobotIndex.of(robot_model, robot)
    pm = pin.buildModelFromUrdf(str(robot.urdf_path))
    pd = pm.createData()
    pin_q = np.array([pm.joints[pm.getJointId(n)].idx_q for n in robot.names])
    frames = [robot.palms["left"], robot.palms["right"],
              *robot.fingertips["left"], *robot.fingertips["right"],
              *(c.link for c in robot.cameras)]
    assert len(frames) == 2 + 10 + 3
    rng = np.random.default_rng(7)
    worst_pos = worst_rot = 0.0
    for _ in range(100):
        q = rng.uniform(robot.lower, robot.upper)
        data.qpos[idx.qpos] = q
        mujoco.mj_kinematics(robot_model, data)
        qp = np.zeros(pm.nq)
        qp[pin_q] = q
        pin.framesForwardKinematics(pm, pd, qp)
        for f in frames:
            oMf = pd.oMf[pm.getFrameId(f)]
            worst_pos = max(worst_pos, np.linalg.norm(oMf.translation - data.body(f).xpos))
            rot = data.body(f).xmat.reshape(3, 3)
            worst_rot = max(worst_rot, np.abs(oMf.rotation - rot).max())
    assert worst_pos < 1e-6
    assert worst_rot < 1e-6


def test_every_actuator_range_is_its_joint_effort_limit(robot, robot_model):
    for i, joint in enumerate(robot.joints):
        assert robot_model.actuator(i).name == joint.name
        assert robot_model.actuator_ctrllimited[i]
        np.testing.assert_array_equal(robot_model.actuator_ctrlrange[i],
                                      [-joint.effort, joint.effort])
        assert robot_model.actuator_gear[i, 0] == 1.0


def test_cameras_look_where_their_link_x_axis_points(robot, robot_model):
    data = mujoco.MjData(robot_model)
    mujoco.mj_forward(robot_model, data)
    for cam in robot.cameras:
        forward_cam = -data.cam(cam.name).xmat.reshape(3, 3)[:, 2]
        forward_link = data.body(cam.link).xmat.reshape(3, 3)[:, 0]
        np.testing.assert_allclose(forward_cam, forward_link, atol=1e-9)


@pytest.mark.parametrize("start", ["home", "random"])
def test_gravity_compensation_holds_the_pose_for_five_seconds(robot, robot_model, start):
    """Hold = bias torque from a separate dynamics model, plus joint damping."""
    data = mujoco.MjData(robot_model)
    idx = RobotIndex.of(robot_model, robot)
    if start == "home":
        q0 = robot.home
    else:  # a random pose well inside the limits, arms in front of the body
        rng = np.random.default_rng(3)
        q0 = robot.home + rng.uniform(-0.2, 0.2, robot.n) * (robot.upper - robot.lower) / 4
        q0 = np.clip(q0, robot.lower + 0.1, robot.upper - 0.1)
    data.qpos[idx.qpos] = q0
    mujoco.mj_forward(robot_model, data)
    assert data.ncon == 0
    palms0 = [data.site(f"{s}_palm").xpos.copy() for s in ("left", "right")]
    hold = RobotDynamics(robot)
    for _ in range(int(5.0 * robot.rates.physics_hz)):
        hold.set_state(data.qpos[idx.qpos], data.qvel[idx.dof])
        data.ctrl[idx.actuator] = hold.bias_torque() - robot.kd * data.qvel[idx.dof]
        mujoco.mj_step(robot_model, data)
    for s, p0 in zip(("left", "right"), palms0):
        assert np.linalg.norm(data.site(f"{s}_palm").xpos - p0) < 1e-3

    # and without compensation the same arms fall: the test can fail
    data.qpos[idx.qpos] = q0
    data.qvel[:] = 0
    data.ctrl[:] = 0
    mujoco.mj_forward(robot_model, data)
    for _ in range(250):
        mujoco.mj_step(robot_model, data)
    assert np.linalg.norm(data.site("left_palm").xpos - palms0[0]) > 1e-2


def _robot_yaml_copy(tmp_path, robot, replace=None):
    text = robot.config_path.read_text()
    for a, b in (replace or {}).items():
        assert a in text
        text = text.replace(a, b)
    out = tmp_path / "robot.yaml"
    out.write_text(text)
    return out


def test_missing_urdf_is_a_clear_error(tmp_path, robot):
    with pytest.raises(RobotDescriptionError, match="URDF not found"):
        load_robot(urdf=tmp_path / "nope.urdf")


def test_malformed_urdf_is_a_clear_error(tmp_path, robot):
    bad = tmp_path / "bad.urdf"
    bad.write_text(robot.urdf_path.read_text()[:5000])
    with pytest.raises(RobotDescriptionError, match="not well-formed"):
        load_robot(urdf=bad)
    no_limit = tmp_path / "nolimit.urdf"
    text = robot.urdf_path.read_text()
    start = text.index("<limit", text.index('name="left_elbow"'))
    no_limit.write_text(text[:start] + text[text.index("/>", start) + 2:])
    with pytest.raises(RobotDescriptionError, match="left_elbow.*<limit"):
        load_robot(urdf=no_limit)


def test_robot_yaml_naming_a_joint_the_urdf_lacks_is_a_clear_error(tmp_path, robot):
    cfg = _robot_yaml_copy(tmp_path, robot, {"left_elbow,": "left_elbo,"})
    with pytest.raises(RobotDescriptionError, match="'left_elbo'.*does not have"):
        load_robot(cfg, urdf=robot.urdf_path)


def test_unknown_joint_lookup_lists_valid_names(robot):
    with pytest.raises(UnknownNameError, match="valid: .*left_elbow"):
        robot.index("left_knee")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "humanoid_manip", *args], capture_output=True,
                          text=True, timeout=120)


def test_cli_robot_json_lists_joints_in_canonical_order(robot):
    out = _cli("robot", "--json")
    assert out.returncode == 0, out.stderr
    joints = json.loads(out.stdout)["joints"]
    assert [j["name"] for j in joints] == list(robot.names)
    assert set(joints[0]) == {"name", "group", "lower", "upper", "velocity", "effort"}
    assert joints[robot.index("left_elbow")]["effort"] == 40.0


def test_cli_export_mjcf_writes_a_loadable_model(tmp_path, robot):
    out_file = tmp_path / "humanoid.xml"
    out = _cli("robot", "--export-mjcf", str(out_file))
    assert out.returncode == 0, out.stderr
    model = mujoco.MjModel.from_xml_path(str(out_file))
    assert model.nu == robot.n and model.ncam == 3


def test_cli_bad_input_is_an_error_message_not_a_traceback(tmp_path, robot):
    out = _cli("robot", "--urdf", str(tmp_path / "missing.urdf"))
    assert out.returncode == 2
    assert "missing.urdf' does not exist" in out.stderr and "Traceback" not in out.stderr
    cfg = _robot_yaml_copy(tmp_path, robot, {"left_elbow,": "left_elbo,"})
    out = _cli("robot", "--robot-config", str(cfg), "--urdf", str(robot.urdf_path))
    assert out.returncode == 2 and "left_elbo" in out.stderr and "Traceback" not in out.stderr
