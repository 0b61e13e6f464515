"""LeRobot export: the written dataset follows the published v2.1 layout (checked here file by
file), and LeRobotDataset loads it where lerobot is installed.

lerobot is not a dependency of this project. The loading test runs with lerobot importable in
this interpreter, or with HUMANOID_MANIP_LEROBOT_PYTHON naming a Python that has it (e.g. a
separate venv: `pip install torch==2.13.0 lerobot`); otherwise it is skipped.
"""
import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import imageio_ffmpeg
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from humanoid_manip.cli import main
from humanoid_manip.data.episode import read_episode
from humanoid_manip.data.lerobot_export import export_lerobot
from humanoid_manip.data.synth import write_synthetic
from humanoid_manip.data.validate import DatasetError

CAMS = ("head_camera", "left_wrist_camera", "right_wrist_camera")


@pytest.fixture(scope="module")
def exported(tmp_path_factory, robot):
    d = tmp_path_factory.mktemp("lr")
    write_synthetic(d / "src" / "a.mcap", robot, 1.0, seed=1)
    write_synthetic(d / "src" / "b.mcap", robot, 0.5, seed=2, task="zip_bag_open")
    write_synthetic(d / "src" / "c.mcap", robot, 0.3, seed=3, images=False)  # skipped
    info = export_lerobot(d / "src", d / "out", robot=robot)
    return d, info


def _jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_layout_and_meta_follow_v21(exported):
    d, info = exported
    out = d / "out"
    on_disk = json.loads((out / "meta" / "info.json").read_text())
    assert on_disk == info
    assert info["codebase_version"] == "v2.1" and info["fps"] == 30
    assert info["total_episodes"] == 2 and info["total_frames"] == 31 + 16
    assert info["total_tasks"] == 2 and info["total_videos"] == 6
    assert info["splits"] == {"train": "0:2"} and info["chunks_size"] == 1000
    assert "c.mcap: no frames" in info["humanoid_manip"]["skipped"][0]
    feats = info["features"]
    for key in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
        assert feats[key]["shape"] == [1]
    assert feats["observation.state"]["shape"] == [96] and feats["action"]["shape"] == [48]
    for cam in CAMS:
        ft = feats[f"observation.images.{cam}"]
        assert ft["dtype"] == "video" and ft["shape"] == [96, 96, 3]
        assert ft["info"]["video.fps"] == 30 and ft["info"]["video.codec"] == "h264"
    assert _jsonl(out / "meta" / "tasks.jsonl") == [{"task_index": 0, "task": "pick_place"},
                                                   {"task_index": 1, "task": "zip_bag_open"}]
    assert _jsonl(out / "meta" / "episodes.jsonl") == [
        {"episode_index": 0, "tasks": ["pick_place"], "length": 31},
        {"episode_index": 1, "tasks": ["zip_bag_open"], "length": 16}]
    stats = _jsonl(out / "meta" / "episodes_stats.jsonl")
    for s in stats:
        for key, st in s["stats"].items():
            assert set(st) == {"min", "max", "mean", "std", "count"}
            assert np.asarray(st["count"]).shape == (1,)
            shape = np.asarray(st["mean"]).shape
            assert shape == ((3, 1, 1) if "images" in key else (feats[key]["shape"][0],))
            if "images" in key:
                assert 0.0 <= np.min(st["min"]) and np.max(st["max"]) <= 1.0


def test_parquet_rows_and_videos_match_the_episode(exported, robot):
    d, info = exported
    out = d / "out"
    t0 = pq.read_table(out / "data/chunk-000/episode_000000.parquet")
    t1 = pq.read_table(out / "data/chunk-000/episode_000001.parquet")
    assert t0.column_names == ["observation.state", "action", "timestamp", "frame_index",
                               "episode_index", "index", "task_index"]
    assert t0.schema.field("action").type == pa.list_(pa.float32(), 48)
    idx = np.concatenate([t0["index"].to_numpy(), t1["index"].to_numpy()])
    assert np.array_equal(idx, np.arange(47))
    ts = t0["timestamp"].to_numpy()
    assert ts.dtype == np.float32 and np.allclose(ts, np.arange(31) / 30)
    assert set(t1["task_index"].to_numpy()) == {1}
    ep = read_episode(d / "src" / "a.mcap")
    k = 12
    i = int(np.searchsorted(ep.command_t, k / 30 + 1e-9, side="right")) - 1
    action = np.asarray(t0["action"][k].as_py(), np.float32)
    np.testing.assert_allclose(action, ep.command[i], rtol=1e-6)
    state = np.asarray(t0["observation.state"][k].as_py())
    np.testing.assert_allclose(state[:48], ep.position[i], rtol=1e-6)
    for cam in CAMS:
        path = out / info["video_path"].format(episode_chunk=0, episode_index=0,
                                               video_key=f"observation.images.{cam}")
        gen = imageio_ffmpeg.read_frames(str(path))
        meta = next(gen)
        frames = [np.frombuffer(f, np.uint8).reshape(96, 96, 3) for f in gen]
        assert meta["size"] == (96, 96) and meta["fps"] == 30 and len(frames) == 31
        src = ep.images[cam][1][k].astype(int)
        assert np.abs(frames[k].astype(int) - src).mean() < 12  # lossy, but the same picture


