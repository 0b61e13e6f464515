"""`data lineage` prints the right graph for two rounds of collection and training, and the
start-up check reports the configuration drift of a checkpoint's data field by field."""
import copy
import json

import pytest

from humanoid_manip.cli import main
from humanoid_manip.data.lineage import (
    checkpoint_manifest,
    drift_report,
    evaluation_manifest,
    new_manifest,
    write_manifest,
)
from humanoid_manip.data.lineage_graph import check_checkpoint, format_graph, load_graph
from humanoid_manip.data.schema import episode_metadata
from humanoid_manip.data.synth import write_synthetic

# A private copy of config/ and urdf/ (test/conftest.py), so edits to the working tree while
# these tests run do not show up as configuration drift.
pytestmark = pytest.mark.usefixtures("frozen_config")


def _episode(d, name, robot, source, parents=()):
    meta = episode_metadata("pick_place", len(name), source, sim=True, parents=parents,
                            robot=robot)
    write_synthetic(d / f"{name}.mcap", robot, 0.1, metadata=meta, images=False)
    return meta["lineage"]


@pytest.fixture(scope="module")
def two_rounds(tmp_path_factory, robot):
    """Round 1: 3 expert demos → ckpt1 → eval1, 2 episodes collected by ckpt1.
    Round 2: demos + those 2 → ckpt2 → eval2, 1 episode collected by ckpt2."""
    d = tmp_path_factory.mktemp("lineage")
    demos = [_episode(d / "episodes", f"demo{i}", robot, {"type": "expert"}) for i in range(3)]
    ck1 = checkpoint_manifest(demos, {"type": "bc", "epochs": 5}, robot=robot)
    (d / "checkpoints").mkdir()
    write_manifest(d / "checkpoints" / "ckpt1.json", ck1)
    ev1 = evaluation_manifest(ck1.id, "pick_place", range(10), 0.4, robot=robot)
    (d / "evals").mkdir()
    write_manifest(d / "evals" / "eval1.json", ev1)
    collected1 = [_episode(d / "episodes", f"r1_{i}", robot,
                           {"type": "policy", "checkpoint": ck1.id}, parents=[ck1.id])
                  for i in range(2)]
    ck2 = checkpoint_manifest(demos + collected1, {"type": "bc", "epochs": 5}, robot=robot)
    write_manifest(d / "checkpoints" / "ckpt2.json", ck2)
    ev2 = new_manifest("evaluation", {"task": "pick_place", "seeds": list(range(10))},
                       parents=[ck2.id], robot=robot)
    # learn/evaluate.py writes results with the manifest under "lineage"
    (d / "evals" / "eval2.json").write_text(json.dumps(
        {"task": "pick_place", "success_rate": 0.7, "lineage": json.loads(ev2.to_json())}))
    collected2 = [_episode(d / "episodes", "r2_0", robot,
                           {"type": "policy", "checkpoint": ck2.id})]
    (d / "notes.json").write_text(json.dumps({"not": "a manifest"}))
    return d, demos, ck1, ev1, collected1, ck2, ev2, collected2


def test_graph_edges(two_rounds):
    d, demos, ck1, ev1, col1, ck2, ev2, col2 = two_rounds
    g = load_graph(d).to_dict()
    assert len(g["nodes"]) == 3 + 1 + 1 + 2 + 1 + 1 + 1 and not g["missing"]
    edges = {tuple(e) for e in g["edges"]}
    demo_ids, c1_ids = [m["id"] for m in demos], [m["id"] for m in col1]
    expected = ({(e, ck1.id) for e in demo_ids} | {(ck1.id, ev1.id)}
                | {(ck1.id, e) for e in c1_ids}
                | {(e, ck2.id) for e in demo_ids + c1_ids} | {(ck2.id, ev2.id)}
                | {(ck2.id, col2[0]["id"])})
    assert edges == expected


