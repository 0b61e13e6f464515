"""`humanoid-manip tasks` and `humanoid-manip expert`: JSON shapes, video, clear errors."""
from __future__ import annotations

import json

import pytest

from humanoid_manip.cli import main
from humanoid_manip.sim import task_names


def test_tasks_json_lists_every_task_with_its_ranges(capsys):
    assert main(["tasks", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in out["tasks"]] == list(task_names())
    dryer = next(t for t in out["tasks"] if t["name"] == "dryer_open")
    assert dryer["config"]["latch_force_n"] == [10.0, 30.0]
    assert "light_diffuse" in out["domain"] and "camera_pos_jitter_m" in out["domain"]


def test_expert_unknown_task_is_a_clear_error(capsys):
    assert main(["expert", "--task", "dryer_opne", "--json"]) == 2
    err = capsys.readouterr().err
    assert "unknown task 'dryer_opne'" in err and "dryer_open" in err


@pytest.mark.slow
def test_expert_json_and_video(capsys, tmp_path):
    video = tmp_path / "head.mp4"
    assert main(["expert", "--task", "pick_place", "--episodes", "1", "--seed", "4",
                 "--video", str(video), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["task"] == "pick_place" and out["success_rate"] == 1.0
    (ep,) = out["episodes"]
    assert ep["seed"] == 4 and ep["success"] and ep["progress"] == 1.0 and ep["duration"] > 1
    assert video.stat().st_size > 10_000
