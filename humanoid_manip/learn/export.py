"""PolicyNet -> one ONNX file per the contract of docs/DESIGN.md (humanoid_manip.policy.contract).

The exported graph is one control tick: uint8 pixels and SI units in, N·m out, the GRU state
through state_in/state_out. Names, metadata keys and their encoding come from the policy
package, so the exporter and the runtime cannot drift apart.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch

from humanoid_manip.errors import HumanoidManipError
from humanoid_manip.learn.model import PolicyNet
from humanoid_manip.learn.train import PolicyIO, load_policy
from humanoid_manip.policy.contract import (
    INPUTS,
    OUTPUTS,
    TEACHER_INPUTS,
    PolicyContract,
    contract_metadata,
)

OPSET = 17  # ONNX Runtime 1.32 runs it; the TorchScript exporter supports it well
PARITY_TOL = 1e-4


class ExportError(HumanoidManipError):
    """The network could not be exported, or the file does not behave like the network."""


def example_inputs(model: PolicyNet, batch: int = 1, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random contract-shaped inputs: pixels (or privileged state), proprio, task, state."""
    g = torch.Generator().manual_seed(seed)
    h, w = model.image_hw
    if model.privileged:
        enc = model.state_encoder
        obs = enc.mean + enc.std * torch.randn(batch, model.cfg.privileged_size, generator=g)
    else:
        obs = torch.randint(0, 256, (batch, model.n_cameras, h, w, 3), generator=g,
                            dtype=torch.uint8)
    proprio = model.proprio_mean + model.proprio_std * torch.randn(
        batch, 2 * model.n_joints, generator=g)
    task = torch.randint(0, model.n_tasks, (batch,), generator=g)
    state = torch.tanh(torch.randn(batch, model.state_size, generator=g))
    if model.cfg.ensemble:  # the ensembling part of the state: sums of targets and weights
        m, k, j = model.cfg.memory, model.k, model.n_joints
        weights = torch.rand(batch, k, 1, generator=g) * 3.0 + 1.0
        targets = model.proprio_mean[:j] + model.proprio_std[:j] * torch.randn(
            batch, k, j, generator=g) * 0.1
        state = torch.cat([state[:, :m], (targets * weights).reshape(batch, k * j),
                           weights.reshape(batch, k)], 1)
    return obs, proprio, task, state


def input_names(model: PolicyNet) -> list[str]:
    return list(TEACHER_INPUTS if model.privileged else INPUTS)


def export_onnx(model: PolicyNet, path: str | os.PathLike, io: PolicyIO,
                lineage: dict | None = None, opset: int = OPSET) -> Path:
    """Write the single-step graph with a dynamic batch axis and the contract metadata."""
    import onnx

    if (len(io.joint_names), len(io.camera_names), tuple(io.image_hw), len(io.task_names)) != (
            model.n_joints, model.n_cameras, model.image_hw, model.n_tasks):
        raise ExportError(f"the model's shapes ({model.n_joints} joints, {model.n_cameras} "
                          f"cameras, {model.image_hw}, {model.n_tasks} tasks) differ from what "
                          f"the file would declare: {io}")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    names_in, names_out = input_names(model), list(OUTPUTS)
    dynamic = {n: {0: "B"} for n in names_in + names_out}
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter is deprecated in favour of torch.export; it is the one that
        # exports this graph with no extra dependency (onnxscript) and a plain dynamic batch.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # GroupNorm's size check
        torch.onnx.export(model, example_inputs(model), str(p), input_names=names_in,
                          output_names=names_out, dynamic_axes=dynamic, opset_version=opset,
                          dynamo=False, do_constant_folding=True)
    proto = onnx.load(str(p))
    meta = contract_metadata(io.joint_names, io.camera_names, io.image_hw, io.task_names,
                             io.control_rate_hz, lineage or {})
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, meta)
    proto.producer_name = "humanoid_manip.learn.export"
    proto.doc_string = ("humanoid_manip teacher: privileged object state + proprio + task + "
                        "memory -> torque (simulation only)" if model.privileged else
                        "humanoid_manip policy: pixels + proprio + task + memory -> torque")
    onnx.checker.check_model(proto, full_check=True)
    onnx.save_model(proto, str(p))
    return p


def session(path: str | os.PathLike, threads: int = 1, batch: int | None = None):
    """An ONNX Runtime CPU session with the runtime's options; any batch size unless `batch`
    fixes it (PolicyRuntime fixes 1)."""
    import onnxruntime as ort

    from humanoid_manip.policy.runtime import session_options

    return ort.InferenceSession(str(path), sess_options=session_options(threads, batch),
                                providers=["CPUExecutionProvider"])


def parity(model: PolicyNet, path: str | os.PathLike, batch: int = 4, ticks: int = 3,
           seed: int = 0) -> float:
    """Largest |ONNX - PyTorch| over torque and state for random inputs, over a few ticks."""
    sess = session(path)
    obs, proprio, task, state = example_inputs(model, batch, seed)
    first = input_names(model)[0]
    worst = 0.0
    model = model.eval()
    with torch.no_grad():
        for k in range(ticks):
            tau, new_state = model.step(obs, proprio, task, state)
            feeds = {first: obs.numpy(), "proprio": proprio.numpy(),
                     "task": task.numpy(), "state_in": state.numpy()}
            o_tau, o_state = sess.run(list(OUTPUTS), feeds)
            worst = max(worst, float(np.abs(o_tau - tau.numpy()).max()),
                        float(np.abs(o_state - new_state.numpy()).max()))
            state = new_state
            proprio = proprio + 0.01 * (k + 1)
    return worst


def export_checkpoint(checkpoint: str | os.PathLike, path: str | os.PathLike, robot=None,
                      check: bool = True, **execution) -> Path:
    """Checkpoint -> ONNX with its lineage; checks the contract, the robot fit and parity.

    `execution` (`ensemble`, `ensemble_m`): run a chunked head otherwise than it was trained
    to be run; the lineage says so under "execution"."""
    model, data = load_policy(checkpoint, **execution)
    io = PolicyIO.from_dict(data["io"])
    lineage = dict(data["manifest"])
    lineage["checkpoint_step"] = int(data["step"])
    if execution:
        lineage["execution"] = {k: getattr(model.cfg, k) for k in ("chunk", "ensemble",
                                                                   "ensemble_m")}
    p = export_onnx(model, path, io, lineage)
    if check:
        contract = PolicyContract.from_session(session(p), str(p))
        if robot is not None:
            contract.check_robot(robot, str(p))
        err = parity(model, p)
        if err > PARITY_TOL:
            raise ExportError(f"{p}: ONNX Runtime differs from PyTorch by {err:.2e} "
                              f"(> {PARITY_TOL:g})")
    return p
