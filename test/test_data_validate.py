"""The validator finds each known defect, reports clean episodes as clean, and --fix copies."""
import copy
import json

import numpy as np
import pytest

from humanoid_manip.cli import main
from humanoid_manip.data.episode import read_episode
from humanoid_manip.data.schema import episode_metadata
from humanoid_manip.data.synth import Defects, record_sim, write_synthetic
from humanoid_manip.data.validate import (
    DatasetError,
    find_episodes,
    fix_dataset,
    format_report,
    validate,
)

SECONDS = 1.0


# A private copy of config/ and urdf/ (test/conftest.py), so edits to the working tree while
# these tests run do not show up as configuration drift.
pytestmark = pytest.mark.usefixtures("frozen_config")


def _changed_gain_metadata(robot):
    """Lineage recorded when the elbow's kp was 250 (it is 200 now)."""
    meta = episode_metadata("pick_place", 3, {"type": "teleop", "device": "vr"}, sim=False,
                            robot=robot)
    lin = meta["lineage"]
    values = copy.deepcopy(lin["config_values"])
    gains = values["robot.yaml"]["gains"]
    elbow = next(i for i, g in enumerate(gains) if g["match"] == "*_elbow")
    gains[elbow]["kp"] = 250.0
    lin["config_values"] = values
    lin["config"] = dict(lin["config"], **{"robot.yaml": "f" * 64})
    return meta, elbow


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, robot):
    d = tmp_path_factory.mktemp("dataset")
    write_synthetic(d / "clean.mcap", robot, SECONDS)
    write_synthetic(d / "idle_middle.mcap", robot, SECONDS,
                    defects=Defects(idle_at_s=0.5, idle_s=300.0))
    write_synthetic(d / "nan_torque.mcap", robot, SECONDS, defects=Defects(nan_torque_at_s=0.5))
    write_synthetic(d / "dropped_frames.mcap", robot, SECONDS,
                    defects=Defects(drop_frames=(0.3, 0.6)))
    write_synthetic(d / "backwards.mcap", robot, SECONDS, defects=Defects(backwards_at_s=0.4))
    write_synthetic(d / "gapped.mcap", robot, SECONDS, defects=Defects(gap=(0.5, 0.6)))
    write_synthetic(d / "small_frames.mcap", robot, 0.2, image_size=(64, 48))
    write_synthetic(d / "saturated.mcap", robot, SECONDS, defects=Defects(saturate=True))
    write_synthetic(d / "no_outcome.mcap", robot, SECONDS, defects=Defects(no_outcome=True))
    meta = episode_metadata("pick_place", 1, {"type": "expert"}, sim=False, robot=robot)
    del meta["lineage"]
    write_synthetic(d / "no_lineage.mcap", robot, SECONDS, metadata=meta)
    meta, elbow = _changed_gain_metadata(robot)
    write_synthetic(d / "changed_gain.mcap", robot, SECONDS, metadata=meta)
    sim = d / "sim"
    record_sim(sim / "replays.mcap", robot, seed=2, seconds=0.4)
    record_sim(sim / "labels_from_seed_5.mcap", robot, seed=2, seconds=0.4, labels_from_seed=5,
               render=False)
    record_sim(sim / "claims_seed_4.mcap", robot, seed=2, seconds=0.2, claim_seed=4)
    report = validate(d, robot)
    print(format_report(report))
    return d, report, elbow


def _checks(report, name, severity=None):
    return {f.check for f in report.of(name) if severity is None or f.severity == severity}


def _messages(report, name):
    return " | ".join(f.message for f in report.of(name))


def test_clean_episodes_are_clean(dataset):
    _, report, _ = dataset
    assert report.clean("clean.mcap"), _messages(report, "clean.mcap")
    assert report.clean("sim/replays.mcap"), _messages(report, "sim/replays.mcap")
    assert not [f for f in report.of("sim/replays.mcap") if f.check == "replay"]


def test_idle_five_minutes_in_the_middle(dataset):
    _, report, _ = dataset
    idle = [f for f in report.of("idle_middle.mcap") if f.check == "idle"]
    assert len(idle) == 1 and idle[0].severity == "error"
    assert "idle 300.0 s" in idle[0].message and "middle" in idle[0].message


def test_nan_torque(dataset):
    _, report, _ = dataset
    msgs = [f.message for f in report.of("nan_torque.mcap") if f.check == "nan_inf"]
    assert any(m.startswith("applied torque: 1 NaN/Inf") and "0.500 s" in m for m in msgs)
    assert "nan_inf" in _checks(report, "nan_torque.mcap", "error")


