"""Several policy files as one file of the same contract (docs/DESIGN.md), each task run by
the file chosen for it.

`humanoid-manip bundle --part TASK=FILE … --out NAME.onnx` writes a policy whose task_names are
the given tasks in order; each row's task index picks the part file chosen for that task, whose
graph runs unchanged on the same inputs (a teacher's on the first P_i columns of `privileged`)
and its own segment of the recurrent state (the other parts' segments stay zero for that row).
The parts are all privileged-state teachers, or all pixel policies of the same cameras. A batch
whose rows share one task runs that task's part alone (an ONNX If: the robot's one row a tick
costs one part); a mixed batch runs every part and picks per row (each part's weights are
stored in both paths). A file chosen for several tasks is included once. Beside it,
NAME.lineage.json and NAME.eval.json: each task's evaluation episodes as they were measured on
its part file, run alone. Plain ONNX (onnx and numpy here, ONNX Runtime only for the check
after building): no torch.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from humanoid_manip.errors import HumanoidManipError
from humanoid_manip.policy.contract import (
    INPUTS,
    OUTPUTS,
    TEACHER_INPUTS,
    PolicyContract,
    PolicyContractError,
    contract_metadata,
)

# |bundle - part| allowed on torque (N·m) and state: the same graph, but a part inside an If
# branch gets other kernel choices from ONNX Runtime: float32 rounding, about 2e-5 on 20 N·m
PARITY_TOL = 1e-4
PRODUCER = "humanoid_manip.learn.bundle"


class BundleError(HumanoidManipError):
    """Part files that are not policies of the contract, disagree with each other (teachers
    with pixel policies, another robot or camera set), or do not know their task."""


@dataclass(frozen=True)
class Part:
    """One distinct part file: its graph, what it declares, and the bundle's tasks it runs."""

    path: Path
    sha256: str
    model: object  # onnx.ModelProto
    contract: PolicyContract
    tasks: tuple[str, ...]  # the bundle's tasks routed here, in the bundle's order

    @property
    def name(self) -> str:
        return self.path.name


def task_pairs(parts: Mapping[str, str | os.PathLike] | Iterable[tuple[str, str | os.PathLike]]
               ) -> list[tuple[str, Path]]:
    """(task, file) in order; a task given twice is refused, not silently overridden."""
    pairs = list(parts.items() if isinstance(parts, Mapping) else parts)
    if not pairs:
        raise BundleError("a bundle needs at least one TASK=FILE part")
    seen = set()
    for task, _ in pairs:
        if task in seen:
            raise BundleError(f"task {task!r} is given twice; each task is run by one part file")
        seen.add(task)
    return [(str(t), Path(f)) for t, f in pairs]


def _type_name(value_info) -> str:
    """ONNX Runtime's spelling of a tensor type ('tensor(float)'), as the contract reads it."""
    import onnx

    elem = value_info.type.tensor_type.elem_type
    return f"tensor({onnx.TensorProto.DataType.Name(elem).lower()})"


def _shape(value_info) -> list:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
            for d in value_info.type.tensor_type.shape.dim]


def model_contract(model, source: str) -> PolicyContract:
    """The contract of an ONNX model read from its graph and metadata, without running it."""
    inits = {i.name for i in model.graph.initializer}
    inputs = {i.name: (_type_name(i), _shape(i)) for i in model.graph.input if i.name not in inits}
    outputs = {o.name: (_type_name(o), _shape(o)) for o in model.graph.output}
    meta = {p.key: p.value for p in model.metadata_props}
    return PolicyContract.from_parts(meta, inputs, outputs, source)


