"""The flywheel end to end at toy scale: expert round, DAgger round, lineage linking them, the
release made from it, and a resumed run that redoes nothing."""
import json
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from humanoid_manip.data.episode import read_episode  # noqa: E402
from humanoid_manip.learn.config import FlywheelConfig, load_train_config  # noqa: E402
from humanoid_manip.learn.evaluate import EVAL_SEED  # noqa: E402
from humanoid_manip.learn.flywheel import DAGGER_SEED, run_flywheel  # noqa: E402
from humanoid_manip.learn.toy import TINY_MODEL  # noqa: E402
from humanoid_manip.learn.train import load_policy  # noqa: E402


@pytest.mark.slow
def test_two_rounds_collect_validate_train_export_evaluate(robot, tmp_path, capsys):
    from humanoid_manip.cli import main

    train = load_train_config().with_overrides(batch_size=2, window=4, burn_in=2, log_every=1,
                                               warmup_steps=1, threads=1, model=TINY_MODEL)
    cfg = FlywheelConfig(tasks=("pick_place",), rounds=2, expert_episodes=1, dagger_episodes=1,
                         eval_episodes=1, train_steps=2, time_limit_s=0.2)
    result = run_flywheel(cfg, train, tmp_path, robot, progress=False)
    r0, r1 = result["rounds"]
    assert r0["collected"] == "expert" and r1["collected"] == "dagger"
    assert r0["validation"]["errors"] == [] and r1["validation"]["errors"] == []  # replays
    assert r0["episodes_trained"] == 1 and r1["episodes_trained"] == 2
    assert r0["eval"]["pick_place"]["seeds"] == r1["eval"]["pick_place"]["seeds"] == [EVAL_SEED]
    assert set(result["change"]["pick_place"]) == {"success_rate", "mean_progress",
                                                   "mean_max_progress"}

    dagger = read_episode(r1["files"][0], images=False)
    assert dagger.metadata["source"]["type"] == "dagger"
    assert dagger.metadata["source"]["policy"] == r0["checkpoint"]
    assert dagger.metadata["seed"] == DAGGER_SEED
    assert len(dagger.request) and len(dagger.command)  # expert labels, applied torques
    _, ck0 = load_policy(tmp_path / "round0" / "train" / "checkpoint.pt")
    _, ck1 = load_policy(tmp_path / "round1" / "train" / "checkpoint.pt")
    assert set(ck0["manifest"]["parents"]) < set(ck1["manifest"]["parents"])
    assert ck1["manifest"]["source"]["previous_policy"] == r0["checkpoint"]
    assert ck1["manifest"]["source"]["train_seeds"] == {"pick_place": [0, DAGGER_SEED]}
    assert json.loads((tmp_path / "flywheel.json").read_text())["rounds"][1]["round"] == 1
    report = json.loads((tmp_path / "round1" / "eval" / "eval_pick_place.json").read_text())
    assert report["lineage"]["parents"] == [r1["checkpoint"]] and report["delay_steps"] == 1

    t0 = time.perf_counter()  # finished rounds are kept, not redone
    again = run_flywheel(cfg, train, tmp_path, robot, progress=False)
    assert again["rounds"] == result["rounds"] and time.perf_counter() - t0 < 5

    rel = tmp_path / "release"  # the release: round 1's policy, lineage and evaluation
    assert main(["ship", str(tmp_path), "--dest", str(rel), "--name", "p"]) == 0
    shipped = json.loads((rel / "p.eval.json").read_text())
    assert shipped["checkpoint"] == r1["checkpoint"]
    assert shipped["tasks"]["pick_place"]["seeds"] == [EVAL_SEED]
    assert json.loads((rel / "p.lineage.json").read_text())["round"] == 1
    assert main(["ship", str(tmp_path), "--dest", str(rel), "--name", "p"]) == 2  # no --force
    assert "--force" in capsys.readouterr().err


def test_a_dagger_labeler_that_cannot_label_every_task_is_refused_before_any_work(robot,
                                                                                   tmp_path):
    """Distillation's labeler must know each task; found out at the start, not as a failure in
    every DAgger episode an hour later."""
    from humanoid_manip.learn.flywheel import FlywheelError

    teacher = Path(__file__).resolve().parents[1] / "policies" / "teacher_dryer_open.onnx"
    for labeler, says in ((teacher, r"knows \['dryer_open'\], not \['pick_place'\]"),
                          (tmp_path / "none.onnx", "no such file")):
        cfg = FlywheelConfig(tasks=("pick_place",), dagger_labeler=str(labeler))
        with pytest.raises(FlywheelError, match=says):
            run_flywheel(cfg, load_train_config(), tmp_path / "run", robot=robot)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_tiny_distillation_round_labels_with_the_teacher_and_its_loss_falls(robot, tmp_path):
    """Round 1 of a distillation run: the pixel student of round 0 drives, the shipped teacher
    labels; the student is retrained on those labels and its training loss falls."""
    teacher = Path(__file__).resolve().parents[1] / "policies" / "teacher.onnx"
    train = load_train_config().with_overrides(batch_size=4, window=4, burn_in=2, log_every=1,
                                               warmup_steps=1, threads=1, model=TINY_MODEL)
    cfg = FlywheelConfig(tasks=("pick_place",), rounds=2, expert_episodes=1, dagger_episodes=1,
                         eval_episodes=1, train_steps=40, time_limit_s=0.3,
                         dagger_labeler=str(teacher))
    r0, r1 = run_flywheel(cfg, train, tmp_path, robot, progress=False)["rounds"]
    dagger = read_episode(r1["files"][0], images=False)
    labeler = dagger.metadata["source"]["labeler"]
    assert labeler["type"] == "policy" and labeler["file"] == str(teacher)
    assert dagger.metadata["source"]["policy"] == r0["checkpoint"]  # the student drove
    losses = [p["loss"] for p in json.loads(
        (tmp_path / "round1" / "train" / "curve.json").read_text())]
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5]), losses
