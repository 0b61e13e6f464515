"""The privileged-state teacher and the action heads: training, the exported graph (one tick in,
one torque out, ensembling in the state), the runtime's handling of a teacher, and the offline
(teacher-forced) action error on held-out episodes, on tiny generated data and the CPU."""
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from humanoid_manip.learn.dataset import add_bias  # noqa: E402
from humanoid_manip.learn.export import export_checkpoint, parity  # noqa: E402
from humanoid_manip.learn.metrics import BASELINES, GROUPS, ensembled  # noqa: E402
from humanoid_manip.learn.toy import TINY_MODEL, tiny_train_config, toy_episodes  # noqa: E402
from humanoid_manip.learn.train import load_policy, train_policy  # noqa: E402
from humanoid_manip.policy import PolicyRuntime  # noqa: E402
from humanoid_manip.policy.contract import PolicyContractError  # noqa: E402

TASKS = ("task_a", "task_b")
PRIVILEGED = 16
TEACHER = replace(TINY_MODEL, observation="privileged", privileged_size=PRIVILEGED,
                  action="residual", chunk=3, ensemble=True)


@pytest.fixture(scope="module")
def episodes(robot):
    return add_bias(toy_episodes(robot, n_episodes=7, ticks=60, n_tasks=len(TASKS), seed=5,
                                 privileged_size=PRIVILEGED), robot)


@pytest.fixture(scope="module")
def trained(robot, episodes, tmp_path_factory):
    out = tmp_path_factory.mktemp("teacher")
    cfg = tiny_train_config(model=TEACHER, checkpoint_every=20)
    result = train_policy(cfg, episodes[:5], robot, TASKS, out, progress=False,
                          val_episodes=episodes[5:])
    return result, out


def test_the_teacher_learns_from_the_privileged_state(trained):
    result, _ = trained
    losses = [p["loss"] for p in result.history]
    assert np.mean(losses[-2:]) < 0.5 * losses[0], losses
    assert [p["step"] for p in result.history if "offline_error" in p] == [20, 40]


def test_the_offline_error_is_measured_on_held_out_episodes_beside_baselines(trained,
                                                                             episodes):
    result, _ = trained
    _, data = load_policy(result.checkpoint)
    manifest = data["manifest"]
    held_out = manifest["offline_episodes"]
    assert held_out == [e.id for e in episodes[5:]]
    assert not set(held_out) & set(manifest["parents"]), "scored on training episodes"
    errors = manifest["offline_error"]
    assert set(errors) == {"policy", *BASELINES}
    for row in errors.values():
        assert set(row) == {*GROUPS, "all"} and all(np.isfinite(v) for v in row.values())
    # the toy's labels are a PD pull the previous target nearly repeats: a real baseline
    assert errors["hold_previous_target"]["all"] < errors["gravity_only"]["all"]


def test_the_teachers_file_is_the_network_tick_by_tick_ensembling_included(trained, robot):
    result, out = trained
    path = export_checkpoint(result.checkpoint, out / "teacher.onnx", robot)
    assert parity(result.model, path, batch=2, ticks=6) < 1e-4
    runtime = PolicyRuntime(path, robot, provider="cpu", task="task_b")
    assert runtime.is_teacher and runtime.contract.camera_names == ()
    assert runtime.contract.state_size == TEACHER.memory + 3 * robot.n + 3
    with pytest.raises(PolicyContractError, match="privileged-state teacher"):
        runtime.step(None, robot.home, np.zeros(robot.n))
    tau = runtime.step(None, robot.home, np.zeros(robot.n), np.ones(5))
    assert tau.shape == (robot.n,) and np.all(np.isfinite(tau))
    assert np.all(np.abs(tau) <= robot.effort_limit + 1e-6)


def test_the_stack_refuses_a_teacher(trained, robot, tmp_path):
    from humanoid_manip.policy.config import load_policy_config

    result, out = trained
    path = export_checkpoint(result.checkpoint, tmp_path / "teacher.onnx", robot)
    cfg = replace(load_policy_config(), model=str(path))
    with pytest.raises(PolicyContractError, match="simulated evaluation"):
        PolicyRuntime.from_config(cfg, robot)


