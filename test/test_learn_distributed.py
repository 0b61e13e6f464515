"""Data-parallel training under torch's launcher (torchrun, two CPU processes, gloo): every
process ends with the same weights, trained on batches of its own; rank 0 writes the run."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from humanoid_manip.learn.distributed import DataParallel  # noqa: E402
from humanoid_manip.learn.train import load_policy  # noqa: E402

HERE = Path(__file__).resolve().parent


def test_one_process_is_the_plain_loop():
    par = DataParallel.from_env()
    assert (par.rank, par.world) == (0, 1) and not par.active
    assert [par.batch_index(k) for k in range(3)] == [0, 1, 2]
    assert DataParallel(1, 2).batch_index(3) == 7


@pytest.mark.slow
def test_two_processes_average_their_gradients(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent),
                                                        os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node", "2", str(HERE / "_ddp_train.py"), str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    a = torch.load(tmp_path / "rank0.pt")
    b = torch.load(tmp_path / "rank1.pt")
    for name in a:
        assert torch.equal(a[name], b[name]), name
    _, ckpt = load_policy(tmp_path / "run" / "checkpoint.pt")
    assert ckpt["step"] == 4
    for name, value in ckpt["model_state"].items():  # rank 0's checkpoint is the weights
        assert torch.equal(value, a[name]), name
