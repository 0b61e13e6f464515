"""inspect: a correct dataset summary, and real PNG plots, a contact sheet and a playable MP4."""
import json

import imageio_ffmpeg
import numpy as np
import pytest

from humanoid_manip.cli import main
from humanoid_manip.data.episode import EpisodeWriter
from humanoid_manip.data.inspect import (
    dataset_summary,
    format_summary,
    group_figure,
    inspect_episode,
)
from humanoid_manip.data.schema import episode_metadata
from humanoid_manip.data.synth import write_synthetic

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, robot):
    d = tmp_path_factory.mktemp("ds")
    write_synthetic(d / "a.mcap", robot, 1.0, seed=1, success=True)
    write_synthetic(d / "b.mcap", robot, 2.0, seed=2, success=False)
    meta = episode_metadata("zip_bag_open", 3, {"type": "policy", "checkpoint": "che-1"},
                            sim=True, robot=robot)
    write_synthetic(d / "c.mcap", robot, 0.5, seed=3, metadata=meta, success=True)
    with EpisodeWriter(d / "aborted.mcap", {"task": "pick_place"}) as w:
        w.write("/effort_controller/commands", {"layout": {"dim": [], "data_offset": 0},
                                                "data": [0.0]}, 0)
    return d


def test_summary_counts_tasks_sources_durations_and_success(dataset):
    s = dataset_summary(dataset)
    assert s["episodes"] == 4 and s["readable"] == 4
    assert s["tasks"] == {"pick_place": 3, "zip_bag_open": 1}
    assert s["sources"] == {"expert": 2, "policy che-1": 1, "?": 1}
    assert s["sim_real"] == {"real": 2, "sim": 2}
    assert s["duration_s"]["total"] == pytest.approx(3.5, abs=0.05)
    assert s["success_rate"] == pytest.approx(2 / 3) and s["judged"] == 3
    text = format_summary(s)
    assert "success rate  67% of 3" in text and "pick_place 3" in text


def test_one_episode_plots_sheet_and_video(dataset, tmp_path, robot):
    files = inspect_episode(dataset / "b.mcap", tmp_path / "out", robot=robot)
    names = sorted(f.name for f in files)
    assert names == ["cameras.mp4", "contact_sheet.png", "joint_positions.png",
                     "joint_velocities.png", "torques.png"]
    for f in files:
        if f.suffix == ".png":
            assert f.read_bytes()[:8] == PNG and f.stat().st_size > 10_000
    reader = imageio_ffmpeg.read_frames(str(tmp_path / "out" / "cameras.mp4"))
    meta = next(reader)
    frames = list(reader)
    assert meta["size"] == (3 * 96 * 2, 96 * 2)
    assert len(frames) == 61  # 2 s at 30 Hz, both ends included
    assert np.frombuffer(frames[0], np.uint8).std() > 20  # real pictures, not a blank


def test_cli(dataset, tmp_path, capsys):
    assert main(["data", "inspect", str(dataset), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["episodes"] == 4
    assert main(["data", "inspect", str(dataset), "-e", "a.mcap", "-o", str(tmp_path / "x"),
                 "--no-video"]) == 0
    out = capsys.readouterr().out
    assert "episodes" in out and "contact_sheet.png" in out and "cameras.mp4" not in out


def test_plots_name_every_joint_give_units_and_mark_interventions(robot):
    """A panel per group, a legend entry per joint, units on the axis, safety events on the
    panels of the joints they name (and on every panel when they name none)."""
    t = np.linspace(0, 1, 11)
    values = np.zeros((11, robot.n))
    events = [{"type": "torque_limit", "joints": ["left_elbow"]},
              {"type": "estop", "joints": []}]
    fig = group_figure("x", robot, "N·m", [("applied", t, values, "-"),
                                           ("requested", t, values, "--")], events, [0.2, 0.6])
    axes = fig.axes
    assert len(axes) == len(robot.groups)
    for ax, (group, names) in zip(axes, robot.groups.items()):
        assert group in ax.get_ylabel() and "(N·m)" in ax.get_ylabel()
        labels = [text.get_text() for text in ax.get_legend().get_texts()]
        assert len(labels) == len(names)  # one per joint, the dashed twin unlabelled
        assert all(name.endswith(label) for name, label in zip(names, labels))
        markers = [line for line in ax.lines if line.get_marker() == "v"]
        assert len(markers) == (2 if group == "left_arm" else 1)
    legend = [text.get_text() for text in fig.legends[0].get_texts()]
    assert "safety: torque limit" in legend and "safety: estop" in legend
    assert "applied" in legend and "requested" in legend
    import matplotlib.pyplot as plt

    plt.close(fig)
