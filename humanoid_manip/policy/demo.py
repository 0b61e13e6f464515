"""Contract-conforming policy files built with onnx.helper: the demo policy and test/bench nets.

`pd_policy` is a meaningful closed loop without training (PD to the home pose, gravity at home,
an integral term in the recurrent state, an optional linear map of image brightness and task);
`cnn_policy` is a small random conv net shaped like a trained one, for timing.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from humanoid_manip.policy.contract import contract_metadata

OPSET = 17
IR_VERSION = 8  # readable by every ONNX Runtime since 1.10


def _helpers():
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    return onnx, TensorProto, helper, numpy_helper


def _io(robot, cameras, image_hw, state_size):
    _, tp, helper, _ = _helpers()
    h, w = image_hw
    j = robot.n
    inputs = [
        helper.make_tensor_value_info("images", tp.UINT8, ["B", len(cameras), h, w, 3]),
        helper.make_tensor_value_info("proprio", tp.FLOAT, ["B", 2 * j]),
        helper.make_tensor_value_info("task", tp.INT64, ["B"]),
        helper.make_tensor_value_info("state_in", tp.FLOAT, ["B", state_size]),
    ]
    outputs = [
        helper.make_tensor_value_info("torque", tp.FLOAT, ["B", j]),
        helper.make_tensor_value_info("state_out", tp.FLOAT, ["B", state_size]),
    ]
    return inputs, outputs


def _finish(nodes, inits, robot, name, *, joint_names=None, cameras=None, image_hw=None,
            tasks=("hold",), rate_hz=None, state_size, lineage=None):
    onnx, _, helper, numpy_helper = _helpers()
    cameras = tuple(cameras or robot.camera_names)
    image_hw = image_hw or (robot.image.height, robot.image.width)
    inputs, outputs = _io(robot, cameras, image_hw, state_size)
    graph = helper.make_graph(
        nodes, name, inputs, outputs,
        initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="humanoid_manip.policy.demo")
    model.ir_version = IR_VERSION
    meta = contract_metadata(joint_names or robot.names, cameras, image_hw, tasks,
                             rate_hz or robot.rates.policy_hz,
                             {"source": name, "config": {"urdf": robot.urdf_sha256,
                                                         "robot.yaml": robot.config_sha256},
                              **(lineage or {})})
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    return model


def pd_policy(robot, *, kp_scale: float = 1.0, kd_scale: float = 1.0, ki: float = 0.0,
              gravity: bool = True, target: np.ndarray | None = None,
              image_gain: np.ndarray | None = None, task_bias: np.ndarray | None = None,
              **contract):
    """PD to home (or `target`) + gravity at home + ki·∫error (state) + image_gain·brightness
    + task_bias[task].

    Torques are clipped to the URDF effort limits. `contract` overrides what the file declares
    (joint_names, cameras, image_hw, tasks, rate_hz, lineage): tests use it to make bad files.
    """
    _, tp, helper, _ = _helpers()
    j = robot.n
    cameras = tuple(contract.get("cameras") or robot.camera_names)
    tasks = tuple(contract.get("tasks") or ("hold",))
    rate = float(contract.get("rate_hz") or robot.rates.policy_hz)
    g = np.zeros(j)
    if gravity:
        from humanoid_manip.robot import RobotDynamics

        dyn = RobotDynamics(robot)
        dyn.set_state(robot.home)
        g = dyn.bias_torque()
    f32 = np.float32
    inits = {
        "home": (robot.home if target is None else np.asarray(target)).astype(f32),
        "kp": (robot.kp * kp_scale).astype(f32),
        "kd": (robot.kd * kd_scale).astype(f32), "kpki": (robot.kp * kp_scale * ki).astype(f32),
        "g": g.astype(f32), "effort": robot.effort_limit.astype(f32),
        "neg_effort": (-robot.effort_limit).astype(f32),
        "dt": np.array(1.0 / rate, f32), "wind": np.array(0.5, f32),
        "neg_wind": np.array(-0.5, f32), "inv255": np.array(1.0 / 255.0, f32),
        "half": np.array(0.5, f32),
        "image_gain": (np.zeros((len(cameras), j)) if image_gain is None
                       else np.asarray(image_gain)).astype(f32),
        "task_bias": (np.zeros((len(tasks), j)) if task_bias is None
                      else np.asarray(task_bias)).astype(f32),
        "q_lo": np.array([0], np.int64), "q_hi": np.array([j], np.int64),
        "dq_hi": np.array([2 * j], np.int64), "axis1": np.array([1], np.int64),
    }
    n = helper.make_node
    nodes = [
        n("Slice", ["proprio", "q_lo", "q_hi", "axis1"], ["q"]),
        n("Slice", ["proprio", "q_hi", "dq_hi", "axis1"], ["dq"]),
        n("Sub", ["home", "q"], ["err"]),
        # recurrent state: the integral of the position error, anti-windup clipped
        n("Mul", ["err", "dt"], ["err_dt"]),
        n("Add", ["state_in", "err_dt"], ["integ"]),
        n("Clip", ["integ", "neg_wind", "wind"], ["state_out"]),
        n("Mul", ["kp", "err"], ["p_term"]),
        n("Mul", ["kd", "dq"], ["d_term"]),
        n("Mul", ["kpki", "state_out"], ["i_term"]),
        n("Sub", ["p_term", "d_term"], ["pd"]),
        n("Add", ["pd", "i_term"], ["pid"]),
        n("Add", ["pid", "g"], ["ff"]),
        # image brightness per camera (normalization inside the graph), a linear map
        n("Cast", ["images"], ["img_f"], to=tp.FLOAT),
        n("ReduceMean", ["img_f"], ["bright255"], axes=[2, 3, 4], keepdims=0),
        n("Mul", ["bright255", "inv255"], ["bright"]),
        n("Sub", ["bright", "half"], ["bright_c"]),
        n("MatMul", ["bright_c", "image_gain"], ["img_term"]),
        n("Gather", ["task_bias", "task"], ["task_term"], axis=0),
        n("Add", ["ff", "img_term"], ["t1"]),
        n("Add", ["t1", "task_term"], ["raw"]),
        n("Min", ["raw", "effort"], ["t_hi"]),
        n("Max", ["t_hi", "neg_effort"], ["torque"]),
    ]
    return _finish(nodes, inits, robot, "pd_to_home", state_size=j, **contract)


def cnn_policy(robot, *, seed: int = 0, channels=(16, 32, 32, 32), hidden: int = 256,
               state_size: int = 64, **contract):
    """A random conv net (cameras stacked as channels) + MLP, returning (model, weights).

    `weights` lets the benchmark build the same network in PyTorch.
    """
    _, _, helper, _ = _helpers()
    rng = np.random.default_rng(seed)
    cameras = tuple(contract.get("cameras") or robot.camera_names)
    h, w = contract.get("image_hw") or (robot.image.height, robot.image.width)
    j = robot.n
    f32 = np.float32
    weights: dict[str, np.ndarray] = {}
    c_in = 3 * len(cameras)
    for i, c in enumerate(channels):
        k = 5 if i == 0 else 3
        weights[f"conv{i}.w"] = (rng.standard_normal((c, c_in, k, k))
                                 * np.sqrt(2.0 / (c_in * k * k))).astype(f32)
        weights[f"conv{i}.b"] = np.zeros(c, f32)
        c_in = c
    mid = 0.5 * (robot.lower + robot.upper)
    half = 0.5 * (robot.upper - robot.lower)
    weights["prop_mean"] = np.concatenate([mid, np.zeros(j)]).astype(f32)
    weights["prop_inv_scale"] = (1.0 / np.concatenate([half, robot.velocity_limit])).astype(f32)
    d_in = c_in + 2 * j + state_size
    weights["fc1.w"] = (rng.standard_normal((hidden, d_in)) * np.sqrt(2.0 / d_in)).astype(f32)
    weights["fc1.b"] = np.zeros(hidden, f32)
    weights["fc2.w"] = (rng.standard_normal((j, hidden)) * 0.01).astype(f32)
    weights["fc2.b"] = np.zeros(j, f32)
    weights["fcs.w"] = (rng.standard_normal((state_size, hidden)) * 0.05).astype(f32)
    weights["fcs.b"] = np.zeros(state_size, f32)
    weights["effort"] = robot.effort_limit.astype(f32)
    inits = dict(weights)
    inits["inv255"] = np.array(1.0 / 255.0, f32)
    inits["stack_shape"] = np.array([0, -1, h, w], np.int64)
    n = helper.make_node
    nodes = [
        n("Cast", ["images"], ["img_f"], to=1),
        n("Mul", ["img_f", "inv255"], ["img_n"]),
        n("Transpose", ["img_n"], ["img_t"], perm=[0, 1, 4, 2, 3]),
        n("Reshape", ["img_t", "stack_shape"], ["x0"]),
    ]
    x = "x0"
    for i in range(len(channels)):
        k = 5 if i == 0 else 3
        nodes += [n("Conv", [x, f"conv{i}.w", f"conv{i}.b"], [f"c{i}"], strides=[2, 2],
                    pads=[k // 2] * 4),
                  n("Relu", [f"c{i}"], [f"r{i}"])]
        x = f"r{i}"
    nodes += [
        n("GlobalAveragePool", [x], ["gap"]),
        n("Flatten", ["gap"], ["feat"], axis=1),
        n("Sub", ["proprio", "prop_mean"], ["p0"]),
        n("Mul", ["p0", "prop_inv_scale"], ["p_n"]),
        n("Concat", ["feat", "p_n", "state_in"], ["z"], axis=1),
        n("Gemm", ["z", "fc1.w", "fc1.b"], ["h1"], transB=1),
        n("Relu", ["h1"], ["a1"]),
        n("Gemm", ["a1", "fc2.w", "fc2.b"], ["h2"], transB=1),
        n("Tanh", ["h2"], ["t2"]),
        n("Mul", ["t2", "effort"], ["torque"]),
        n("Gemm", ["a1", "fcs.w", "fcs.b"], ["hs"], transB=1),
        n("Tanh", ["hs"], ["state_out"]),
    ]
    model = _finish(nodes, inits, robot, "random_cnn", state_size=state_size, **contract)
    return model, weights


def save(model, path: str | os.PathLike) -> Path:
    """Write a model; returns the path."""
    import onnx

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(p))
    return p


def demo_policy_bytes(robot, demo_cfg) -> bytes:
    """The built-in policy of config/policy.yaml `demo:` as serialized ONNX."""
    model = pd_policy(robot, kp_scale=demo_cfg.kp_scale, kd_scale=demo_cfg.kd_scale,
                      ki=demo_cfg.ki, gravity=demo_cfg.gravity)
    return model.SerializeToString()