def test_one_checkpoint_exports_with_and_without_ensembling(trained, robot, tmp_path):
    """export --ensemble off: the newest chunk's first target, a state without the blend; the
    first tick (nothing to blend yet) agrees with the blended file, later ticks do not."""
    result, _ = trained
    blended = export_checkpoint(result.checkpoint, tmp_path / "on.onnx", robot)
    newest = export_checkpoint(result.checkpoint, tmp_path / "off.onnx", robot, ensemble=False)
    runs = {}
    for name, path in (("on", blended), ("off", newest)):
        runtime = PolicyRuntime(path, robot, provider="cpu", task="task_a")
        runs[name] = [runtime.step(None, robot.home + 0.01 * k, np.zeros(robot.n),
                                   np.full(PRIVILEGED, 0.1 * k)) for k in range(4)]
    off = PolicyRuntime(newest, robot, provider="cpu").contract
    assert off.state_size == TEACHER.memory
    assert off.lineage["execution"] == {"chunk": 3, "ensemble": False, "ensemble_m": 0.1}
    np.testing.assert_allclose(runs["on"][0], runs["off"][0], atol=1e-5)
    assert np.abs(runs["on"][3] - runs["off"][3]).max() > 1e-4
    with pytest.raises(ValueError, match="not a way to run a chunk"):
        export_checkpoint(result.checkpoint, tmp_path / "bad.onnx", robot, chunk=1)


def test_the_offline_error_scores_what_the_graph_executes(trained, episodes):
    """metrics.episode_torques (one pass, ensembling replayed) equals stepping the network."""
    from humanoid_manip.learn.metrics import episode_torques

    model = trained[0].model.eval()
    e = episodes[6]
    state = torch.zeros(1, model.state_size)
    stepped = []
    with torch.no_grad():
        for k in range(len(e)):
            tau, state = model.step(torch.from_numpy(e.privileged[k:k + 1]),
                                    torch.from_numpy(e.proprio[k:k + 1]),
                                    torch.tensor([e.task]), state)
            stepped.append(tau[0])
    np.testing.assert_allclose(torch.stack(stepped).numpy(), episode_torques(model, e).numpy(),
                               atol=1e-4)


def test_ensembling_weighs_earlier_chunks_as_act_does():
    chunks = torch.zeros(3, 3, 1)
    chunks[0, :, 0] = torch.tensor([1.0, 2.0, 3.0])  # chunk issued at tick 0, for ticks 0..2
    chunks[1, :, 0] = torch.tensor([5.0, 6.0, 7.0])  # at tick 1, for ticks 1..3
    chunks[2, :, 0] = torch.tensor([9.0, 9.0, 9.0])
    out = ensembled(chunks, m=0.5)[:, 0]
    w = np.exp(0.5)
    assert out[0] == pytest.approx(1.0)
    assert out[1] == pytest.approx((w * 2.0 + 5.0) / (w + 1.0))
    assert out[2] == pytest.approx((w * w * 3.0 + w * 6.0 + 9.0) / (w * w + w + 1.0))


