"""Several teacher files of the same tasks as one file whose torque is their mean.

`humanoid-manip average A.onnx B.onnx … --out NAME.onnx` writes a teacher of the contract
(docs/DESIGN.md) that runs every member's graph unchanged on the same inputs (each on the first
P_i columns of `privileged`, its own task index and its own segment of the recurrent state) and
outputs the mean of their torques. Members trained alike on the same demonstrations but from
other seeds err in different directions in closed loop; their mean errs less (a seed ensemble).
Its lineage names the members (parents: their checkpoints; training seeds: all of theirs, so
evaluation refuses them); it has no evaluation until `humanoid-manip eval` gives it one. Plain
ONNX (onnx and numpy here, ONNX Runtime only for the check after building): no torch.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from humanoid_manip.learn.bundle import (
    BundleError,
    Part,
    check_agreement,
    combined_manifest,
    file_entries,
    finish,
    load_part,
    model_contract,
    part_inputs,
    random_inputs,
    session_from_bytes,
)
from humanoid_manip.policy.contract import OUTPUTS, TEACHER_INPUTS

PARITY_TOL = 1e-5  # |file - mean of the members| allowed on torque and state
PRODUCER = "humanoid_manip.learn.average"


def load_members(files) -> tuple[list[Part], tuple[str, ...]]:
    """The member files and the tasks they all know (in the first one's order); refused
    unless there are two or more distinct teachers for the same robot with a task in common."""
    files = [Path(f) for f in files]
    if len(files) < 2:
        raise BundleError("an average needs at least two teacher files")
    members, seen = [], {}
    for f in files:
        model, contract, sha = load_part(f)
        if not contract.is_teacher:
            raise BundleError(f"{f} is not a privileged-state teacher (it reads camera images, "
                              f"{list(contract.camera_names)}); an average takes teachers")
        if sha in seen:
            raise BundleError(f"{f} is the same file as {seen[sha]}: an average of copies is "
                              f"the file itself")
        seen[sha] = f
        members.append(Part(f, sha, model, contract, contract.task_names))
    check_agreement(members)
    tasks = tuple(t for t in members[0].contract.task_names
                  if all(t in m.contract.task_names for m in members[1:]))
    if not tasks:
        raise BundleError("the files share no task: " + "; ".join(
            f"{m.path}: {list(m.contract.task_names)}" for m in members))
    return members, tasks


def average_graph(members: list[Part], tasks: tuple[str, ...]):
    """The ModelProto (no metadata yet): every member's graph under its own prefix, fed the same
    inputs, torque the mean of theirs, state their states side by side."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    n_j = len(members[0].contract.joint_names)
    p_size = max(m.contract.privileged_size for m in members)
    s_size = sum(m.contract.state_size for m in members)
    nodes, inits, value_info, functions = [], [], [], []

    def const(name: str, array) -> str:
        inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    torques, states, offset = [], [], 0
    for i, member in enumerate(members):
        pre = f"member{i}/"
        m = onnx.compose.add_prefix(member.model, pre)
        nodes += part_inputs(member, pre, f"average/member{i}/", tasks, offset, const)
        nodes += list(m.graph.node)
        inits += list(m.graph.initializer)
        value_info += list(m.graph.value_info)
        functions += list(m.functions)
        torques.append(pre + "torque")
        states.append(pre + "state_out")
        offset += member.contract.state_size
    nodes += [
        helper.make_node("Sum", torques, ["average/sum"], name="average/sum"),
        helper.make_node("Mul", ["average/sum", const("average/weight", np.array(
            1.0 / len(members), np.float32))], ["torque"], name="average/torque"),
        helper.make_node("Concat", states, ["state_out"], name="average/state_out", axis=1)]
    f32 = TensorProto.FLOAT
    inputs = [helper.make_tensor_value_info("privileged", f32, ["B", p_size]),
              helper.make_tensor_value_info("proprio", f32, ["B", 2 * n_j]),
              helper.make_tensor_value_info("task", TensorProto.INT64, ["B"]),
              helper.make_tensor_value_info("state_in", f32, ["B", s_size])]
    outputs = [helper.make_tensor_value_info("torque", f32, ["B", n_j]),
               helper.make_tensor_value_info("state_out", f32, ["B", s_size])]
    assert [i.name for i in inputs] == list(TEACHER_INPUTS)
    assert [o.name for o in outputs] == list(OUTPUTS)
    graph = helper.make_graph(nodes, "humanoid_manip_teacher_average", inputs, outputs,
                              initializer=inits, value_info=value_info)
    return helper.make_model(graph, opset_imports=list(members[0].model.opset_import),
                             ir_version=max(m.model.ir_version for m in members),
                             functions=functions)


def average_lineage(members: list[Part], tasks: tuple[str, ...]) -> dict:
    """Every member's training seeds count as the average's (evaluation refuses them all)."""
    from humanoid_manip.learn.evaluate import training_seeds

    return combined_manifest(["average", list(tasks)], members, {
        "type": "average",
        "tasks": list(tasks),
        "train_seeds": {t: sorted(set().union(*(training_seeds(m.contract.lineage, t)
                                                for m in members))) for t in tasks},
        "members": file_entries(members)})


def average_teachers(files) -> tuple[object, list[Part]]:
    """The averaged teacher (ModelProto, checked) and its members."""
    members, tasks = load_members(files)
    model = average_graph(members, tasks)
    model = finish(model, members[0].contract, tasks, average_lineage(members, tasks),
                   PRODUCER, "average", "humanoid_manip teacher average: privileged object state "
                   "+ proprio + task + memory -> the mean torque of "
                   + ", ".join(m.name for m in members))
    return model, members


def parity(model, members: list[Part], batch: int = 3, ticks: int = 4, seed: int = 0) -> float:
    """Largest |file - members| over the torque (against their mean) and each member's state
    segment, every task in the batch, state fed back for a few ticks, on random inputs."""
    contract = model_contract(model, "the average")
    tasks = contract.task_names
    whole = session_from_bytes(model.SerializeToString())
    sessions = [session_from_bytes(m.model.SerializeToString()) for m in members]
    rng = np.random.default_rng(seed)
    task = np.arange(batch, dtype=np.int64) % len(tasks)
    offsets = np.cumsum([0] + [m.contract.state_size for m in members])
    state = np.zeros((batch, offsets[-1]), np.float32)
    own_states = [np.zeros((batch, m.contract.state_size), np.float32) for m in members]
    worst = 0.0
    for _ in range(ticks):
        obs = random_inputs(contract, rng, batch)
        priv = obs["privileged"]
        torque, state = whole.run(list(OUTPUTS), {**obs, "task": task, "state_in": state})
        mean = 0.0
        for i, (m, sess) in enumerate(zip(members, sessions)):
            own = np.array([m.contract.task_index(tasks[t]) for t in task], np.int64)
            tau, own_states[i] = sess.run(list(OUTPUTS), {
                "privileged": priv[:, :m.contract.privileged_size], "proprio": obs["proprio"],
                "task": own, "state_in": own_states[i]})
            mean = mean + tau / len(members)
            worst = max(worst, float(np.abs(state[:, offsets[i]:offsets[i + 1]]
                                            - own_states[i]).max()))
        worst = max(worst, float(np.abs(torque - mean).max()))
    return worst


def write_average(files, out: str | os.PathLike,
                  force: bool = False) -> tuple[Path, tuple[str, ...]]:
    """NAME.onnx, checked against its members (its lineage is in the file's metadata), and the
    tasks it knows."""
    out = Path(out)
    if out.exists() and not force:
        raise BundleError(f"{out} exists; pass --force to replace it")
    if out.resolve() in {Path(f).resolve() for f in files}:
        raise BundleError(f"{out} is one of the members; choose another --out")
    model, members = average_teachers(files)
    err = parity(model, members)
    if not err <= PARITY_TOL:
        raise BundleError(f"the average differs from its members' mean by {err:.2e} "
                          f"(> {PARITY_TOL:g})")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(model.SerializeToString())
    return out, model_contract(model, str(out)).task_names
