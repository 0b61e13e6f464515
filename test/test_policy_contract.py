"""The policy file contract: what a conforming file declares, and the refusals that name why."""
import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from humanoid_manip.policy import PolicyContractError, PolicyRuntime
from humanoid_manip.policy.contract import METADATA_KEYS, PolicyContract
from humanoid_manip.policy.demo import cnn_policy, pd_policy


def _load(model, robot, **kw):
    return PolicyRuntime(model.SerializeToString(), robot, **kw)


def test_demo_and_cnn_files_conform_and_declare_the_robot(robot):
    for model in (pd_policy(robot, tasks=("pick_place", "open_dryer")), cnn_policy(robot)[0]):
        rt = _load(model, robot)
        c = rt.contract
        assert c.joint_names == robot.names
        assert c.camera_names == robot.camera_names
        assert (c.image_height, c.image_width) == (robot.image.height, robot.image.width)
        assert c.control_rate_hz == robot.rates.policy_hz
        assert c.state_size > 0
        assert c.lineage["config"]["urdf"] == robot.urdf_sha256
        meta = {p.key for p in model.metadata_props}
        assert meta == set(METADATA_KEYS)
        assert rt.warnings == []


def test_wrong_joint_names_are_refused_naming_the_joint(robot):
    names = list(robot.names)
    names[3] = "left_knee"
    with pytest.raises(PolicyContractError) as err:
        _load(pd_policy(robot, joint_names=names), robot, source="bad.onnx")
    msg = str(err.value)
    assert "bad.onnx" in msg and "left_knee" in msg and "left_elbow" in msg


def test_wrong_joint_order_is_refused_naming_the_index(robot):
    names = list(robot.names)
    names[0], names[1] = names[1], names[0]
    with pytest.raises(PolicyContractError, match=r"order .* index 0.*left_shoulder_roll"):
        _load(pd_policy(robot, joint_names=names), robot)


def test_wrong_image_size_is_refused_naming_both_sizes(robot):
    with pytest.raises(PolicyContractError, match=r"image size is 64x80 .*96x96"):
        _load(pd_policy(robot, image_hw=(64, 80)), robot)


def test_unknown_camera_is_refused(robot):
    with pytest.raises(PolicyContractError, match=r"chest_camera.*not on the robot"):
        _load(pd_policy(robot, cameras=("head_camera", "chest_camera")), robot)


def test_a_file_with_fewer_cameras_is_accepted_and_fed_in_its_order(robot):
    rt = _load(pd_policy(robot, cameras=("right_wrist_camera", "head_camera")), robot)
    assert rt.camera_names == ("right_wrist_camera", "head_camera")
    img = {c: np.zeros((96, 96, 3), np.uint8) for c in robot.camera_names}
    assert rt.step(img, robot.home, np.zeros(robot.n)).shape == (robot.n,)


def _graph_model(inputs, outputs, nodes, meta):
    g = helper.make_graph(nodes, "g", inputs, outputs)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    helper.set_model_props(m, meta)
    return m


def _meta(robot, **over):
    base = {p.key: p.value for p in pd_policy(robot).metadata_props}
    base.update({k: json.dumps(v) for k, v in over.items()})
    return base


def test_wrong_input_dtype_and_missing_metadata_are_refused(robot):
    model = pd_policy(robot)
    # images as float: rebuild the input declaration only
    bad = onnx.ModelProto()
    bad.CopyFrom(model)
    bad.graph.input[0].type.tensor_type.elem_type = TensorProto.FLOAT
    with pytest.raises(PolicyContractError):  # ORT or the contract refuses it
        _load(bad, robot)
    bare = onnx.ModelProto()
    bare.CopyFrom(model)
    del bare.metadata_props[:]
    with pytest.raises(PolicyContractError, match="metadata_props lacks"):
        _load(bare, robot)


def test_contract_checks_names_and_shapes_without_a_session(robot):
    meta = _meta(robot)
    j, n_cam = robot.n, len(robot.camera_names)
    ins = {"images": ("tensor(uint8)", ["B", n_cam, 96, 96, 3]),
           "proprio": ("tensor(float)", ["B", 2 * j]), "task": ("tensor(int64)", ["B"]),
           "state_in": ("tensor(float)", ["B", 8])}
    outs = {"torque": ("tensor(float)", ["B", j]), "state_out": ("tensor(float)", ["B", 8])}
    c = PolicyContract.from_parts(meta, ins, outs, "f")
    assert c.state_size == 8
    with pytest.raises(PolicyContractError, match=r"outputs are .*missing \['state_out'\]"):
        PolicyContract.from_parts(meta, ins, {"torque": outs["torque"]}, "f")
    with pytest.raises(PolicyContractError, match=r"'proprio' has shape .* implies 96"):
        PolicyContract.from_parts(meta, {**ins, "proprio": ("tensor(float)", ["B", 10])},
                                  outs, "f")
    with pytest.raises(PolicyContractError, match="state_out has size 4"):
        PolicyContract.from_parts(meta, ins, {**outs, "state_out": ("tensor(float)", [1, 4])},
                                  "f")
    with pytest.raises(PolicyContractError, match="control_rate_hz must be > 0"):
        PolicyContract.from_parts(_meta(robot, control_rate_hz=0), ins, outs, "f")


def test_an_unknown_task_lists_the_files_tasks(robot):
    from humanoid_manip.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="open_dryer"):
        _load(pd_policy(robot, tasks=("open_dryer",)), robot, task="pick_place")


def test_lineage_that_recorded_another_urdf_warns(robot):
    rt = _load(pd_policy(robot, lineage={"config": {"urdf": "0" * 64}}), robot)
    assert len(rt.warnings) == 1 and "urdf changed" in rt.warnings[0]