def test_dropped_frames(dataset):
    _, report, _ = dataset
    cams = [f for f in report.of("dropped_frames.mcap") if f.check == "cameras"]
    assert len(cams) == 3 and all("dropped frame" in f.message for f in cams)
    assert all(f.severity == "warning" for f in cams)
    assert report.of("dropped_frames.mcap") == [f for f in cams] + [
        f for f in report.of("dropped_frames.mcap") if f.severity == "info"]


def test_timestamps_going_backwards(dataset):
    _, report, _ = dataset
    assert "timestamps" in _checks(report, "backwards.mcap", "error")
    assert "not increasing" in _messages(report, "backwards.mcap")


def test_gapped_timestamps(dataset):
    _, report, _ = dataset
    gaps = [f.message for f in report.of("gapped.mcap") if f.check == "timestamps"]
    assert len(gaps) == 2  # joint states and applied torques
    assert all("1 gap(s)" in m and "longest 0.102 s at 0.498 s" in m for m in gaps), gaps


def test_wrong_image_size(dataset):
    _, report, _ = dataset
    cams = [f for f in report.of("small_frames.mcap") if f.check == "cameras"]
    assert len(cams) == 3 and all(f.severity == "error" for f in cams)
    assert "frames are rgb8 64x48, the policy takes rgb8 96x96" in cams[0].message


def test_saturation_missing_outcome_and_lineage(dataset):
    _, report, _ = dataset
    assert _checks(report, "saturated.mcap", "error") == {"saturation"}
    assert "left_shoulder_pitch" in _messages(report, "saturated.mcap")
    assert _checks(report, "no_outcome.mcap", "error") == {"outcome"}
    assert _checks(report, "no_lineage.mcap", "error") == {"lineage"}


def test_changed_gain_is_reported_field_by_field(dataset):
    _, report, elbow = dataset
    drift = [f for f in report.of("changed_gain.mcap") if f.check == "config_drift"]
    assert [f.message for f in drift] == [
        f"recorded with other configuration: robot.yaml: gains[{elbow}].kp: recorded 250.0, "
        "running 200.0"]


def test_labels_from_another_seed_fail_replay(dataset):
    _, report, _ = dataset
    bad = [f for f in report.of("sim/labels_from_seed_5.mcap") if f.check == "replay"]
    assert bad and all(f.severity == "error" for f in bad)
    assert "do not reproduce the recorded motion" in bad[0].message