def test_a_student_learns_to_see_the_teachers_state_and_exports_without_it(robot, episodes,
                                                                           tmp_path):
    """state_estimate: pixels -> the object state (an auxiliary loss, training only) -> the
    teacher's layers; the exported file is a plain pixels-to-torque policy."""
    from humanoid_manip.learn.dataset import WindowSampler
    from humanoid_manip.learn.train import sequence_loss

    student = replace(TINY_MODEL, action="residual", state_estimate=True,
                      privileged_size=PRIVILEGED)
    result = train_policy(tiny_train_config(model=student, steps=60), episodes[:5], robot,
                          TASKS, tmp_path, progress=False, val_episodes=episodes[5:])
    losses = [p["loss"] for p in result.history]
    assert np.mean(losses[-2:]) < 0.6 * losses[0], losses
    # how well it sees episodes it never trained on, in the lineage: per dimension in the
    # state's units; training halves the error of the same student after one step
    seen = result.manifest["state_estimate_error"]
    assert len(seen["rmse"]) == PRIVILEGED and all(np.isfinite(seen["rmse"]))
    first = train_policy(tiny_train_config(model=student, steps=1), episodes[:5], robot, TASKS,
                         tmp_path / "first", progress=False, val_episodes=episodes[5:])
    assert seen["normalized"] < 0.7 * first.manifest["state_estimate_error"]["normalized"]
    # a round started from another checkpoint names it in its lineage
    assert "init_from" not in result.manifest["source"]
    warm = train_policy(tiny_train_config(model=student, steps=1), episodes[:5], robot, TASKS,
                        tmp_path / "warm", progress=False, init_from=result.model,
                        init_stats=True, init_checkpoint=result.manifest["id"])
    assert warm.manifest["parents"][0] == result.manifest["id"]
    assert warm.manifest["source"]["init_from"] == {"checkpoint": result.manifest["id"],
                                                    "normalization": True}
    # a one-task student of task_b from this two-task network: task_b's embedding row, by name
    only_b = [replace(e, task=0) for e in episodes[:5] if e.task == 1]
    one = train_policy(tiny_train_config(model=student, steps=1, lr=1e-12), only_b, robot,
                       ["task_b"], tmp_path / "one", progress=False, init_from=result.model,
                       init_stats=True, init_tasks=TASKS)
    assert torch.allclose(one.model.task_embedding.weight[0],
                          result.model.task_embedding.weight[1], atol=1e-6)
    model = result.model.eval()
    batch = WindowSampler(episodes[5:], batch_size=2, window=8, seed=2).batch(0)
    with torch.no_grad():
        frames = model.pixels(torch.from_numpy(batch.frames))
        proprio_n = model.normalize_proprio(torch.from_numpy(batch.proprio))
        _, estimate = model.forward_sequence(frames, torch.from_numpy(batch.frame_of), proprio_n,
                                             torch.from_numpy(batch.task), with_estimate=True)
        assert estimate.shape == (2, 8, PRIVILEGED)
        assert torch.isfinite(sequence_loss(model, batch))
    path = export_checkpoint(result.checkpoint, tmp_path / "student.onnx", robot)
    runtime = PolicyRuntime(path, robot, provider="cpu", task="task_a")
    assert not runtime.is_teacher and runtime.contract.camera_names == robot.camera_names


def test_the_train_command_trains_a_teacher_on_recorded_episodes(tmp_path, robot, capsys):
    """`humanoid-manip train --config <a teacher's> --heldout`: no cameras recorded, the object
    state read from the files, the held-out error in the checkpoint's lineage."""
    import json

    import yaml

    from humanoid_manip.cli import main
    from humanoid_manip.loop import EpisodeJob, run_jobs

    def record(out, seeds):
        jobs = [EpisodeJob("pick_place", s, "expert", out_dir=str(out), render=False,
                           time_limit_s=0.3) for s in seeds]
        assert all(r.ok for r in run_jobs(jobs, progress=False))

    record(tmp_path / "data", [1, 2])
    record(tmp_path / "heldout", [900_000])
    cfg = tiny_train_config(model=replace(TEACHER, privileged_size=96), steps=3,
                            log_every=1).to_dict()
    cfg["model"]["channels"] = list(cfg["model"]["channels"])
    (tmp_path / "teacher.yaml").write_text(yaml.safe_dump(cfg))
    out = tmp_path / "run"
    assert main(["train", str(tmp_path / "data"), "--heldout", str(tmp_path / "heldout"),
                 "--out", str(out), "--config", str(tmp_path / "teacher.yaml"),
                 "--tasks", "pick_place", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["steps"] == 3 and (out / "policy.onnx").is_file()
    _, data = load_policy(out / "checkpoint.pt")
    m = data["manifest"]
    assert len(m["parents"]) == 2 and len(m["offline_episodes"]) == 1
    assert m["source"]["train_config"]["model"]["observation"] == "privileged"
    assert np.isfinite(m["offline_error"]["policy"]["all"])


def test_the_student_config_fits_the_teacher_it_starts_from():
    """config/student.yaml's layers after the state estimate must have the teacher's shapes
    (config/teacher.yaml), or init_from would silently start them from scratch."""
    from humanoid_manip import paths
    from humanoid_manip.learn.config import load_flywheel_config, load_train_config

    teacher = load_train_config(paths.config_path("teacher.yaml")).model
    student_cfg = load_train_config(paths.config_path("student.yaml"))
    student = student_cfg.model
    assert student.observation == "pixels" and student.state_estimate
    for field in ("privileged_size", "action", "chunk", "ensemble", "hidden", "memory",
                  "task_dim", "clip_to_effort"):
        assert getattr(student, field) == getattr(teacher, field), field
    fly = load_flywheel_config(paths.config_path("student.yaml"))
    assert fly.render and fly.init_from and fly.dagger_labeler
