"""Several privileged-state teacher files as one file of the same contract (docs/DESIGN.md).

`humanoid-manip bundle --part TASK=FILE … --out NAME.onnx` writes a teacher whose task_names
are the given tasks in order; each row's task index picks the part file chosen for that task,
whose graph runs unchanged on the first P_i columns of `privileged` and its own segment of the
recurrent state (the other parts' segments stay zero for that row). A file chosen for several
tasks is included once. Beside it, NAME.lineage.json and NAME.eval.json: each task's evaluation
episodes as they were measured on its part file, run alone. Plain ONNX (onnx and numpy here,
ONNX Runtime only for the check after building): no torch.
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
    OUTPUTS,
    TEACHER_INPUTS,
    PolicyContract,
    PolicyContractError,
    contract_metadata,
)

PARITY_TOL = 1e-5  # |bundle - part| allowed on torque and state: the same graph, run inside
PRODUCER = "humanoid_manip.learn.bundle"


class BundleError(HumanoidManipError):
    """Part files that are not teachers, disagree with each other, or do not know their task."""


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
    """(model, contract, sha256) of a part file, refused unless it is a teacher."""
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
        raise BundleError(f"{exc} (a bundle's parts are teacher files of the contract)") from None
    if not contract.is_teacher:
        raise BundleError(f"{path} is not a privileged-state teacher (it reads camera images, "
                          f"{list(contract.camera_names)}); bundles and averages take teachers")
    if model.functions:
        raise BundleError(f"{path} defines ONNX local functions; bundles and averages take "
                          "plain graphs")
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
    """Refuse parts made for another robot, rate or opset than the first: one file, one
    robot."""
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
    return {"joint_names": list(c.joint_names), "control_rate_hz": c.control_rate_hz,
            "image_size": (c.image_height, c.image_width),
            "opset": sorted((o.domain, o.version) for o in part.model.opset_import)}


def route(parts: list[Part], tasks: tuple[str, ...]) -> np.ndarray:
    """For each of the bundle's task indices, the number of the part that runs it."""
    return np.array([next(i for i, p in enumerate(parts) if t in p.tasks) for t in tasks],
                    np.int64)


def bundle_graph(parts: list[Part], tasks: tuple[str, ...]):
    """The bundle's ModelProto (no metadata yet): every part's graph under its own name prefix,
    fed its slice of the inputs, and the routed part's torque and state per row."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    routes = route(parts, tasks)
    n_j = len(parts[0].contract.joint_names)
    p_size = max(p.contract.privileged_size for p in parts)
    s_size = sum(p.contract.state_size for p in parts)
    nodes, inits, value_info, functions = [], [], [], []

    def const(name: str, array) -> str:
        inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    zero = const("bundle/zero", np.array(0.0, np.float32))
    torque, state_parts, offset = None, [], 0
    for i, part in enumerate(parts):
        pre, own = f"part{i}/", f"bundle/part{i}/"
        m = onnx.compose.add_prefix(part.model, pre)
        c = part.contract
        task_table = [c.task_index(t) if routes[k] == i else 0 for k, t in enumerate(tasks)]
        mask_table = (routes == i).reshape(-1, 1)
        s = c.state_size
        nodes += [
            helper.make_node("Slice", ["privileged", const(own + "zero", np.array([0])),
                                       const(own + "p_end", np.array([c.privileged_size])),
                                       const(own + "axis1", np.array([1]))],
                             [pre + "privileged"], name=own + "privileged"),
            helper.make_node("Identity", ["proprio"], [pre + "proprio"], name=own + "proprio"),
            helper.make_node("Gather", [const(own + "task_table", np.array(task_table, np.int64)),
                                        "task"], [pre + "task"], name=own + "task", axis=0),
            helper.make_node("Slice", ["state_in", const(own + "s_start", np.array([offset])),
                                       const(own + "s_end", np.array([offset + s])),
                                       own + "axis1"],
                             [pre + "state_in"], name=own + "state_in"),
            helper.make_node("Gather", [const(own + "mask_table", mask_table), "task"],
                             [own + "mask"], name=own + "mask", axis=0),  # [B, 1] bool
        ]
        nodes += list(m.graph.node)
        inits += list(m.graph.initializer)
        value_info += list(m.graph.value_info)
        functions += list(m.functions)
        # the part's state only for its own rows: another task's rows leave its segment at zero
        nodes.append(helper.make_node("Where", [own + "mask", pre + "state_out", zero],
                                      [own + "state_out"], name=own + "state_out"))
        state_parts.append(own + "state_out")
        if torque is None:
            torque = pre + "torque"
        else:
            nodes.append(helper.make_node("Where", [own + "mask", pre + "torque", torque],
                                          [own + "torque"], name=own + "torque"))
            torque = own + "torque"
        offset += s
    nodes.append(helper.make_node("Identity", [torque], ["torque"], name="bundle/torque"))
    nodes.append(helper.make_node("Concat", state_parts, ["state_out"], name="bundle/state_out",
                                  axis=1))
    f32 = TensorProto.FLOAT
    inputs = [helper.make_tensor_value_info("privileged", f32, ["B", p_size]),
              helper.make_tensor_value_info("proprio", f32, ["B", 2 * n_j]),
              helper.make_tensor_value_info("task", TensorProto.INT64, ["B"]),
              helper.make_tensor_value_info("state_in", f32, ["B", s_size])]
    outputs = [helper.make_tensor_value_info("torque", f32, ["B", n_j]),
               helper.make_tensor_value_info("state_out", f32, ["B", s_size])]
    assert [i.name for i in inputs] == list(TEACHER_INPUTS)
    assert [o.name for o in outputs] == list(OUTPUTS)
    graph = helper.make_graph(nodes, "humanoid_manip_teacher_bundle", inputs, outputs,
                              initializer=inits, value_info=value_info)
    return helper.make_model(graph, opset_imports=list(parts[0].model.opset_import),
                             ir_version=max(p.model.ir_version for p in parts),
                             functions=functions)


def _agreed(dicts: list[dict]) -> dict:
    """The entries every dict has with the same value (the configuration all parts share)."""
    first, rest = dicts[0], dicts[1:]
    return {k: v for k, v in first.items() if all(k in d and d[k] == v for d in rest)}


def bundle_lineage(parts: list[Part], tasks: tuple[str, ...]) -> dict:
    """A checkpoint manifest whose parents are the parts' checkpoints; per task, the part file
    (name, sha256) and that part's own lineage; the id follows from the tasks and the files."""
    from humanoid_manip.data.lineage import code_version
    from humanoid_manip.learn.evaluate import training_seeds

    routes = route(parts, tasks)
    part_lineages = [p.contract.lineage for p in parts]
    key = json.dumps([list(tasks), [p.sha256 for p in parts]])
    offsets = np.cumsum([0] + [p.contract.state_size for p in parts])
    parents = [str(x["id"]) for x in part_lineages if x.get("id")]
    return {
        "kind": "checkpoint",
        "id": f"che-{hashlib.sha256(key.encode()).hexdigest()[:12]}",
        "code_version": code_version(),
        # the configuration every part was trained with (drift warnings at load); a file whose
        # parts differ on a file keeps only what they share
        "config": _agreed([x.get("config") or {} for x in part_lineages]),
        "config_values": _agreed([x.get("config_values") or {} for x in part_lineages]),
        "source": {
            "type": "bundle",
            "tasks": list(tasks),
            # each task's training seeds are its part's, so evaluation refuses them as before
            "train_seeds": {t: sorted(training_seeds(part_lineages[routes[k]], t))
                            for k, t in enumerate(tasks)},
            "routes": {t: {"part": int(routes[k]), "file": parts[routes[k]].name,
                           "sha256": parts[routes[k]].sha256,
                           "task_index": parts[routes[k]].contract.task_index(t)}
                       for k, t in enumerate(tasks)},
            "parts": [{"file": p.name, "sha256": p.sha256, "tasks": list(p.tasks),
                       "task_names": list(p.contract.task_names),
                       "privileged_size": p.contract.privileged_size,
                       "state": [int(offsets[i]), int(offsets[i + 1])],
                       "lineage": p.contract.lineage} for i, p in enumerate(parts)],
        },
        "parents": list(dict.fromkeys(parents)),
        "created": time.time(),
        "extra": {},
    }


