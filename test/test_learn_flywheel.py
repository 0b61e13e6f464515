"""The flywheel end to end at toy scale: expert round, DAgger round, lineage linking them."""
import json
import time

import pytest

pytest.importorskip("torch")

from humanoid_manip.data.episode import read_episode  # noqa: E402
from humanoid_manip.learn.config import load_train_config  # noqa: E402
from humanoid_manip.learn.flywheel import FlywheelConfig, run_flywheel  # noqa: E402
from humanoid_manip.learn.toy import TINY_MODEL  # noqa: E402
from humanoid_manip.learn.train import load_policy  # noqa: E402


@pytest.mark.slow
def test_two_rounds_collect_validate_train_export_evaluate(robot, tmp_path):
    train = load_train_config().with_overrides(batch_size=2, window=4, burn_in=2, log_every=1,
                                               warmup_steps=1, threads=1, model=TINY_MODEL)
    cfg = FlywheelConfig(task="pick_place", rounds=2, expert_episodes=1, dagger_episodes=1,
                         eval_episodes=1, train_steps=2, time_limit_s=0.2)
    result = run_flywheel(cfg, train, tmp_path, robot, progress=False)
    r0, r1 = result["rounds"]
    assert r0["collected"] == "expert" and r1["collected"] == "dagger"
    assert r0["validation"]["errors"] == [] and r1["validation"]["errors"] == []  # replays
    assert r0["episodes_trained"] == 1 and r1["episodes_trained"] == 2
    assert r0["eval"]["seeds"] == r1["eval"]["seeds"] == [cfg.eval_seed]
    assert set(result["change"]) == {"success_rate", "mean_progress", "mean_max_progress"}

    dagger = read_episode(r1["files"][0], images=False)
    assert dagger.metadata["source"]["type"] == "dagger"
    assert dagger.metadata["source"]["policy"] == r0["checkpoint"]
    assert len(dagger.request) and len(dagger.command)  # expert labels, applied torques
    _, ck0 = load_policy(tmp_path / "round0" / "train" / "checkpoint.pt")
    _, ck1 = load_policy(tmp_path / "round1" / "train" / "checkpoint.pt")
    assert set(ck0["manifest"]["parents"]) < set(ck1["manifest"]["parents"])
    assert ck1["manifest"]["source"]["previous_policy"] == r0["checkpoint"]
    assert ck1["manifest"]["source"]["train_seeds"] == {"pick_place": [0, 10000]}
    assert json.loads((tmp_path / "flywheel.json").read_text())["rounds"][1]["round"] == 1

    t0 = time.perf_counter()  # finished rounds are kept, not redone
    again = run_flywheel(cfg, train, tmp_path, robot, progress=False)
    assert again["rounds"] == result["rounds"] and time.perf_counter() - t0 < 5
