"""Episodes on Ray workers: the same seeds give bit-identical episodes on one worker or two, the
files say which worker made them, and a worker killed mid-episode costs only that episode,
which is run again, with no partial file left in the dataset."""
import os
import signal
import threading
import time

import numpy as np
import pytest

from humanoid_manip.data.episode import read_episode
from humanoid_manip.loop import EpisodeJob, Workers, run_jobs
from humanoid_manip.loop.runner import SCRATCH_ENV

pytest.importorskip("ray")


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    scratch = tmp_path_factory.mktemp("scratch")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(SCRATCH_ENV, str(scratch))  # the workers inherit it
        with Workers(2, progress=False) as w:
            yield w, scratch


def _jobs(out, seeds, seconds):
    return [EpisodeJob("pick_place", s, "teleop", out_dir=str(out), index=i, render=False,
                       time_limit_s=seconds) for i, s in enumerate(seeds)]


def _recorded(results):
    return {r.job.seed: read_episode(r.report.path, images=False) for r in results}


@pytest.mark.slow
def test_one_worker_and_two_record_the_same_episodes(workers, tmp_path):
    w, _ = workers
    seeds = [11, 12, 13]
    here = run_jobs(_jobs(tmp_path / "one", seeds, 0.4), workers=1, progress=False)
    there = w.submit(_jobs(tmp_path / "two", seeds, 0.4)).results()
    assert there.workers == 2 and all(r.ok for r in here + there)
    a, b = _recorded(here), _recorded(there)
    for s in seeds:
        for field in ("position", "velocity", "effort", "command", "request", "t"):
            np.testing.assert_array_equal(getattr(a[s], field), getattr(b[s], field))
        assert a[s].metadata["made_by"]["worker"] == "local"
        made = b[s].metadata["made_by"]
        assert made["pid"] != os.getpid() and made["worker"].startswith(made["host"])
    assert {r.worker for r in there} <= {b[s].metadata["made_by"]["worker"] for s in seeds}


@pytest.mark.slow
def test_a_worker_killed_mid_episode_costs_that_episode_only(workers, tmp_path):
    w, scratch = workers
    out = tmp_path / "data"
    killed: list[int] = []

    def kill_the_first_worker_caught_writing():
        deadline = time.monotonic() + 120
        while not killed and time.monotonic() < deadline:
            for part in scratch.glob("*/*/.partial/*.part"):
                pid = int(part.relative_to(scratch).parts[0])
                if part.stat().st_size > 0:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_the_first_worker_caught_writing)
    killer.start()
    results = w.submit(_jobs(out, [21, 22, 23], 1.5)).results()
    killer.join()
    assert killed, "no worker was caught mid-episode"
    assert all(r.ok for r in results), [r.error for r in results]
    assert sorted(r.attempts for r in results) == [1, 1, 2]  # the killed one ran again
    files = sorted(out.glob("*.mcap"))
    assert len(files) == 3
    assert [p for p in out.rglob("*") if p not in files] == []  # no .partial, no .part
    for f in files:
        ep = read_episode(f, images=False)
        assert ep.metadata["outcome"]["success"] is not None
        assert ep.duration_s == pytest.approx(1.5, abs=0.01)
    assert str(killed[0]) not in {p.name for p in scratch.glob("*")}  # its scratch is gone


@pytest.mark.slow
def test_a_job_that_raises_is_reported_not_retried_nor_dropped(workers, tmp_path):
    w, _ = workers
    bad = EpisodeJob("pick_place", 1, "policy", policy=str(tmp_path / "missing.onnx"),
                     time_limit_s=0.1)
    good = _jobs(tmp_path / "data", [2], 0.1)[0]
    for results in (run_jobs([bad, good], workers=1, progress=False),
                    w.submit([bad, good]).results()):
        assert [r.ok for r in results] == [False, True]
        assert results[0].attempts == 1 and "missing.onnx" in results[0].error
