"""Teacher bundles (learn/bundle.py, `humanoid-manip bundle`): the shipped teachers as one file of
the teacher contract that runs each task on its own part, as each part does alone; it loads
through the runtime like any teacher, carries its parts' lineage and evaluations, and bad parts
are refused with one line, not a traceback."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from humanoid_manip.cli import main
from humanoid_manip.config import file_sha256
from humanoid_manip.learn.bundle import BundleError, bundle_policies, parity, session_from_bytes
from humanoid_manip.learn.evaluate import training_seeds
from humanoid_manip.policy import PolicyContractError, PolicyRuntime, load_policy_config
from humanoid_manip.policy.contract import OUTPUTS

POLICIES = Path(__file__).resolve().parents[1] / "policies"
PARTS = {"pick_place": POLICIES / "teacher_pick_place.onnx",
         "dryer_open": POLICIES / "teacher_dryer_open.onnx",
         "zip_bag_open": POLICIES / "teacher_zip_bag_open.onnx"}
TASKS = tuple(PARTS)
TOL = 1e-4  # float32 rounding of the same graph (learn/bundle.py)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "teacher_all.onnx"
    argv = ["bundle", "--out", str(out)]
    for task, f in PARTS.items():
        argv += ["--part", f"{task}={f}"]
    assert main(argv) == 0
    return out


@pytest.fixture(scope="module")
def sessions(bundle):
    parts = {t: session_from_bytes(f.read_bytes()) for t, f in PARTS.items()}
    return session_from_bytes(bundle.read_bytes()), parts


def part_info(task: str, part) -> tuple[int, int]:
    """(the part's own index of the task, its state size), read from the part file."""
    meta = part.get_modelmeta().custom_metadata_map
    state = {i.name: i.shape for i in part.get_inputs()}["state_in"][1]
    return json.loads(meta["task_names"]).index(task), state


@pytest.mark.parametrize("rows", [[0], [1], [2], [0, 1, 2, 2, 1, 0]],
                         ids=["pick_place", "dryer_open", "zip_bag_open", "mixed"])
def test_the_bundle_runs_each_task_as_its_part_does(sessions, rows):
    bundle, parts = sessions
    sizes = [part_info(t, parts[t])[1] for t in TASKS]
    starts = np.cumsum([0] + sizes)
    rng = np.random.default_rng(len(rows))
    task = np.array(rows, np.int64)
    state = np.zeros((len(rows), starts[-1]), np.float32)
    own = [np.zeros((1, sizes[t]), np.float32) for t in rows]
    for _ in range(5):  # each tick feeds the state back
        priv = rng.normal(0, 1, (len(rows), 96)).astype(np.float32)
        proprio = rng.normal(0, 0.3, (len(rows), 96)).astype(np.float32)
        torque, state = bundle.run(list(OUTPUTS), {"privileged": priv, "proprio": proprio,
                                                   "task": task, "state_in": state})
        for r, t in enumerate(rows):
            index, _ = part_info(TASKS[t], parts[TASKS[t]])
            tau, own[r] = parts[TASKS[t]].run(list(OUTPUTS), {
                "privileged": priv[r:r + 1], "proprio": proprio[r:r + 1],
                "task": np.array([index], np.int64), "state_in": own[r]})
            assert np.abs(torque[r] - tau[0]).max() <= TOL
            assert np.abs(tau).max() > 0.1  # a real torque, not zeros on both sides
            segment = state[r, starts[t]:starts[t + 1]]
            assert np.abs(segment - own[r][0]).max() <= TOL
            others = np.delete(state[r], np.arange(starts[t], starts[t + 1]))
            assert not others.any()  # another part's memory stays cleared for this row


def test_the_bundle_loads_as_a_teacher_of_its_tasks(bundle, robot):
    rt = PolicyRuntime(bundle, robot, provider="cpu")
    c = rt.contract
    assert c.is_teacher and c.camera_names == () and c.task_names == TASKS
    assert c.privileged_size == 96 and c.state_size == 3 * 554
    assert c.joint_names == tuple(robot.names) and c.control_rate_hz == robot.rates.policy_hz
    cfg = dataclasses.replace(load_policy_config(), model=str(bundle))
    with pytest.raises(PolicyContractError, match="teacher"):  # the stack still refuses it
        PolicyRuntime.from_config(cfg, robot)
    q, dq = robot.home.copy(), np.zeros(robot.n)
    priv = np.random.default_rng(0).normal(0, 1, 60)  # fewer values than 96: zero-padded
    for task, f in PARTS.items():  # the runtime's own path: one row, the batch axis fixed
        part = PolicyRuntime(f, robot, provider="cpu", task=task)
        rt.set_task(task)
        rt.reset()
        for _ in range(3):
            np.testing.assert_allclose(rt.step(None, q, dq, priv), part.step(None, q, dq, priv),
                                       atol=TOL, rtol=0)


def test_the_bundle_carries_its_parts_lineage_and_evaluations(bundle, robot):
    lineage = PolicyRuntime(bundle, robot, provider="cpu").contract.lineage
    report = json.loads(bundle.with_name("teacher_all.eval.json").read_text())
    beside = json.loads(bundle.with_name("teacher_all.lineage.json").read_text())
    assert beside["checkpoint"]["id"] == lineage["id"] == report["checkpoint"]
    assert beside["bytes"] == bundle.stat().st_size
    assert report["not_evaluated"] == []
    for task, f in PARTS.items():
        part_lineage = PolicyRuntime(f, robot, provider="cpu").contract.lineage
        route = lineage["source"]["routes"][task]
        assert (route["file"], route["sha256"]) == (f.name, file_sha256(f))
        part = lineage["source"]["parts"][route["part"]]
        assert part["lineage"]["id"] == part_lineage["id"] in lineage["parents"]
        # evaluation still refuses the part's training seeds for the task
        assert training_seeds(lineage, task) == training_seeds(part_lineage, task)
        own = json.loads(f.with_name(f"{f.stem}.eval.json").read_text())
        assert report["summary"][task] == own["summary"][task]
        assert report["tasks"][task]["episodes"] == own["tasks"][task]["episodes"]
        assert report["tasks"][task]["measured_on"] == {
            "file": f.name, "sha256": file_sha256(f), "checkpoint": part_lineage["id"]}


def test_one_file_may_run_several_tasks_and_is_included_once():
    model, parts = bundle_policies([("dryer_open", PARTS["pick_place"]),
                                    ("zip_bag_open", PARTS["zip_bag_open"]),
                                    ("pick_place", PARTS["pick_place"])])
    assert [p.tasks for p in parts] == [("dryer_open", "pick_place"), ("zip_bag_open",)]
    inputs = {i.name: i for i in model.graph.input}
    assert inputs["state_in"].type.tensor_type.shape.dim[1].dim_value == 2 * 554
    assert parity(model, parts) <= TOL


def _with_rate(src: Path, dst: Path, rate: float) -> Path:
    model = onnx.load(str(src))
    for p in model.metadata_props:
        if p.key == "control_rate_hz":
            p.value = json.dumps(rate)
    onnx.save(model, str(dst))
    return dst


@pytest.mark.parametrize("case, words", [
    ("mixed_kinds", "disagrees with"),
    ("nested", "is itself a bundle"),
    ("unknown_task", "does not know task 'pick_place'"),
    ("duplicate", "given twice"),
    ("not_onnx", "cannot be read as an ONNX file"),
    ("rate", "disagrees with"),
])
def test_bad_parts_are_refused_in_one_line(case, words, tmp_path, capsys):
    parts = {
        "mixed_kinds": [("pick_place", PARTS["pick_place"]),
                        ("dryer_open", POLICIES / "pixels_four_tasks.onnx")],  # and pixels
        "nested": [("pick_place", POLICIES / "default.onnx")],
        "unknown_task": [("pick_place", PARTS["dryer_open"])],
        "duplicate": [("pick_place", PARTS["pick_place"]), ("pick_place", PARTS["dryer_open"])],
        "not_onnx": [("pick_place", POLICIES / "README.md")],
        "rate": [("pick_place", PARTS["pick_place"]),
                 ("dryer_open", _with_rate(PARTS["dryer_open"], tmp_path / "slow.onnx", 50.0))],
    }[case]
    with pytest.raises(BundleError, match=words):
        bundle_policies(parts)
    argv = ["bundle", "--out", str(tmp_path / "b.onnx")]
    for task, f in parts:
        argv += ["--part", f"{task}={f}"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "b.onnx").exists()


def test_release_files_are_not_overwritten(bundle, tmp_path, capsys):
    argv = ["bundle", "--part", f"pick_place={PARTS['pick_place']}"]
    eval_json = bundle.with_name("teacher_all.eval.json")
    before = eval_json.read_text()
    (tmp_path / "x.eval.json").write_text("keep me")
    assert main(argv + ["--out", str(tmp_path / "x.onnx")]) == 2  # a file beside it exists
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / "x.eval.json").read_text() == "keep me"
    assert main(argv + ["--out", str(PARTS["pick_place"]), "--force"]) == 2  # its own part
    assert "part's own file" in capsys.readouterr().err
    assert eval_json.read_text() == before