def load_part(path: Path) -> tuple[object, PolicyContract, str]:
    """(model, contract, sha256) of a part file, refused unless it is a policy of the contract."""
    import onnx

    from humanoid_manip.config import file_sha256

    if not path.is_file():
        raise BundleError(f"part file not found: {path}")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - protobuf raises its own untyped decode errors
        raise BundleError(f"{path} cannot be read as an ONNX file: {exc}") from None
    try:
        contract = model_contract(model, str(path))
    except PolicyContractError as exc:
        raise BundleError(f"{exc} (a bundle's parts are policy files of the contract)") from None
    if model.functions:
        raise BundleError(f"{path} defines ONNX local functions; bundles and averages take "
                          "plain graphs")
    made = contract.lineage.get("source", {}).get("type")
    if made in ("bundle", "average"):
        raise BundleError(f"{path} is itself a{'n' if made == 'average' else ''} {made}: give "
                          f"the files it was made of")
    return model, contract, file_sha256(path)


def group_parts(pairs: list[tuple[str, Path]]) -> list[Part]:
    """The distinct part files (by content), each with the tasks routed to it."""
    loaded, order, tasks = {}, [], {}
    for task, path in pairs:
        model, contract, sha = load_part(path)
        if task not in contract.task_names:
            raise BundleError(f"{path} does not know task {task!r}: its task_names are "
                              f"{list(contract.task_names)}")
        if sha not in loaded:
            loaded[sha] = (path, model, contract)
            order.append(sha)
        tasks.setdefault(sha, []).append(task)
    return [Part(loaded[s][0], s, loaded[s][1], loaded[s][2], tuple(tasks[s])) for s in order]


def check_agreement(parts: list[Part]) -> None:
    """Refuse parts of another kind (teacher or pixels), cameras, robot, rate or opset than the
    first: one file, one robot, one set of inputs."""
    first = parts[0]
    want = _declared(first)
    for p in parts[1:]:
        got = _declared(p)
        diff = [k for k in want if got[k] != want[k]]
        if diff:
            raise BundleError(f"{p.path} disagrees with {first.path} on "
                              + "; ".join(f"{k} ({got[k]} against {want[k]})" for k in diff)
                              + ": the parts of a bundle must share them")


def _declared(part: Part) -> dict:
    c = part.contract
    return {"kind": "a privileged-state teacher" if c.is_teacher else "a pixel policy",
            "camera_names": list(c.camera_names),
            "joint_names": list(c.joint_names), "control_rate_hz": c.control_rate_hz,
            "image_size": (c.image_height, c.image_width),
            "opset": sorted((o.domain, o.version) for o in part.model.opset_import)}


def route(parts: list[Part], tasks: tuple[str, ...]) -> np.ndarray:
    """For each of the bundle's task indices, the number of the part that runs it."""
    return np.array([next(i for i, p in enumerate(parts) if t in p.tasks) for t in tasks],
                    np.int64)


def part_inputs(part: Part, pre: str, own: str, tasks: tuple[str, ...], offset: int,
                const) -> list:
    """Nodes that feed a part its own view of the bundle's inputs: a teacher's first P_i
    columns of `privileged`, the pixels and proprio as they are, its own index of each task and
    its own segment of the recurrent state."""
    from onnx import helper

    c = part.contract
    nodes = []
    for name in (TEACHER_INPUTS if c.is_teacher else INPUTS):
        if name == "privileged":
            nodes.append(helper.make_node(
                "Slice", ["privileged", const(own + "zero", np.array([0])),
                          const(own + "p_end", np.array([c.privileged_size])),
                          const(own + "axis1", np.array([1]))],
                [pre + "privileged"], name=own + "privileged"))
        elif name == "task":
            table = [c.task_index(t) if t in c.task_names else 0 for t in tasks]
            nodes.append(helper.make_node(
                "Gather", [const(own + "task_table", np.array(table, np.int64)), "task"],
                [pre + "task"], name=own + "task", axis=0))
        elif name == "state_in":
            nodes.append(helper.make_node(
                "Slice", ["state_in", const(own + "s_start", np.array([offset])),
                          const(own + "s_end", np.array([offset + c.state_size])),
                          const(own + "s_axis1", np.array([1]))],
                [pre + "state_in"], name=own + "state_in"))
        else:
            nodes.append(helper.make_node("Identity", [name], [pre + name], name=own + name))
    return nodes


