"""Lineage manifests round-trip, and config drift is reported field by field."""
import pytest

from humanoid_manip.data.lineage import (
    LineageError,
    Manifest,
    config_drift,
    config_fingerprint,
    new_manifest,
    read_manifest,
    write_manifest,
)


def test_fingerprint_covers_the_urdf_and_robot_config(robot):
    fp = config_fingerprint(robot)
    assert fp["urdf"] == robot.urdf_sha256 and fp["robot.yaml"] == robot.config_sha256
    assert all(len(v) == 64 for v in fp.values())


def test_manifest_round_trips_and_ids_differ(tmp_path, robot):
    a = new_manifest("episode", {"type": "expert", "task": "pick_place", "seed": 1}, robot=robot)
    b = new_manifest("checkpoint", {"type": "bc"}, parents=[a.id], robot=robot)
    assert a.id != b.id and b.parents == [a.id]
    path = write_manifest(tmp_path / "m.json", b)
    assert read_manifest(path) == b
    with pytest.raises(LineageError, match="kind"):
        Manifest("banana", "id", "v", {}, {})
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(LineageError, match="not JSON"):
        read_manifest(tmp_path / "bad.json")


def test_config_drift_names_each_changed_field():
    recorded = {"urdf": "a" * 64, "robot.yaml": "b" * 64, "control.yaml": "c" * 64}
    running = {"urdf": "a" * 64, "robot.yaml": "d" * 64, "safety.yaml": "e" * 64}
    drift = config_drift(recorded, running)
    assert len(drift) == 3
    assert any(d.startswith("robot.yaml: recorded bbbb") for d in drift)
    assert any(d.startswith("control.yaml") and "not present now" in d for d in drift)
    assert any(d.startswith("safety.yaml") and "not recorded" in d for d in drift)
    assert config_drift(running, running) == []