def test_cli_and_refusals(exported, tmp_path, capsys):
    d, _ = exported
    assert main(["data", "export-lerobot", str(d / "src"), str(tmp_path / "x")]) == 0
    assert "exported 2 episode(s), 47 frames at 30 fps" in capsys.readouterr().out
    with pytest.raises(DatasetError, match="exists"):
        export_lerobot(d / "src", d / "out")
    assert main(["data", "export-lerobot", str(tmp_path / "none"), str(tmp_path / "y")]) == 2
    help_text = subprocess.run([sys.executable, "-m", "humanoid_manip", "data", "--help"],
                               capture_output=True, text=True, timeout=60).stdout
    assert "v2.1" in help_text and "v3.0: parquet" not in help_text  # says what it writes


def test_a_failed_export_leaves_nothing_and_the_retry_works(exported, tmp_path, robot):
    """Every episode unreadable: an error, and no OUT/ (nor a hidden partial) to block a retry."""
    d, _ = exported
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.mcap").write_bytes(b"not an episode")
    with pytest.raises(DatasetError, match="could be exported"):
        export_lerobot(bad, tmp_path / "out", robot=robot)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad"]
    write_synthetic(bad / "a.mcap", robot, 0.3, seed=4)
    info = export_lerobot(bad, tmp_path / "out", robot=robot)
    assert info["total_episodes"] == 1 and (tmp_path / "out" / "meta" / "info.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "out"]


LOADER = textwrap.dedent("""
    import json, sys, types
    try:
        import torchvision  # noqa: F401
    except RuntimeError:
        # A CUDA torchvision wheel beside a CPU torch cannot register its detection ops;
        # datasets do not use them.
        for name in [m for m in sys.modules if m.startswith("torchvision")]:
            del sys.modules[name]
        for name in ("torchvision._meta_registrations", "torchvision._autograd_registrations"):
            sys.modules[name] = types.ModuleType(name)
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    ds = LeRobotDataset("local/humanoid_manip", root=sys.argv[1], video_backend="pyav")
    item = ds[12]
    last = ds[len(ds) - 1]
    print(json.dumps({
        "len": len(ds), "episodes": ds.num_episodes, "fps": ds.fps,
        "action": item["action"].tolist(), "task": item["task"], "last_task": last["task"],
        "image_shape": list(item["observation.images.head_camera"].shape),
        "image_mean": float(item["observation.images.head_camera"].mean()),
        "stats_action_mean": len(ds.meta.stats["action"]["mean"])}))
""")


def _lerobot_python():
    if importlib.util.find_spec("lerobot") is not None:
        return sys.executable
    return os.environ.get("HUMANOID_MANIP_LEROBOT_PYTHON")


@pytest.mark.slow
@pytest.mark.skipif(not _lerobot_python(), reason="lerobot not installed here and "
                    "HUMANOID_MANIP_LEROBOT_PYTHON not set; the export is schema-checked above")
def test_lerobot_dataset_loads_the_export(exported):
    d, _ = exported
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    run = subprocess.run([_lerobot_python(), "-c", LOADER, str(d / "out")], capture_output=True,
                         text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["len"] == 47 and got["episodes"] == 2 and got["fps"] == 30
    assert got["task"] == "pick_place" and got["last_task"] == "zip_bag_open"
    assert got["image_shape"] == [3, 96, 96] and 0.1 < got["image_mean"] < 0.9
    row = pq.read_table(d / "out/data/chunk-000/episode_000000.parquet")["action"][12].as_py()
    np.testing.assert_allclose(got["action"], row, rtol=1e-6)
    assert got["stats_action_mean"] == 48