def bundle_graph(parts: list[Part], tasks: tuple[str, ...]):
    """The bundle's ModelProto (no metadata yet): every part's graph under its own name prefix.
    A batch of one task runs its part alone; a mixed one runs them all and takes each row's
    torque and state from its own part (both paths give the same numbers)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    routes = route(parts, tasks)
    first = parts[0].contract
    n_j = len(first.joint_names)
    s_size = sum(p.contract.state_size for p in parts)
    offsets = np.cumsum([0] + [p.contract.state_size for p in parts])
    f32 = TensorProto.FLOAT
    inits, functions, prefixed, made = [], [], [], set()

    def const(name: str, array) -> str:
        if name not in made:  # both paths feed a part the same constants: stored once
            made.add(name)
            inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    torque_info = helper.make_tensor_value_info("torque", f32, ["B", n_j])
    state_info = helper.make_tensor_value_info("state_out", f32, ["B", s_size])
    zero = const("bundle/zero", np.array(0.0, np.float32))
    outer = [helper.make_node("Shape", ["task"], ["bundle/batch"], name="bundle/batch")]
    for i, part in enumerate(parts):
        m = onnx.compose.add_prefix(part.model, f"part{i}/")
        prefixed.append(m)
        functions += list(m.functions)
        outer.append(helper.make_node(
            "Concat", ["bundle/batch", const(f"bundle/part{i}/width",
                                             np.array([part.contract.state_size]))],
            [f"bundle/part{i}/zeros_shape"], name=f"bundle/part{i}/zeros_shape", axis=0))

    def run_part(i: int, scope: str) -> tuple[list, list]:
        pre, own = f"part{i}/", f"bundle/part{i}/"
        nodes = part_inputs(parts[i], pre, own, tasks, int(offsets[i]), const)
        for n in prefixed[i].graph.node:  # node names kept apart per path (values may repeat)
            node = onnx.NodeProto()
            node.CopyFrom(n)
            node.name = scope + n.name
            nodes.append(node)
        return nodes, list(prefixed[i].graph.value_info)

    def weights(i: int) -> list:
        """Part i's weights, inside each branch that runs it: ONNX Runtime optimizes a branch
        (fusing, constant folding) only with its constants its own, and read from the outer
        graph one part ran 3-4 times slower. Each part is stored twice (its own path and the
        mixed one)."""
        return list(prefixed[i].graph.initializer)

    def zeros(i: int, scope: str) -> tuple[str, object]:
        out = f"{scope}zeros{i}"
        return out, helper.make_node("ConstantOfShape", [f"bundle/part{i}/zeros_shape"], [out],
                                     name=out,
                                     value=numpy_helper.from_array(np.zeros(1, np.float32)))

    def alone(i: int) -> object:
        """The branch that runs part i for the whole batch; the other segments stay zero."""
        scope = f"bundle/alone{i}/"
        nodes, info = run_part(i, scope)
        segments = []
        for j in range(len(parts)):
            if j == i:
                segments.append(f"part{i}/state_out")
            else:
                name, node = zeros(j, scope)
                nodes.append(node)
                segments.append(name)
        nodes += [helper.make_node("Identity", [f"part{i}/torque"], [scope + "torque"],
                                   name=scope + "torque"),
                  helper.make_node("Concat", segments, [scope + "state_out"],
                                   name=scope + "state_out", axis=1)]
        return helper.make_graph(
            nodes, f"alone{i}", [],
            [helper.make_tensor_value_info(scope + "torque", f32, ["B", n_j]),
             helper.make_tensor_value_info(scope + "state_out", f32, ["B", s_size])],
            value_info=info, initializer=weights(i))

    def mixed() -> object:
        """Every part on every row; each row's torque and state from its own part."""
        scope = "bundle/mixed/"
        nodes, info, torque, segments = [], [], None, []
        for i in range(len(parts)):
            own = f"bundle/part{i}/"
            more, more_info = run_part(i, scope)
            nodes += more
            info += more_info
            nodes.append(helper.make_node(
                "Gather", [const(own + "mask_table", (routes == i).reshape(-1, 1)), "task"],
                [own + "mask"], name=scope + own + "mask", axis=0))  # [B, 1] bool
            # the part's state only for its own rows: another task's rows leave it at zero
            nodes.append(helper.make_node("Where", [own + "mask", f"part{i}/state_out", zero],
                                          [own + "state_out"], name=scope + own + "state_out"))
            segments.append(own + "state_out")
            if torque is None:
                torque = f"part{i}/torque"
            else:
                nodes.append(helper.make_node("Where", [own + "mask", f"part{i}/torque", torque],
                                              [own + "torque"], name=scope + own + "torque"))
                torque = own + "torque"
        nodes += [helper.make_node("Identity", [torque], [scope + "torque"],
                                   name=scope + "torque"),
                  helper.make_node("Concat", segments, [scope + "state_out"],
                                   name=scope + "state_out", axis=1)]
        return helper.make_graph(
            nodes, "mixed", [],
            [helper.make_tensor_value_info(scope + "torque", f32, ["B", n_j]),
             helper.make_tensor_value_info(scope + "state_out", f32, ["B", s_size])],
            value_info=info, initializer=[w for i in range(len(parts)) for w in weights(i)])

    def choose(k: int) -> object:
        """Part k's branch, or the next part's, by the first row's route."""
        if k == len(parts) - 1:
            return alone(k)
        scope = f"bundle/choose{k}/"
        return helper.make_graph([
            helper.make_node("Equal", ["bundle/route0", const(scope + "k", np.array(k))],
                             [scope + "is"], name=scope + "is"),
            helper.make_node("If", [scope + "is"], [scope + "torque", scope + "state_out"],
                             name=scope + "if", then_branch=alone(k),
                             else_branch=choose(k + 1))],
            f"choose{k}", [],
            [helper.make_tensor_value_info(scope + "torque", f32, ["B", n_j]),
             helper.make_tensor_value_info(scope + "state_out", f32, ["B", s_size])])

    outer += [
        helper.make_node("Gather", ["task", const("bundle/first", np.array(0))],
                         ["bundle/task0"], name="bundle/task0", axis=0),
        helper.make_node("Gather", [const("bundle/routes", routes), "bundle/task0"],
                         ["bundle/route0"], name="bundle/route0", axis=0),
        helper.make_node("Gather", ["bundle/routes", "task"],
                         ["bundle/route_rows"], name="bundle/route_rows", axis=0),
        helper.make_node("Equal", ["bundle/route_rows", "bundle/route0"], ["bundle/same"],
                         name="bundle/same"),
        helper.make_node("Cast", ["bundle/same"], ["bundle/same_i"], name="bundle/same_i",
                         to=TensorProto.INT64),
        helper.make_node("ReduceMin", ["bundle/same_i"], ["bundle/all_same_i"],
                         name="bundle/all_same_i", keepdims=0),
        helper.make_node("Cast", ["bundle/all_same_i"], ["bundle/one_part"],
                         name="bundle/one_part", to=TensorProto.BOOL),
        helper.make_node("If", ["bundle/one_part"], ["torque", "state_out"], name="bundle/if",
                         then_branch=choose(0), else_branch=mixed()),
    ]
    if first.is_teacher:
        obs = helper.make_tensor_value_info(
            "privileged", f32, ["B", max(p.contract.privileged_size for p in parts)])
    else:
        obs = helper.make_tensor_value_info(
            "images", TensorProto.UINT8,
            ["B", len(first.camera_names), first.image_height, first.image_width, 3])
    inputs = [obs, helper.make_tensor_value_info("proprio", f32, ["B", 2 * n_j]),
              helper.make_tensor_value_info("task", TensorProto.INT64, ["B"]),
              helper.make_tensor_value_info("state_in", f32, ["B", s_size])]
    assert [i.name for i in inputs] == list(TEACHER_INPUTS if first.is_teacher else INPUTS)
    assert [o.name for o in (torque_info, state_info)] == list(OUTPUTS)
    graph = helper.make_graph(outer, "humanoid_manip_bundle", inputs,
                              [torque_info, state_info], initializer=inits)
    return helper.make_model(graph, opset_imports=list(parts[0].model.opset_import),
                             ir_version=max(p.model.ir_version for p in parts),
                             functions=functions)