def test_pixel_policies_bundle_too_and_a_one_task_batch_runs_its_part_alone(tmp_path, robot):
    """The shipped pixel files: dryer_open by its student, the other tasks by the four-task
    file; both paths through the bundle (a mixed batch, one task's batch) give each part's
    numbers."""
    pairs = [("pick_place", POLICIES / "pixels_four_tasks.onnx"),
             ("dryer_open", POLICIES / "student_dryer_open.onnx"),
             ("zip_bag_open", POLICIES / "pixels_four_tasks.onnx")]
    model, parts = bundle_policies(pairs)
    assert [p.tasks for p in parts] == [("pick_place", "zip_bag_open"), ("dryer_open",)]
    assert parity(model, parts) <= TOL
    # which nodes ran, from ONNX Runtime's own profile: a one-task batch runs its part alone
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(tmp_path / "profile")
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (1, 3, 96, 96, 3), dtype=np.uint8)
    state = np.zeros((1, sum(p.contract.state_size for p in parts)), np.float32)
    session.run(None, {"images": images, "proprio": np.zeros((1, 96), np.float32),
                       "task": np.array([1]), "state_in": state})
    ran = {e.get("name", "") for e in json.loads(Path(session.end_profiling()).read_text())}
    assert any("bundle/alone1/part1/" in n for n in ran), sorted(ran)[:20]
    assert not any(n.startswith(("bundle/alone0/", "bundle/mixed/")) for n in ran)
    out = tmp_path / "pixels.onnx"
    out.write_bytes(model.SerializeToString())
    runtime = PolicyRuntime(out, robot, provider="cpu", task="dryer_open")
    assert not runtime.is_teacher and runtime.contract.camera_names == robot.camera_names
    assert runtime.contract.task_names == ("pick_place", "dryer_open", "zip_bag_open")
