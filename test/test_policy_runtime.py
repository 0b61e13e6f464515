"""The runtime: provider choice, the demo policy's maths, recurrent state carry and reset."""
import mujoco
import numpy as np
import pytest

from humanoid_manip.policy import LatencyStats, PolicyRuntime, TickMonitor, load_policy_config
from humanoid_manip.policy.demo import pd_policy
from humanoid_manip.policy.runtime import CPU, CUDA, ProviderError, select_providers
from humanoid_manip.robot import RobotDynamics, RobotIndex


def test_provider_choice_prefers_cuda_and_says_why():
    assert select_providers("auto", [CUDA, CPU])[0] == [CUDA, CPU]
    providers, why = select_providers("auto", [CPU])
    assert providers == [CPU] and "no CUDA" in why
    assert select_providers("cpu", [CUDA, CPU])[0] == [CPU]
    with pytest.raises(ProviderError, match="onnxruntime-gpu"):
        select_providers("cuda", [CPU])


def test_runtime_reports_the_provider_it_got(robot):
    rt = PolicyRuntime(pd_policy(robot).SerializeToString(), robot)
    assert rt.provider in (CUDA, CPU)
    assert rt.provider_reason.startswith(rt.provider.replace("ExecutionProvider", ""))


def test_pd_policy_computes_pd_to_home_plus_gravity(robot):
    rt = PolicyRuntime(pd_policy(robot).SerializeToString(), robot)
    rng = np.random.default_rng(1)
    q = robot.home + rng.normal(0, 0.05, robot.n)
    dq = rng.normal(0, 0.2, robot.n)
    dyn = RobotDynamics(robot)
    dyn.set_state(robot.home)
    want = robot.kp * (robot.home - q) - robot.kd * dq + dyn.bias_torque()
    want = np.clip(want, -robot.effort_limit, robot.effort_limit)
    got = rt.step(np.zeros((3, 96, 96, 3), np.uint8), q, dq)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_recurrent_state_is_carried_between_ticks_and_cleared_by_reset(robot):
    rt = PolicyRuntime(pd_policy(robot, ki=2.0, gravity=False).SerializeToString(), robot)
    img = np.zeros((3, 96, 96, 3), np.uint8)
    q = robot.home - 0.01  # a constant error: the integral term grows tick by tick
    taus = [rt.step(img, q, np.zeros(robot.n)) for _ in range(3)]
    i = robot.index("head_pan")
    assert taus[0][i] < taus[1][i] < taus[2][i]
    rt.reset()
    np.testing.assert_allclose(rt.step(img, q, np.zeros(robot.n)), taus[0], rtol=1e-6)


def test_images_and_task_reach_the_network(robot):
    gain = np.zeros((3, robot.n))
    gain[0, robot.index("head_pan")] = 1.0  # head camera brightness → head pan torque
    bias = np.zeros((2, robot.n))
    bias[1, robot.index("head_tilt")] = 0.5
    rt = PolicyRuntime(pd_policy(robot, gravity=False, image_gain=gain, task_bias=bias,
                                 tasks=("a", "b")).SerializeToString(), robot)
    zero = np.zeros(robot.n)
    dark = rt.step(np.zeros((3, 96, 96, 3), np.uint8), robot.home, zero)
    bright = rt.step({c: np.full((96, 96, 3), 255, np.uint8) for c in robot.camera_names},
                     robot.home, zero)
    assert bright[robot.index("head_pan")] - dark[robot.index("head_pan")] == pytest.approx(1.0)
    rt.set_task("b")
    assert rt.step(np.zeros((3, 96, 96, 3), np.uint8), robot.home, zero)[
        robot.index("head_tilt")] == pytest.approx(0.5)


def test_non_finite_input_resets_the_state(robot):
    rt = PolicyRuntime(pd_policy(robot, ki=2.0).SerializeToString(), robot)
    img = np.zeros((3, 96, 96, 3), np.uint8)
    rt.step(img, robot.home - 0.1, np.zeros(robot.n))
    q = robot.home.copy()
    q[0] = np.nan
    assert not np.all(np.isfinite(rt.step(img, q, np.zeros(robot.n))))
    assert not rt._state.any()