def _agreed(dicts: list[dict]) -> dict:
    """The entries every dict has with the same value (the configuration all parts share)."""
    first, rest = dicts[0], dicts[1:]
    return {k: v for k, v in first.items() if all(k in d and d[k] == v for d in rest)}


def combined_manifest(key: list, files: list[Part], source: dict) -> dict:
    """A checkpoint manifest for a file made of other files: its id follows from `key` (what
    was combined, by sha256), its parents are their checkpoints, and its configuration what
    they were all trained with (drift warnings at load: files that differ on a config file keep
    only what they share)."""
    from humanoid_manip.data.lineage import code_version

    lineages = [f.contract.lineage for f in files]
    key_text = json.dumps([*key, [f.sha256 for f in files]])
    return {
        "kind": "checkpoint",
        "id": f"che-{hashlib.sha256(key_text.encode()).hexdigest()[:12]}",
        "code_version": code_version(),
        "config": _agreed([x.get("config") or {} for x in lineages]),
        "config_values": _agreed([x.get("config_values") or {} for x in lineages]),
        "source": source,
        "parents": list(dict.fromkeys(str(x["id"]) for x in lineages if x.get("id"))),
        "created": time.time(),
        "extra": {},
    }


def file_entries(files: list[Part]) -> list[dict]:
    """What a combined file's lineage says of each file in it."""
    offsets = np.cumsum([0] + [f.contract.state_size for f in files])
    return [{"file": f.name, "sha256": f.sha256, "tasks": list(f.tasks),
             "task_names": list(f.contract.task_names),
             "privileged_size": f.contract.privileged_size,
             "state": [int(offsets[i]), int(offsets[i + 1])],
             "lineage": f.contract.lineage} for i, f in enumerate(files)]