def test_printed_graph(two_rounds, capsys):
    d, demos, ck1, ev1, col1, ck2, ev2, col2 = two_rounds
    assert main(["data", "lineage", str(d)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("6 episode(s), 2 checkpoint(s), 2 evaluation(s)")
    assert lines[1].startswith("demonstrations: 3 episode(s) (expert 3)")
    i1 = lines.index(f"round 1: checkpoint {ck1.id} (checkpoints/ckpt1.json)")
    i2 = lines.index(f"round 2: checkpoint {ck2.id} (checkpoints/ckpt2.json)")
    assert i1 < i2
    assert lines[i1 + 1] == "  trained on 3 episode(s): expert 3"
    assert lines[i1 + 2] == (f"  evaluation {ev1.id} (evals/eval1.json): pick_place, 10 seeds, "
                             "success 40%")
    assert lines[i1 + 3].startswith("  collected 2 episode(s): ")
    assert set(lines[i1 + 3].split(": ")[1].split(", ")) == {m["id"] for m in col1}
    assert lines[i1 + 4] == f"    → used to train {ck2.id}"
    assert lines[i2 + 1] == f"  trained on 5 episode(s): expert 3, policy {ck1.id} 2"
    assert lines[i2 + 2].startswith(f"  evaluation {ev2.id}") and "success 70%" in lines[i2 + 2]
    assert lines[i2 + 3] == f"  collected 1 episode(s): {col2[0]['id']}"
    assert lines[-1] == f"not yet trained on: 1 episode(s): {col2[0]['id']}"
    assert main(["data", "lineage", str(d), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["edges"]) == 3 + 1 + 2 + 5 + 1 + 1


def test_missing_parent_is_reported(tmp_path, robot):
    _episode(tmp_path, "orphan", robot, {"type": "policy", "checkpoint": "che-gone"})
    _episode(tmp_path, "dagger", robot, {"type": "dagger", "policy": "che-away"})
    text = format_graph(load_graph(tmp_path))
    assert "missing: che-gone is named as a parent" in text
    assert "missing: che-away is named as a parent" in text


def test_startup_check_reports_changed_gain_field_by_field(two_rounds, robot, capsys,
                                                           tmp_path):
    d, demos, ck1, *_ = two_rounds
    assert check_checkpoint(load_graph(d), ck1.id, robot) == []
    assert main(["data", "lineage", str(d), "--check", ck1.id]) == 0
    capsys.readouterr()
    # The data of this checkpoint was recorded when the wrist kd was 2.0 (1.5 now).
    lineage = copy.deepcopy(ck1.__dict__)
    for group in lineage["extra"]["data_config"]:
        gains = group["config_values"]["robot.yaml"]["gains"]
        wrist = next(i for i, g in enumerate(gains) if g["match"] == "*_wrist_*")
        gains[wrist]["kd"] = 2.0
        group["config"]["robot.yaml"] = "0" * 64
    lines = drift_report(lineage, robot)
    assert lines == [f"robot.yaml: gains[{wrist}].kd: recorded 2.0, running 1.5"]
    (tmp_path / "drifted.json").write_text(json.dumps(lineage))
    assert main(["data", "lineage", str(d), "--check", str(tmp_path / "drifted.json")]) == 1
    assert f"gains[{wrist}].kd: recorded 2.0, running 1.5" in capsys.readouterr().out


def test_onnx_policy_file_carries_its_checkpoint(two_rounds, tmp_path, robot, capsys):
    import shutil

    import onnx
    from onnx import TensorProto, helper

    d, _, _, _, _, ck2, *_ = two_rounds
    tree = tmp_path / "tree"
    shutil.copytree(d, tree)
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph)
    helper.set_model_props(model, {"lineage": ck2.to_json()})
    onnx.save(model, str(tree / "policy.onnx"))
    g = load_graph(tree)
    assert not g.problems and g.nodes[ck2.id].file == "checkpoints/ckpt2.json"
    assert check_checkpoint(g, str(tree / "policy.onnx"), robot) == []
    alone = load_graph(tree / "policy.onnx")
    assert list(alone.nodes) == [ck2.id] and alone.nodes[ck2.id].kind == "checkpoint"