def bundle_teachers(parts) -> tuple[object, list[Part]]:
    """The bundled teacher (ModelProto, checked) and its parts, from task -> part file in the
    order of the bundle's task_names."""
    import onnx

    pairs = task_pairs(parts)
    grouped = group_parts(pairs)
    check_agreement(grouped)
    tasks = tuple(t for t, _ in pairs)
    model = bundle_graph(grouped, tasks)
    c = grouped[0].contract
    onnx.helper.set_model_props(model, contract_metadata(
        c.joint_names, (), (c.image_height, c.image_width), tasks, c.control_rate_hz,
        bundle_lineage(grouped, tasks)))
    model.producer_name = PRODUCER
    model.doc_string = ("humanoid_manip teacher bundle: privileged object state + proprio + task "
                        "+ memory -> torque, each task run by its own part file: "
                        + ", ".join(f"{t} -> {p.name}" for p in grouped for t in p.tasks))
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise BundleError(f"the bundled graph does not check: {exc}") from None
    model_contract(model, "the bundle")
    return model, grouped


def parity(model, parts: list[Part], batch_per_task: int = 2, ticks: int = 4,
           seed: int = 0) -> float:
    """Largest |bundle - part| over torque and the part's state segment, all tasks mixed in one
    batch, state fed back for a few ticks, on random inputs."""
    tasks = model_contract(model, "the bundle").task_names
    routes = route(parts, tasks)
    bundle = session_from_bytes(model.SerializeToString())
    sessions = [session_from_bytes(p.model.SerializeToString()) for p in parts]
    rng = np.random.default_rng(seed)
    task = np.repeat(np.arange(len(tasks), dtype=np.int64), batch_per_task)
    b, n2 = len(task), 2 * len(parts[0].contract.joint_names)
    p_size = max(p.contract.privileged_size for p in parts)
    offsets = np.cumsum([0] + [p.contract.state_size for p in parts])
    state = np.zeros((b, offsets[-1]), np.float32)
    part_states = [np.zeros((b, p.contract.state_size), np.float32) for p in parts]
    worst = 0.0
    for _ in range(ticks):
        priv = rng.normal(0, 1, (b, p_size)).astype(np.float32)
        proprio = rng.normal(0, 0.5, (b, n2)).astype(np.float32)
        torque, state = bundle.run(list(OUTPUTS), {"privileged": priv, "proprio": proprio,
                                                   "task": task, "state_in": state})
        for i, (p, sess) in enumerate(zip(parts, sessions)):
            rows = routes[task] == i
            own = np.array([p.contract.task_index(tasks[t]) if r else 0
                            for t, r in zip(task, rows)], np.int64)
            p_tau, p_state = sess.run(list(OUTPUTS), {
                "privileged": priv[:, :p.contract.privileged_size], "proprio": proprio,
                "task": own, "state_in": part_states[i]})
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
    model, grouped = bundle_teachers(pairs)
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