def bundle_lineage(parts: list[Part], tasks: tuple[str, ...]) -> dict:
    """Per task, the part file (name, sha256) and that part's own lineage."""
    from humanoid_manip.learn.evaluate import training_seeds

    routes = route(parts, tasks)
    return combined_manifest([list(tasks)], parts, {
        "type": "bundle",
        "tasks": list(tasks),
        # each task's training seeds are its part's, so evaluation refuses them as before
        "train_seeds": {t: sorted(training_seeds(parts[routes[k]].contract.lineage, t))
                        for k, t in enumerate(tasks)},
        "routes": {t: {"part": int(routes[k]), "file": parts[routes[k]].name,
                       "sha256": parts[routes[k]].sha256,
                       "task_index": parts[routes[k]].contract.task_index(t)}
                   for k, t in enumerate(tasks)},
        "parts": file_entries(parts)})


def bundle_policies(parts) -> tuple[object, list[Part]]:
    """The bundled policy (ModelProto, checked) and its parts, from task -> part file in the
    order of the bundle's task_names."""

    pairs = task_pairs(parts)
    grouped = group_parts(pairs)
    check_agreement(grouped)
    tasks = tuple(t for t, _ in pairs)
    seen = "privileged object state" if grouped[0].contract.is_teacher else "camera pixels"
    model = finish(bundle_graph(grouped, tasks), grouped[0].contract, tasks,
                   bundle_lineage(grouped, tasks), PRODUCER, "bundle",
                   f"humanoid_manip bundle: {seen} + proprio + task + memory -> torque, each "
                   "task run by its own part file: "
                   + ", ".join(f"{t} -> {p.name}" for p in grouped for t in p.tasks))
    return model, grouped


