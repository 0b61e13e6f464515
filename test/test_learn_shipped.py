"""The shipped default policy: small, fits the robot, carries its lineage, evaluated on unseen
seeds, found by `eval --policy default` and by the stack's configuration, installed with the
package data."""
import json
from pathlib import Path

import pytest

from humanoid_manip import paths
from humanoid_manip.cli import main
from humanoid_manip.commands.eval import SHIPPED
from humanoid_manip.learn.evaluate import training_seeds
from humanoid_manip.policy import PolicyRuntime, load_policy_config

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"


@pytest.fixture(scope="module")
def runtime(robot):
    return PolicyRuntime(paths.share_dir() / SHIPPED, robot, provider="cpu")


def test_the_shipped_policy_is_small_and_fits_the_robot(runtime, robot):
    size = (POLICIES / "default.onnx").stat().st_size
    assert size < 20e6, f"{size / 1e6:.1f} MB"
    c = runtime.contract
    assert list(c.joint_names) == list(robot.names)
    assert set(c.task_names) == {"pick_place", "dryer_open", "dryer_unload", "zip_bag_open"}
    assert c.control_rate_hz == robot.rates.policy_hz


def test_it_runs_each_task_on_the_best_pixel_file_and_its_lineage_names_them(runtime):
    """default.onnx is a bundle of pixel files (learn/bundle.py): dryer_open, pick_place and
    dryer_unload on their students, zip_bag_open on the four-task policy of the first flywheel;
    each part's own lineage (its data and run) travels inside."""
    import hashlib

    lineage = runtime.contract.lineage
    assert lineage["kind"] == "checkpoint" and lineage["source"]["type"] == "bundle"
    routes = lineage["source"]["routes"]
    assert routes["dryer_open"]["file"] == "student_dryer_open.onnx"
    assert routes["pick_place"]["file"] == "student_pick_place.onnx"
    assert routes["dryer_unload"]["file"] == "student_dryer_unload.onnx"
    for task, route in routes.items():
        part = POLICIES / route["file"]
        assert hashlib.sha256(part.read_bytes()).hexdigest() == route["sha256"], task
    parts = lineage["source"]["parts"]
    assert {p["lineage"]["id"] for p in parts} == set(lineage["parents"])
    four = next(p for p in parts if p["file"] == "pixels_four_tasks.onnx")
    assert len(four["lineage"]["parents"]) > 100  # episode ids
    assert four["lineage"]["source"]["train_config"]["model"]["action"] == "pd"
    beside = json.loads((POLICIES / "default.lineage.json").read_text())
    assert beside["checkpoint"]["id"] == lineage["id"]
    assert beside["bytes"] == (POLICIES / "default.onnx").stat().st_size


def test_its_evaluation_covers_50_unseen_seeds_per_task(runtime):
    """Each task's 50 episodes as measured on the part file it routes to (the bundle runs that
    graph, within 1e-4 N·m), and that file's own report agrees."""
    report = json.loads((POLICIES / "default.eval.json").read_text())
    assert report["checkpoint"] == runtime.contract.lineage["id"]
    for task in runtime.contract.task_names:
        ev = report["tasks"][task]
        assert len(ev["episodes"]) == 50 and ev["seeds"] == list(range(1_000_000, 1_000_050))
        assert not training_seeds(runtime.contract.lineage, task) & set(ev["seeds"])
        assert ev["lineage"]["kind"] == "evaluation"
        assert ev["lineage"]["parents"] == [ev["measured_on"]["checkpoint"]]
        assert report["summary"][task]["success_rate"] == ev["success_rate"]
        own = json.loads((POLICIES / ev["measured_on"]["file"]).with_suffix("")
                         .with_suffix(".eval.json").read_text())
        assert own["tasks"][task]["episodes"] == ev["episodes"]
    assert report["summary"]["dryer_open"]["success_rate"] >= 0.8
    assert report["summary"]["pick_place"]["success_rate"] >= 0.8
    assert report["summary"]["dryer_unload"]["success_rate"] >= 0.5


