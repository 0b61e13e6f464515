"""The "pd" action (joint target + bias, the PD law inside the graph), the device sampler and the
time budget, on tiny generated data and the CPU."""
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from humanoid_manip.learn.dataset import WindowSampler, add_bias  # noqa: E402
from humanoid_manip.learn.export import export_checkpoint, parity  # noqa: E402
from humanoid_manip.learn.toy import TINY_MODEL, tiny_train_config, toy_episodes  # noqa: E402
from humanoid_manip.learn.train import (  # noqa: E402
    DeviceWindowSampler,
    TrainingError,
    load_policy,
    sequence_loss,
    train_policy,
)
from humanoid_manip.robot import RobotDynamics  # noqa: E402

TASKS = ("task_a", "task_b")
TINY_PD = replace(TINY_MODEL, action="pd", horizons=(3,))


def tiny_config(**kw):
    return tiny_train_config(**{"model": TINY_PD, **kw})


@pytest.fixture(scope="module")
def episodes(robot):
    return add_bias(toy_episodes(robot, n_episodes=6, ticks=60, n_tasks=len(TASKS), seed=3),
                    robot)


@pytest.fixture(scope="module")
def trained(robot, episodes, tmp_path_factory):
    out = tmp_path_factory.mktemp("pd")
    return train_policy(tiny_config(), episodes, robot, TASKS, out, progress=False), out


def test_the_bias_is_the_robots_gravity_and_coriolis_torque(robot, episodes):
    dyn = RobotDynamics(robot)
    e, k = episodes[1], 17
    dyn.set_state(e.proprio[k, :robot.n].astype(float), e.proprio[k, robot.n:].astype(float))
    assert np.allclose(e.bias[k], dyn.bias_torque(), atol=1e-4)


def test_a_pd_policy_learns_and_its_graph_is_the_pd_law(trained, episodes, robot):
    result, _ = trained
    losses = [p["loss"] for p in result.history]
    assert np.mean(losses[-2:]) < 0.5 * losses[0], losses
    model = result.model.eval()
    batch = WindowSampler(episodes, batch_size=2, window=6, seed=1).batch(0)
    with torch.no_grad():
        u = model.forward_sequence(model.pixels(torch.from_numpy(batch.frames)),
                                   torch.from_numpy(batch.frame_of),
                                   model.normalize_proprio(torch.from_numpy(batch.proprio)),
                                   torch.from_numpy(batch.task))
        assert u.shape[-1] == 3 * robot.n  # target, bias, one auxiliary horizon
        q_star, bias = model.target_and_bias(u)
        p = torch.from_numpy(batch.proprio)
        law = model.kp * (q_star - p[..., :robot.n]) - model.kd * p[..., robot.n:] + bias
        law = torch.maximum(torch.minimum(law, model.effort_limit), -model.effort_limit)
        state = torch.zeros(2, model.state_size)
        for t in range(batch.frame_of.shape[1]):  # the exported single tick computes the same
            imgs = torch.from_numpy(np.stack([batch.frames[k, batch.frame_of[k, t]]
                                              for k in range(2)]))
            tau, state = model.step(imgs, p[:, t], torch.from_numpy(batch.task), state)
            assert torch.allclose(tau, law[:, t], atol=1e-4, rtol=1e-5)
    assert torch.allclose(model.kp, torch.tensor(robot.kp, dtype=torch.float32))


def test_a_pd_policy_exports_with_parity(trained, robot, tmp_path):
    result, _ = trained
    path = export_checkpoint(result.checkpoint, tmp_path / "pd.onnx", robot)
    model, _ = load_policy(result.checkpoint)
    assert parity(model, path) < 1e-4


def test_a_pd_batch_needs_the_bias(robot):
    plain = toy_episodes(robot, n_episodes=2, ticks=20, n_tasks=2)
    from humanoid_manip.learn.train import PolicyIO, build_model

    model = build_model(TINY_PD, PolicyIO.for_robot(robot, TASKS), kp=robot.kp, kd=robot.kd)
    with pytest.raises(TrainingError, match="bias"):
        sequence_loss(model, WindowSampler(plain, 2, 4).batch(0))
    with pytest.raises(TrainingError, match="kp and kd"):
        build_model(TINY_PD, PolicyIO.for_robot(robot, TASKS))


def test_the_device_sampler_serves_the_same_windows(episodes):
    ws = WindowSampler(episodes, batch_size=3, window=8, burn_in=4, seed=2)
    ds = DeviceWindowSampler(ws, torch.device("cpu"))
    for step in range(4):
        a, b = ws.batch(step), ds.batch(step)
        for name in ("frame_of", "proprio", "torque", "task", "mask", "bias"):
            assert np.array_equal(getattr(a, name), getattr(b, name).numpy()), name
        for k in range(3):  # the frames each tick sees (padding may differ)
            used = np.unique(a.frame_of[k])
            assert np.array_equal(a.frames[k, used], b.frames[k, used].numpy())


def test_a_time_budget_shortens_the_run(robot, episodes, tmp_path):
    result = train_policy(tiny_config(steps=100000, log_every=10), episodes, robot, TASKS,
                          tmp_path, progress=False, time_budget_s=3.0)
    steps = result.history[-1]["step"]
    assert 25 < steps < 100000
    _, data = load_policy(result.checkpoint)
    assert data["train_config"]["steps"] == steps == data["step"]