def finish(model, like: PolicyContract, tasks: tuple[str, ...], lineage: dict, producer: str,
           what: str, doc: str):
    """The contract's metadata (as `like` declares it, with these tasks and lineage) on a
    combined graph, checked by onnx and read back as a contract."""
    import onnx

    onnx.helper.set_model_props(model, contract_metadata(
        like.joint_names, like.camera_names, (like.image_height, like.image_width), tasks,
        like.control_rate_hz, lineage))
    model.producer_name, model.doc_string = producer, doc
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise BundleError(f"the {what}'s graph does not check: {exc}") from None
    model_contract(model, f"the {what}")
    return model


def random_inputs(contract: PolicyContract, rng, b: int) -> dict[str, np.ndarray]:
    """One tick of random observations for a batch of b (no task, no state)."""
    n2 = 2 * len(contract.joint_names)
    proprio = rng.normal(0, 0.5, (b, n2)).astype(np.float32)
    if contract.is_teacher:
        return {"privileged": rng.normal(0, 1, (b, contract.privileged_size)).astype(np.float32),
                "proprio": proprio}
    shape = (b, len(contract.camera_names), contract.image_height, contract.image_width, 3)
    return {"images": rng.integers(0, 256, shape, dtype=np.uint8), "proprio": proprio}


def parity(model, parts: list[Part], batch_per_task: int = 2, ticks: int = 3,
           seed: int = 0) -> float:
    """Largest |bundle - part| over torque and the part's state segment, state fed back for a
    few ticks, on random inputs: all tasks mixed in one batch, then each task's batch alone
    (the two paths through the bundle)."""
    contract = model_contract(model, "the bundle")
    tasks = contract.task_names
    routes = route(parts, tasks)
    bundle = session_from_bytes(model.SerializeToString())
    sessions = [session_from_bytes(p.model.SerializeToString()) for p in parts]
    rng = np.random.default_rng(seed)
    offsets = np.cumsum([0] + [p.contract.state_size for p in parts])
    batches = [np.repeat(np.arange(len(tasks), dtype=np.int64), batch_per_task)]
    batches += [np.full(batch_per_task, k, np.int64) for k in range(len(tasks))]
    worst = 0.0
    for task in batches:
        b = len(task)
        state = np.zeros((b, offsets[-1]), np.float32)
        part_states = [np.zeros((b, p.contract.state_size), np.float32) for p in parts]
        for _ in range(ticks):
            obs = random_inputs(contract, rng, b)
            torque, state = bundle.run(list(OUTPUTS), {**obs, "task": task, "state_in": state})
            for i, (p, sess) in enumerate(zip(parts, sessions)):
                rows = routes[task] == i
                own = np.array([p.contract.task_index(tasks[t]) if r else 0
                                for t, r in zip(task, rows)], np.int64)
                mine = dict(obs)
                if p.contract.is_teacher:
                    mine["privileged"] = obs["privileged"][:, :p.contract.privileged_size]
                p_tau, p_state = sess.run(list(OUTPUTS), {**mine, "task": own,
                                                          "state_in": part_states[i]})
                part_states[i] = np.where(rows[:, None], p_state, 0.0).astype(np.float32)
                seg = state[:, offsets[i]:offsets[i + 1]]
                worst = max(worst, float(np.abs(torque[rows] - p_tau[rows]).max(initial=0.0)),
                            float(np.abs(seg - part_states[i]).max()))
    return worst


def session_from_bytes(model: bytes):
    """An ONNX Runtime CPU session with the runtime's options, any batch size."""
    import onnxruntime as ort

    from humanoid_manip.policy.runtime import session_options

    return ort.InferenceSession(model, sess_options=session_options(1, None),
                                providers=["CPUExecutionProvider"])


def part_release(part: Part, kind: str) -> dict | None:
    """A part's release file beside it (`<stem>.eval.json`, `<stem>.lineage.json`), if any."""
    f = part.path.with_name(f"{part.path.stem}.{kind}.json")
    if not f.is_file():
        return None
    try:
        return json.loads(f.read_text())
    except (OSError, ValueError) as exc:
        raise BundleError(f"cannot read {f}: {exc}") from None


