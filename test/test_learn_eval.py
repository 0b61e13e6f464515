"""Closed-loop evaluation through the policy runtime and the safety monitor: deterministic."""
import json

import pytest

from humanoid_manip.cli import main
from humanoid_manip.learn.evaluate import EvaluationError, evaluate
from humanoid_manip.policy.demo import pd_policy, save

TASKS = ("pick_place", "zip_bag_open")


@pytest.fixture(scope="module")
def policy(robot, tmp_path_factory):
    """A contract policy file (PD to home) whose lineage says it trained on seeds 0-4."""
    lineage = {"id": "che-x", "source": {"train_seeds": {"pick_place": [0, 1, 2, 3, 4]}}}
    return save(pd_policy(robot, tasks=TASKS, lineage=lineage),
                tmp_path_factory.mktemp("p") / "pd.onnx")


def test_eval_on_a_fixed_seed_is_deterministic(policy, robot, tmp_path):
    a = evaluate(policy, "pick_place", 1, 7, robot=robot, time_limit_s=0.3, out_dir=tmp_path)
    b = evaluate(policy, "pick_place", 1, 7, robot=robot, time_limit_s=0.3)
    for r in (a, b):
        for ep in r["episodes"]:
            ep.pop("wall_s")
            ep.pop("video")
    assert a["episodes"] == b["episodes"]
    ep = a["episodes"][0]
    assert ep["seed"] == 7 and ep["final_mode"] == "ACTIVE"
    assert abs(ep["sim_time_s"] - 0.3) < 0.01
    assert a["lineage"]["kind"] == "evaluation" and a["lineage"]["parents"] == ["che-x"]
    assert (tmp_path / "pick_place_seed7.mp4").stat().st_size > 1000
    assert json.loads((tmp_path / "eval_pick_place.json").read_text())["task"] == "pick_place"


def test_eval_refuses_seeds_the_policy_was_trained_on(policy, robot, capsys):
    with pytest.raises(EvaluationError, match=r"seeds \[3, 4\].*--seed 5"):
        evaluate(policy, "pick_place", 3, 3, robot=robot, time_limit_s=0.1)
    assert main(["eval", "--policy", str(policy), "--task", "zip_bag_open", "--episodes", "1",
                 "--seed", "3", "--time-limit", "0.1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["task"] == "zip_bag_open" and len(report["episodes"]) == 1
    assert set(report) >= {"success_rate", "mean_progress", "safety_interventions",
                           "safety_stops"}


def test_eval_freeze_images_shows_a_seeing_policy_its_first_frame(policy, robot, tmp_path,
                                                                   capsys):
    """`eval --freeze-images` (the ablation) says so in its report, and changes the torques of
    a policy that reads its cameras (torque from the images' brightness), not of one that
    ignores them."""
    import numpy as np

    from humanoid_manip.data.episode import read_episode
    from humanoid_manip.loop import EpisodeJob, run_job

    for extra in ([], ["--freeze-images"]):
        assert main(["eval", "--policy", str(policy), "--task", "pick_place", "--episodes", "1",
                     "--seed", "9", "--time-limit", "0.1", "--json", "--workers", "1"]
                    + extra) == 0
        report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert report["freeze_images"] == bool(extra)
    seeing = save(pd_policy(robot, tasks=TASKS,
                            image_gain=np.full((len(robot.camera_names), robot.n), 2.0)),
                  tmp_path / "seeing.onnx")
    commands = {}
    for name, file in (("blind", policy), ("seeing", seeing)):
        for frozen in (False, True):
            out = tmp_path / f"{name}{frozen}"
            r = run_job(EpisodeJob("pick_place", 9, "policy", policy=str(file), out_dir=str(out),
                                   time_limit_s=0.3, delay_steps=1, freeze_images=frozen))
            commands[name, frozen] = read_episode(r.path, images=False).command
    np.testing.assert_array_equal(commands["blind", False], commands["blind", True])
    assert not np.allclose(commands["seeing", False], commands["seeing", True])
