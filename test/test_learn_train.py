"""Behaviour cloning on a tiny generated dataset: the loss falls, resuming is exact."""
import json
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from humanoid_manip.learn.dataset import WindowSampler, compute_stats  # noqa: E402
from humanoid_manip.learn.toy import tiny_train_config as tiny_config  # noqa: E402
from humanoid_manip.learn.toy import toy_episodes  # noqa: E402
from humanoid_manip.learn.train import (  # noqa: E402
    PolicyIO,
    TrainingError,
    build_model,
    fit,
    load_policy,
    train_policy,
)

TASKS = ("task_a", "task_b")


@pytest.fixture(scope="module")
def episodes(robot):
    return toy_episodes(robot, n_episodes=6, ticks=80, n_tasks=len(TASKS), seed=0)


@pytest.fixture(scope="module")
def trained(robot, episodes, tmp_path_factory):
    out = tmp_path_factory.mktemp("train")
    t0 = time.perf_counter()
    result = train_policy(tiny_config(), episodes, robot, TASKS, out, progress=False)
    return result, time.perf_counter() - t0, out


def test_a_tiny_model_learns_on_the_cpu_in_under_two_minutes(trained):
    result, seconds, out = trained
    losses = [p["loss"] for p in result.history]
    assert seconds < 120, f"training took {seconds:.0f} s"
    assert result.history[-1]["step"] == 40
    assert np.mean(losses[-2:]) < 0.75 * losses[0], losses
    assert (out / "curve.png").stat().st_size > 1000
    assert json.loads((out / "curve.json").read_text())[-1]["step"] == 40


def test_the_checkpoint_carries_lineage_and_the_contract(trained, episodes, robot):
    result, _, _ = trained
    model, data = load_policy(result.checkpoint)
    m = data["manifest"]
    assert m["kind"] == "checkpoint" and m["id"].startswith("che-")
    assert m["parents"] == [e.id for e in episodes]
    assert m["config"]["urdf"] == robot.urdf_sha256
    assert m["source"]["train_config"]["steps"] == 40
    assert tuple(data["io"]["task_names"]) == TASKS
    assert list(data["io"]["joint_names"]) == list(robot.names)
    for name, value in model.state_dict().items():
        assert torch.equal(value, result.model.state_dict()[name]), name


def test_step_by_step_equals_the_training_window(trained, episodes):
    """The exported single-tick graph computes what training optimized, tick for tick."""
    model = trained[0].model.eval()
    batch = WindowSampler(episodes, batch_size=2, window=10, seed=4).batch(0)
    with torch.no_grad():
        frames = model.pixels(torch.from_numpy(batch.frames))
        seq = model.forward_sequence(frames, torch.from_numpy(batch.frame_of),
                                     model.normalize_proprio(torch.from_numpy(batch.proprio)),
                                     torch.from_numpy(batch.task))
        want = model.torque_from_normalized(seq)
        state = torch.zeros(2, model.state_size)
        for t in range(batch.frame_of.shape[1]):
            imgs = torch.from_numpy(np.stack([batch.frames[k, batch.frame_of[k, t]]
                                              for k in range(2)]))
            tau, state = model.step(imgs, torch.from_numpy(batch.proprio[:, t]),
                                    torch.from_numpy(batch.task), state)
            assert torch.allclose(tau, want[:, t], atol=1e-4, rtol=1e-5)


class Interrupted(Exception):
    pass


class StopsAt:
    """A batch source that dies at one step, like a killed training job."""

    def __init__(self, source, step):
        self.source, self.step = source, step

    def batch(self, step):
        if step == self.step:
            raise Interrupted()
        return self.source.batch(step)


def test_resuming_after_a_kill_gives_the_uninterrupted_result(robot, episodes, tmp_path):
    cfg = tiny_config(steps=4, checkpoint_every=2, log_every=1)
    io = PolicyIO.for_robot(robot, TASKS)
    stats = compute_stats(episodes)

    def run(out, source):
        model = build_model(cfg.model, io, stats, robot.effort_limit, cfg.seed)
        return fit(model, source, cfg, out, io, {"id": "test"}, progress=False)

    sampler = WindowSampler(episodes, cfg.batch_size, cfg.window, cfg.burn_in, cfg.seed)
    straight = run(tmp_path / "a", sampler)
    with pytest.raises(Interrupted):
        run(tmp_path / "b", StopsAt(sampler, 3))
    resumed = run(tmp_path / "b", sampler)
    assert [p["loss"] for p in resumed.history] == [p["loss"] for p in straight.history]
    for name, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[name]), name

    with pytest.raises(TrainingError, match="lr: checkpoint"):
        other = tiny_config(steps=4, checkpoint_every=2, log_every=1, lr=1e-4)
        fit(build_model(other.model, io, stats), sampler, other, tmp_path / "b", io, {},
            progress=False)


