"""Export: the ONNX file passes the checker and the runtime's contract, and matches PyTorch."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import onnx  # noqa: E402

from humanoid_manip.learn.config import ModelConfig, load_train_config  # noqa: E402
from humanoid_manip.learn.dataset import compute_stats  # noqa: E402
from humanoid_manip.learn.export import (  # noqa: E402
    PARITY_TOL,
    ExportError,
    export_checkpoint,
    export_onnx,
    parity,
)
from humanoid_manip.learn.toy import toy_episodes  # noqa: E402
from humanoid_manip.learn.train import PolicyIO, build_model, save_checkpoint  # noqa: E402
from humanoid_manip.policy import PolicyContract, PolicyRuntime  # noqa: E402
from humanoid_manip.policy.contract import METADATA_KEYS  # noqa: E402

TASKS = ("pick_place", "open_dryer")


@pytest.fixture(scope="module")
def checkpoint(robot, tmp_path_factory):
    """An untrained model with real normalization stats, saved as a training run would."""
    cfg = load_train_config()  # the shipped model size
    io = PolicyIO.for_robot(robot, TASKS)
    stats = compute_stats(toy_episodes(robot, n_episodes=2, ticks=30))
    model = build_model(cfg.model, io, stats, robot.effort_limit, seed=5, kp=robot.kp,
                        kd=robot.kd)
    path = tmp_path_factory.mktemp("ckpt") / "checkpoint.pt"
    manifest = {"kind": "checkpoint", "id": "che-test", "parents": ["epi-1", "epi-2"],
                "config": {"urdf": robot.urdf_sha256, "robot.yaml": robot.config_sha256}}
    save_checkpoint(path, model, None, 0, cfg, io, [], manifest)
    return path, model


@pytest.fixture(scope="module")
def exported(checkpoint, robot, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "policy.onnx"
    return export_checkpoint(checkpoint[0], path, robot)


def test_the_file_passes_the_checker_and_the_runtime_contract(exported, robot):
    proto = onnx.load(str(exported))
    onnx.checker.check_model(proto, full_check=True)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert set(METADATA_KEYS) <= set(meta)
    lineage = json.loads(meta["lineage"])
    assert lineage["id"] == "che-test" and lineage["parents"] == ["epi-1", "epi-2"]
    assert json.loads(meta["task_names"]) == list(TASKS)
    assert exported.stat().st_size < 20e6
    runtime = PolicyRuntime(exported, robot, task="open_dryer")
    assert runtime.contract.state_size == load_train_config().model.memory
    assert runtime.warnings == []  # the lineage's config matches the running robot
    assert isinstance(runtime.contract, PolicyContract)


def test_onnx_matches_pytorch_on_random_inputs_at_any_batch_size(exported, checkpoint):
    model = checkpoint[1]
    assert parity(model, exported, batch=1, ticks=4, seed=1) < PARITY_TOL
    assert parity(model, exported, batch=7, ticks=2, seed=2) < PARITY_TOL


def test_the_runtime_carries_the_memory_between_ticks(exported, robot, checkpoint):
    model = checkpoint[1]
    runtime = PolicyRuntime(exported, robot, task="pick_place")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 96, 96, 3), dtype=np.uint8)
    q, dq = np.asarray(robot.home), np.zeros(robot.n)
    state = torch.zeros(1, model.state_size)
    for _ in range(3):
        got = runtime.step(images, q, dq)
        with torch.no_grad():
            want, state = model.step(torch.from_numpy(images[None]),
                                     torch.from_numpy(np.concatenate([q, dq])[None]).float(),
                                     torch.tensor([0]), state)
        assert np.allclose(got, want.numpy()[0], atol=PARITY_TOL)
    assert np.all(np.abs(got) <= robot.effort_limit + 1e-6)


def test_a_model_built_for_other_shapes_is_refused(checkpoint, robot, tmp_path):
    io = PolicyIO.for_robot(robot, ("only_one_task",))
    with pytest.raises(ExportError, match="2 tasks"):
        export_onnx(checkpoint[1], tmp_path / "x.onnx", io)
    small = build_model(ModelConfig(channels=(4, 4), memory=8), PolicyIO.for_robot(robot, TASKS))
    p = export_onnx(small, tmp_path / "small.onnx", PolicyIO.for_robot(robot, TASKS))
    assert parity(small, p) < PARITY_TOL