def test_eval_and_the_stack_use_it_by_default(capsys):
    assert paths.resolve(load_policy_config().model) == paths.share_dir() / SHIPPED
    assert main(["eval", "--policy", "default", "--task", "dryer_open", "--episodes", "1",
                 "--time-limit", "0.1", "--videos", "0", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert Path(report["policy"]).resolve() == (POLICIES / "default.onnx").resolve()


def test_the_package_data_installs_it():
    setup = (ROOT / "setup.py").read_text()
    assert 'glob("policies/*.onnx")' in setup and "share/{PACKAGE}/policies" in setup


@pytest.mark.parametrize("name", ["teacher_pick_place", "teacher_dryer_open",
                                  "teacher_zip_bag_open", "teacher_dryer_unload"])
def test_the_shipped_teacher_sees_the_state_and_is_evaluated_on_50_unseen_seeds(robot, name):
    """policies/teacher.onnx and the per-task teachers (issue 13): privileged-state files,
    which the stack refuses and evaluation feeds, with their lineage and 50-seed evaluation."""
    teacher = PolicyRuntime(POLICIES / f"{name}.onnx", robot, provider="cpu")
    c = teacher.contract
    assert c.is_teacher and c.privileged_size == 96
    assert c.lineage["source"]["train_config"]["model"]["observation"] == "privileged"
    beside = json.loads((POLICIES / f"{name}.lineage.json").read_text())
    assert beside["checkpoint"]["id"] == c.lineage["id"]
    report = json.loads((POLICIES / f"{name}.eval.json").read_text())
    assert report["checkpoint"] == c.lineage["id"]
    trained = [t for t in c.task_names if training_seeds(c.lineage, t)]
    assert trained and sorted(report["tasks"]) == sorted(trained)  # every task it learned
    for task in trained:
        ev = report["tasks"][task]
        assert ev["seeds"] == list(range(1_000_000, 1_000_050))
        assert not training_seeds(c.lineage, task) & set(ev["seeds"])
        assert report["summary"][task]["success_rate"] == ev["success_rate"]


def test_the_shipped_teacher_is_one_file_that_runs_each_task_on_its_own_network(robot):
    """policies/teacher.onnx bundles the per-task teachers; each task's figures are those of
    the part file it routes to, named by sha256, and that file is the one shipped beside it."""
    import hashlib

    c = PolicyRuntime(POLICIES / "teacher.onnx", robot, provider="cpu").contract
    assert c.is_teacher and set(c.task_names) == {"pick_place", "dryer_open", "zip_bag_open",
                                                  "dryer_unload"}
    report = json.loads((POLICIES / "teacher.eval.json").read_text())
    assert report["checkpoint"] == c.lineage["id"]
    assert sorted(report["tasks"]) == sorted(c.task_names)
    for task in c.task_names:
        ev = report["tasks"][task]
        part = POLICIES / ev["measured_on"]["file"]
        assert hashlib.sha256(part.read_bytes()).hexdigest() == ev["measured_on"]["sha256"]
        assert ev["seeds"] == list(range(1_000_000, 1_000_050))
        assert not training_seeds(c.lineage, task) & set(ev["seeds"])


def test_eval_runs_the_shipped_teacher_on_the_privileged_state(capsys):
    assert main(["eval", "--policy", str(POLICIES / "teacher.onnx"), "--task", "pick_place",
                 "--episodes", "1", "--time-limit", "0.1", "--videos", "0", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["task"] == "pick_place" and len(report["episodes"]) == 1


def test_the_dryer_open_teachers_weights_are_shipped_for_its_student(robot, tmp_path):
    """config/student.yaml starts its student from policies/teacher_dryer_open.pt: the very
    checkpoint the shipped teacher_dryer_open.onnx was exported from, its weights only."""
    import numpy as np

    from humanoid_manip.learn.config import load_flywheel_config
    from humanoid_manip.learn.export import export_checkpoint
    from humanoid_manip.learn.train import load_policy

    pt = POLICIES / "teacher_dryer_open.pt"
    assert load_flywheel_config(paths.config_path("student.yaml")).init_from == \
        "policies/teacher_dryer_open.pt"
    _, data = load_policy(pt)
    assert data["optimizer_state"] is None
    lineage = json.loads((POLICIES / "teacher_dryer_open.lineage.json").read_text())
    assert data["manifest"]["id"] == lineage["checkpoint"]["id"]
    again = PolicyRuntime(export_checkpoint(pt, tmp_path / "t.onnx", robot), robot,
                          provider="cpu", task="dryer_open")
    shipped = PolicyRuntime(POLICIES / "teacher_dryer_open.onnx", robot, provider="cpu",
                            task="dryer_open")
    rng = np.random.default_rng(0)
    q = robot.home + rng.normal(0, 0.05, robot.n)
    priv = rng.normal(0, 0.3, shipped.contract.privileged_size)
    a = again.step(None, q, np.zeros(robot.n), priv)
    b = shipped.step(None, q, np.zeros(robot.n), priv)
    np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("task, target", [("dryer_open", 0.8), ("pick_place", 0.8),
                                          ("dryer_unload", 0.5)])
def test_the_shipped_student_sees_the_cameras_and_is_evaluated_on_50_unseen_seeds(robot, task,
                                                                                target):
    """policies/student_<task>.onnx (issue 14): a pixel policy the stack accepts, distilled
    through a state estimate whose held-out error its lineage carries, evaluated on 50 unseen
    seeds at the stack's timing."""
    student = PolicyRuntime(POLICIES / f"student_{task}.onnx", robot, provider="cpu",
                            task=task)
    c = student.contract
    assert not student.is_teacher and list(c.camera_names) == list(robot.camera_names)
    model = c.lineage["source"]["train_config"]["model"]
    assert model["observation"] == "pixels" and model["state_estimate"]
    seen = c.lineage["state_estimate_error"]
    assert len(seen["rmse"]) == model["privileged_size"] and seen["normalized"] < 0.5
    report = json.loads((POLICIES / f"student_{task}.eval.json").read_text())
    ev = report["tasks"][task]
    assert report["checkpoint"] == c.lineage["id"]
    assert ev["seeds"] == list(range(1_000_000, 1_000_050)) and ev["delay_steps"] == 1
    assert not training_seeds(c.lineage, task) & set(ev["seeds"])
    assert ev["success_rate"] >= target  # issue 14's target for the task


def test_the_students_weights_are_shipped_for_the_latency_benchmark():
    """bench/bench_learn.py times default.onnx's dryer_open tick against PyTorch eager on the
    weights of the part it routes to: policies/student_dryer_open.pt, that file's checkpoint."""
    from humanoid_manip.learn.train import load_policy

    _, data = load_policy(POLICIES / "student_dryer_open.pt")
    assert data["optimizer_state"] is None
    lineage = json.loads((POLICIES / "student_dryer_open.lineage.json").read_text())
    assert data["manifest"]["id"] == lineage["checkpoint"]["id"]