def test_a_weight_average_is_what_the_checkpoint_holds_and_resumes_exactly(robot, episodes,
                                                                           tmp_path):
    """cfg.ema: training runs on the raw weights as without it; the checkpoint (what load_policy
    and export read) holds their running average; a killed run resumes both exactly."""
    plain_cfg = tiny_config(steps=6, checkpoint_every=2, log_every=1)
    cfg = plain_cfg.with_overrides(ema=0.5)
    io = PolicyIO.for_robot(robot, TASKS)
    stats = compute_stats(episodes)
    sampler = WindowSampler(episodes, cfg.batch_size, cfg.window, cfg.burn_in, cfg.seed)

    def run(c, out, source):
        model = build_model(c.model, io, stats, robot.effort_limit, c.seed)
        return fit(model, source, c, out, io, {"id": "test"}, progress=False)

    plain = run(plain_cfg, tmp_path / "plain", sampler)
    averaged = run(cfg, tmp_path / "ema", sampler)
    data = torch.load(averaged.checkpoint, weights_only=True)
    raw, held = data["train_state"], data["model_state"]
    for name, value in plain.model.state_dict().items():
        assert torch.equal(value, raw[name]), name  # the average does not steer training
    moved = [n for n, v in held.items() if v.is_floating_point() and not torch.equal(v, raw[n])]
    assert len(moved) > len(held) // 4, moved
    loaded, _ = load_policy(averaged.checkpoint)
    for name, value in loaded.state_dict().items():
        assert torch.equal(value, held[name]), name
        assert torch.equal(value, averaged.model.state_dict()[name]), name

    with pytest.raises(Interrupted):
        run(cfg, tmp_path / "killed", StopsAt(sampler, 3))
    resumed = run(cfg, tmp_path / "killed", sampler)
    again = torch.load(resumed.checkpoint, weights_only=True)
    for key in ("model_state", "train_state"):
        for name, value in data[key].items():
            assert torch.equal(value, again[key][name]), (key, name)


def test_the_command_trains_on_a_dataset_folder_and_exports(tmp_path, robot, capsys):
    """Episode files -> cache -> training -> policy.onnx, by `humanoid-manip train`."""
    import yaml

    from humanoid_manip.cli import main
    from humanoid_manip.data.synth import write_synthetic

    data = tmp_path / "data"
    write_synthetic(data / "a.mcap", robot, 0.6, seed=1)
    write_synthetic(data / "b.mcap", robot, 0.6, seed=2, task="zip_bag_open")
    cfg = tiny_config(steps=3, log_every=1).to_dict()
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(
        {**cfg, "model": {**cfg["model"], "channels": list(cfg["model"]["channels"])}}))
    out = tmp_path / "run"
    assert main(["train", str(data), "--out", str(out), "--config", str(tmp_path / "train.yaml"),
                 "--tasks", "pick_place", "zip_bag_open", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["steps"] == 3 and (out / "policy.onnx").is_file()
    _, data_ckpt = load_policy(out / "checkpoint.pt")
    assert len(data_ckpt["manifest"]["parents"]) == 2
    assert main(["export", str(out / "checkpoint.pt"), str(tmp_path / "p.onnx")]) == 0

    # a training run ships as a release once it is evaluated (its evaluation by --merge)
    rel = tmp_path / "release"
    assert main(["ship", str(out), "--dest", str(rel), "--name", "p"]) == 2
    assert "--merge" in capsys.readouterr().err
    assert main(["eval", "--policy", str(out / "policy.onnx"), "--task", "pick_place",
                 "--episodes", "2", "--time-limit", "0.1", "--videos", "0", "--workers", "1",
                 "--out", str(tmp_path / "e")]) == 0
    assert main(["ship", str(out), "--dest", str(rel), "--name", "p", "--merge",
                 str(tmp_path / "e" / "eval_pick_place.json")]) == 0
    shipped = json.loads((rel / "p.eval.json").read_text())
    assert shipped["checkpoint"] == data_ckpt["manifest"]["id"]
    assert shipped["tasks"]["pick_place"]["seeds"] == [1_000_000, 1_000_001]
    assert shipped["tasks"]["pick_place"]["delay_steps"] == 1  # the stack's timing, kept
    # an ablation's report, or reports of two timings, are not a release's evaluation
    for extra in (["--freeze-images"], ["--delay-steps", "0", "--seed", "1000002"]):
        assert main(["eval", "--policy", str(out / "policy.onnx"), "--task", "pick_place",
                     "--episodes", "1", "--time-limit", "0.1", "--videos", "0", "--workers",
                     "1", "--out", str(tmp_path / "x"), "--force", *extra]) == 0
        assert main(["ship", str(out), "--dest", str(rel), "--name", "p", "--force", "--merge",
                     str(tmp_path / "e" / "eval_pick_place.json"),
                     str(tmp_path / "x" / "eval_pick_place.json")]) == 2
        assert ("frozen images" if "--freeze-images" in extra else "different timings") in \
            capsys.readouterr().err
    lineage = json.loads((rel / "p.lineage.json").read_text())
    assert lineage["pipeline"]["command"] == "humanoid-manip train" and lineage["round"] is None