def bundle_evaluation(parts: list[Part], tasks: tuple[str, ...], name: str,
                      lineage: dict) -> dict:
    """NAME.eval.json: per task, its part's own evaluation of that task (the format of `ship`'s
    eval.json), marked as measured on the part file; a task its part's report lacks is listed
    under not_evaluated."""
    routes = route(parts, tasks)
    evals, summary, missing = {}, {}, []
    for k, task in enumerate(tasks):
        part = parts[routes[k]]
        report = part_release(part, "eval")
        part_id = part.contract.lineage.get("id")
        if report is not None and report.get("checkpoint") != part_id:
            raise BundleError(f"{part.path.stem}.eval.json evaluates checkpoint "
                              f"{report.get('checkpoint')!r}, but {part.path} is {part_id!r}: "
                              f"the report is not of this file")
        entry = (report or {}).get("tasks", {}).get(task)
        if entry is None:
            missing.append(task)
            continue
        measured = {"file": part.name, "sha256": part.sha256, "checkpoint": part_id}
        evals[task] = dict(entry, measured_on=measured)
        summary[task] = report["summary"][task]
    return {"policy": name, "checkpoint": lineage["id"], "summary": summary, "tasks": evals,
            "measured_on_parts": "every figure was measured on the part file named in its "
                                 "measured_on (sha256), run alone; the bundle runs that file's "
                                 "graph unchanged for the task (the same torque within "
                                 f"{PARITY_TOL:g}), so it was not evaluated again",
            "not_evaluated": missing}


def release_lineage(parts: list[Part], pairs: list[tuple[str, Path]], name: str, size: int,
                    lineage: dict, summary: dict) -> dict:
    """NAME.lineage.json: the bundle's manifest, how it was made, and each part's own release
    lineage (less the manifest the bundle's already holds)."""
    releases = {}
    for p in parts:
        rel = part_release(p, "lineage")
        releases[p.name] = None if rel is None else {k: v for k, v in rel.items()
                                                     if k != "checkpoint"}
    return {"policy": name, "bytes": size, "checkpoint": lineage, "round": None, "rounds": [],
            "pipeline": {"command": "humanoid-manip bundle",
                         "parts": {t: str(f) for t, f in pairs}},
            "part_releases": releases, "evaluation": summary}


def write_bundle(parts, out: str | os.PathLike, force: bool = False) -> dict[str, Path]:
    """NAME.onnx (checked against every part), NAME.lineage.json and NAME.eval.json."""
    pairs = task_pairs(parts)
    out = Path(out)
    stem = out.name[:-5] if out.name.endswith(".onnx") else out.name
    outputs = {"policy": out, "lineage": out.with_name(f"{stem}.lineage.json"),
               "eval": out.with_name(f"{stem}.eval.json")}
    part_files = {f.resolve() for _, f in pairs}
    part_files |= {f.with_name(f"{f.stem}.{k}.json").resolve() for f in list(part_files)
                   for k in ("eval", "lineage")}
    clash = [str(p) for p in outputs.values() if p.resolve() in part_files]
    if clash:
        raise BundleError(f"{', '.join(clash)} would overwrite a part's own file; choose "
                          f"another --out")
    there = [str(p) for p in outputs.values() if p.exists()]
    if there and not force:
        raise BundleError(f"{', '.join(there)} exist; pass --force to replace them")
    model, grouped = bundle_policies(pairs)
    err = parity(model, grouped)
    if not err <= PARITY_TOL:
        raise BundleError(f"the bundle differs from its parts by {err:.2e} (> {PARITY_TOL:g})")
    data = model.SerializeToString()
    lineage = json.loads({p.key: p.value for p in model.metadata_props}["lineage"])
    tasks = tuple(t for t, _ in pairs)
    evaluation = bundle_evaluation(grouped, tasks, out.name, lineage)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    outputs["eval"].write_text(json.dumps(evaluation, indent=1) + "\n")
    outputs["lineage"].write_text(json.dumps(release_lineage(
        grouped, pairs, out.name, len(data), lineage, evaluation["summary"]), indent=1) + "\n")
    return outputs