def test_runtime_fixes_the_batch_axis_and_computes_what_a_free_batch_session_does(robot):
    import onnxruntime as ort

    from humanoid_manip.policy.runtime import session_options

    blob = pd_policy(robot, ki=2.0).SerializeToString()
    rt = PolicyRuntime(blob, robot)
    assert all(i.shape[0] == 1 for i in rt.session.get_inputs())
    free = ort.InferenceSession(blob, session_options(1, batch=None), providers=[CPU])
    assert free.get_inputs()[0].shape[0] == "B"
    rng = np.random.default_rng(2)
    q, dq = robot.home + rng.normal(0, 0.05, robot.n), rng.normal(0, 0.2, robot.n)
    img = rng.integers(0, 256, (3, 96, 96, 3), dtype=np.uint8)
    feeds = {"images": img[None], "task": np.zeros(1, np.int64),
             "proprio": np.concatenate([q, dq])[None].astype(np.float32),
             "state_in": np.zeros((1, rt.contract.state_size), np.float32)}
    np.testing.assert_array_equal(rt.step(img, q, dq), free.run(["torque"], feeds)[0][0])


def test_demo_policy_holds_the_robot_at_the_policy_rate(robot, robot_model):
    """Closed loop without ROS: torques held for 5 physics steps (100 Hz) bring it home."""
    cfg = load_policy_config().demo
    rt = PolicyRuntime(pd_policy(robot, kp_scale=cfg.kp_scale, kd_scale=cfg.kd_scale,
                                 ki=cfg.ki).SerializeToString(), robot)
    data = mujoco.MjData(robot_model)
    idx = RobotIndex.of(robot_model, robot)
    rng = np.random.default_rng(0)
    data.qpos[idx.qpos] = np.clip(robot.home + rng.normal(0, 0.2, robot.n), robot.lower,
                                  robot.upper)
    mujoco.mj_forward(robot_model, data)
    img = np.zeros((3, 96, 96, 3), np.uint8)
    every = round(robot.rates.physics_hz / robot.rates.policy_hz)
    for k in range(1500):
        if k % every == 0:
            data.ctrl[idx.actuator] = rt.step(img, data.qpos[idx.qpos], data.qvel[idx.dof])
        mujoco.mj_step(robot_model, data)
    err = np.abs(data.qpos[idx.qpos] - robot.home)
    assert err.max() < 0.01, robot.names[int(err.argmax())]
    assert np.abs(data.qvel[idx.dof]).max() < 0.05


def test_tick_monitor_counts_late_and_slow_ticks():
    m = TickMonitor(100.0)
    for k in range(10):
        m.tick(k * 0.01, 0.001)
    assert m.misses == 0 and m.achieved_hz() == pytest.approx(100.0)
    m.tick(0.09 + 0.03, 0.001)  # two ticks skipped
    m.tick(0.13, 0.02)  # work longer than a period
    assert m.misses == 2 and m.ticks == 12


def test_latency_stats_percentiles():
    s = LatencyStats()
    for v in range(1, 101):
        s.add(v / 1000)
    out = s.summary()
    assert out["p50_ms"] == pytest.approx(50.5) and out["p99_ms"] == pytest.approx(99.01)
    assert out["count"] == 100


def test_policy_config_is_strict():
    from humanoid_manip.errors import ConfigError

    assert load_policy_config(threads=2).threads == 2
    with pytest.raises(ConfigError, match="valid keys"):
        load_policy_config(rate=3)
    with pytest.raises(ConfigError, match="provider 'gpu'"):
        load_policy_config(provider="gpu")


def test_from_config_loads_the_named_file_or_builds_the_demo_policy(robot, tmp_path):
    from humanoid_manip.policy.demo import save

    demo = PolicyRuntime.from_config(load_policy_config(model="", task="pick_place"), robot)
    assert demo.source.startswith("built-in demo policy") and demo.task == "pick_place"
    path = save(pd_policy(robot, tasks=("a", "b")), tmp_path / "p.onnx")
    rt = PolicyRuntime.from_config(load_policy_config(model=str(path), task="b"), robot)
    assert rt.source == str(path) and rt.task_id == 1