def test_cli_table_and_exit_code(dataset, capsys, tmp_path, robot):
    d, _, _ = dataset
    assert main(["data", "validate", str(d), "--no-replay"]) == 1
    out = capsys.readouterr().out
    assert "idle_middle.mcap" in out and "error" in out and "with errors" in out
    assert main(["data", "validate", str(d / "clean.mcap"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["episodes"] == ["clean.mcap"]
    assert main(["data", "validate", str(tmp_path / "nothing")]) == 2
    assert "nothing' does not exist" in capsys.readouterr().err  # refused as it is read


def test_fix_writes_trimmed_copies_and_leaves_originals(tmp_path, robot):
    src = tmp_path / "raw"
    path = write_synthetic(src / "idle_head.mcap", robot, SECONDS,
                           defects=Defects(idle_at_s=0.0, idle_s=4.0))
    write_synthetic(src / "fine.mcap", robot, SECONDS)
    before = path.read_bytes()
    report = validate(src, robot, replay=False)
    assert "idle" in _checks(report, "idle_head.mcap", "warning")
    with pytest.raises(DatasetError):
        fix_dataset(src, src, robot)
    assert main(["data", "validate", str(src), "--no-replay", "--fix",
                 "--out", str(tmp_path / "fixed")]) == 0
    assert path.read_bytes() == before
    fixed = find_episodes(tmp_path / "fixed")
    assert [f.name for f in fixed] == ["idle_head.mcap"]
    orig, copy_ = read_episode(path, images=False), read_episode(fixed[0], images=False)
    assert copy_.duration_s == pytest.approx(orig.duration_s - 4.0 + 0.2, abs=0.11)
    assert copy_.metadata["trim"]["from"] == str(path)
    assert copy_.metadata["lineage"]["parents"] == [orig.metadata["lineage"]["id"]]
    assert np.all(np.diff(copy_.t) > 0)
    again = validate(tmp_path / "fixed", robot, replay=False)
    assert "idle" not in _checks(again, "idle_head.mcap")


def test_idle_after_the_robot_settles_is_the_idle_head(tmp_path, robot):
    """A live session's robot moves for a moment as it settles into the monitor's hold, then
    waits for the operator: that wait is the idle head (flagged, cut by --fix); the same wait
    after real motion (past settle_s) is a pause in the middle, not flagged below idle_max_s."""
    from humanoid_manip.data.settings import load_data_config

    settle = load_data_config().validate.settle_s
    src = tmp_path / "raw"
    write_synthetic(src / "settles.mcap", robot, SECONDS,
                    defects=Defects(idle_at_s=settle / 2, idle_s=4.0))
    write_synthetic(src / "pauses.mcap", robot, SECONDS,
                    defects=Defects(idle_at_s=settle + 0.3, idle_s=4.0))
    report = validate(src, robot, replay=False)
    assert "idle 4.1 s at 0.0-4.1 s (head)" in _messages(report, "settles.mcap")
    assert "idle" not in _checks(report, "pauses.mcap")
    assert [d.name for _, d, _, _ in fix_dataset(src, tmp_path / "fixed", robot)] == \
        ["settles.mcap"]


def test_wrong_seed_in_the_metadata_fails_replay(dataset):
    _, report, _ = dataset
    bad = " | ".join(f.message for f in report.of("sim/claims_seed_4.mcap")
                     if f.check == "replay" and f.severity == "error")
    assert "initial state differs from the seed's reset" in bad
    assert "first frame differs from the seed's scene" in bad


def test_live_sessions_replay_from_the_measured_efforts(tmp_path, robot):
    """Over DDS the applied command is logged when it arrives, up to steps late; sim_node's
    joint states carry the measured effort of every step and the reset time is recorded, so
    the replay uses those (and sim_node's brake before the first command) and passes. Without
    the reset time it falls back to the command arrival times, which do not reproduce it."""
    from humanoid_manip.data.settings import load_data_config
    from humanoid_manip.data.validate import applied_torques, check_replay

    rec = record_sim(tmp_path / "live.mcap", robot, seed=2, seconds=0.4, render=False,
                     live_brake_steps=25)
    ep = read_episode(rec.path, images=False)
    cfg = load_data_config().validate
    applied = applied_torques(ep, 1.0 / robot.rates.physics_hz)
    assert len(applied.braked) == 25 and np.array_equal(applied.torque, rec.torques)
    assert [f for f in check_replay(ep, robot, cfg) if f[0] == "error"] == []
    ep.metadata.pop("start_time")
    errors = [f for f in check_replay(ep, robot, cfg) if f[0] == "error"]
    assert errors and "do not reproduce the recorded motion" in errors[0][2]


def test_an_operator_label_the_referee_disagrees_with_is_its_own_finding(tmp_path, robot):
    """A teleoperator's success mark on an episode the referee scores as failed is a warning of
    its own (check "label"), not a replay error; the same mismatch in an expert's episode, whose
    outcome is the referee's own verdict, stays a replay error; and a replay that does not
    reproduce the motion says nothing about the label."""
    from humanoid_manip.data.settings import load_data_config
    from humanoid_manip.data.validate import check_replay

    rec = record_sim(tmp_path / "live.mcap", robot, seed=2, seconds=0.4, render=False,
                     live_brake_steps=25)
    ep = read_episode(rec.path, images=False)
    cfg = load_data_config().validate
    ep.metadata["source"] = {"type": "teleop", "device": "keyboard", "operator": "ana"}
    ep.metadata["outcome"] = {"success": not rec.success, "note": ""}
    found = check_replay(ep, robot, cfg)
    assert [f for f in found if f[0] == "error"] == []
    assert [(s, c) for s, c, _ in found] == [("warning", "label")]
    assert found[0][2].startswith("operator label disagrees with the referee: marked success, "
                                  "the referee scores the replayed episode failure")
    ep.metadata["outcome"]["success"] = rec.success
    assert check_replay(ep, robot, cfg) == []
    ep.metadata["outcome"]["success"] = not rec.success
    ep.metadata["source"] = {"type": "expert", "name": "pd_demonstrator"}
    errors = [f for f in check_replay(ep, robot, cfg) if f[0] == "error"]
    assert len(errors) == 1 and "replay outcome differs" in errors[0][2]
    ep.metadata["source"] = {"type": "teleop", "device": "keyboard"}
    ep.metadata.pop("start_time")
    found = check_replay(ep, robot, cfg)
    assert [c for _, c, _ in found] == ["replay"] and "do not reproduce" in found[0][2]
