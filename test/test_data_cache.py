"""The training cache: decoded arrays match the episodes, builds are incremental by content
hash, and the reader serves every sample once per epoch in shuffled batches."""
import json
import os

import numpy as np
import pytest

from humanoid_manip.cli import main
from humanoid_manip.data.cache import CacheError, CacheReader, build_cache
from humanoid_manip.data.episode import read_episode
from humanoid_manip.data.synth import write_synthetic


@pytest.fixture()
def dataset(tmp_path, robot):
    d = tmp_path / "ds"
    write_synthetic(d / "a.mcap", robot, 1.0, seed=1)
    write_synthetic(d / "b.mcap", robot, 0.5, seed=2)
    write_synthetic(d / "sub" / "c.mcap", robot, 0.5, seed=3, task="zip_bag_open")
    return d


def test_cache_arrays_match_the_episode(dataset, robot):
    res = build_cache(dataset, robot=robot, sample_hz=100.0)
    assert sorted(res.built) == ["a.mcap", "b.mcap", "sub/c.mcap"] and not res.failed
    index = json.loads((dataset / ".cache" / "index.json").read_text())
    entry = next(e for e in index["episodes"] if e["file"] == "a.mcap")
    assert len(entry["sha256"]) == 64 and entry["task"] == "pick_place"
    assert entry["samples"] == 101  # 1 s at 100 Hz, both ends
    folder = dataset / ".cache" / "episodes" / entry["entry"]
    images = np.load(folder / "images.npy")
    proprio, torque, t = (np.load(folder / f"{n}.npy") for n in ("proprio", "torque", "t"))
    frame = np.load(folder / "frame.npy")
    ep = read_episode(dataset / "a.mcap")
    assert images.shape == (31, 3, 96, 96, 3) and images.dtype == np.uint8
    for c, cam in enumerate(robot.camera_names):
        np.testing.assert_array_equal(images[:, c], ep.images[cam][1])
    k = 37
    i = int(np.searchsorted(ep.command_t, t[k] - 1e-9))
    np.testing.assert_allclose(torque[k], ep.command[i], rtol=1e-6)
    np.testing.assert_allclose(proprio[k, :robot.n], ep.position[i], rtol=1e-6)
    assert ep.images["head_camera"][0][frame[k]] <= t[k] + 1e-9


def test_incremental_rebuild_by_content_hash(dataset, robot):
    build_cache(dataset, robot=robot)
    again = build_cache(dataset, robot=robot)
    assert again.built == [] and len(again.reused) == 3
    os.rename(dataset / "b.mcap", dataset / "renamed.mcap")  # same content: nothing to decode
    write_synthetic(dataset / "a.mcap", robot, 0.6, seed=9)  # changed content: decoded again
    (dataset / "sub" / "c.mcap").unlink()
    res = build_cache(dataset, robot=robot)
    assert res.built == ["a.mcap"] and res.reused == ["renamed.mcap"] and res.removed == 2
    assert len(list((dataset / ".cache" / "episodes").iterdir())) == 2


def test_reader_serves_each_sample_once_per_epoch(dataset, robot):
    build_cache(dataset, robot=robot, sample_hz=100.0)
    reader = CacheReader(dataset / ".cache")
    assert reader.task_names == ["pick_place", "zip_bag_open"] and len(reader) == 101 + 51 + 51
    seen = []
    for batch in reader.batches(16, seed=3, drop_last=False):
        assert batch["images"].shape[1:] == (3, 96, 96, 3) and batch["images"].dtype == np.uint8
        assert batch["proprio"].shape[1] == 2 * robot.n and batch["torque"].shape[1] == robot.n
        assert batch["task"].dtype == np.int64
        seen.append(batch["proprio"][:, :robot.n])
    all_q = np.concatenate(seen)
    assert len(all_q) == len(reader)
    assert len(np.unique(all_q.round(9), axis=0)) == len(reader)
    first = next(reader.batches(16, seed=3))["torque"]
    np.testing.assert_array_equal(first, next(reader.batches(16, seed=3, prefetch=0))["torque"])
    assert not np.array_equal(first, next(reader.batches(16, seed=4))["torque"])
    batch = reader.gather(np.array([len(reader) - 1]))
    assert batch["task"][0] == 1  # the last entry, sub/c.mcap, is zip_bag_open


def test_cli_and_errors(dataset, tmp_path, capsys):
    assert main(["data", "cache", str(dataset), "--cache", str(tmp_path / "c")]) == 0
    assert "3 episode(s) decoded" in capsys.readouterr().out
    assert main(["data", "cache", str(dataset), "--cache", str(tmp_path / "c")]) == 0
    assert "0 episode(s) decoded, 3 unchanged" in capsys.readouterr().out
    with pytest.raises(CacheError, match="no cached episodes"):
        CacheReader(tmp_path / "empty")


def test_dagger_episodes_are_labelled_with_the_expert_request(tmp_path, robot):
    from humanoid_manip.data.schema import episode_metadata

    meta = episode_metadata("pick_place", 5, {"type": "dagger", "policy": "che-x"}, sim=True,
                            robot=robot)
    write_synthetic(tmp_path / "ds" / "d.mcap", robot, 0.3, metadata=meta, request_scale=0.5)
    build_cache(tmp_path / "ds", robot=robot)
    reader = CacheReader(tmp_path / "ds" / ".cache")
    batch = reader.gather(np.arange(len(reader)))
    ep = read_episode(tmp_path / "ds" / "d.mcap", images=False)
    i = np.searchsorted(ep.command_t, reader.arrays[0]["t"] - 1e-9)
    np.testing.assert_allclose(batch["torque"], 0.5 * ep.command[i], rtol=1e-5, atol=1e-6)


def test_fast_cdr_codec_agrees_with_the_generic_one():
    """The numpy encoders/decoders the cache build relies on, against mcap-ros2's own."""
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from mcap_ros2._dynamic import generate_dynamic, serialize_dynamic

    from humanoid_manip.data import cdr
    from humanoid_manip.data.msgdefs import schema_text

    js = "sensor_msgs/msg/JointState"
    enc = serialize_dynamic(js, schema_text(js))[js]
    dec = generate_dynamic(js, schema_text(js))[js]
    floats = st.lists(st.floats(allow_nan=False, width=64), max_size=5)

    @settings(max_examples=60, deadline=None)
    @given(names=st.lists(st.text("abc_xyz", max_size=9), max_size=5), q=floats, e=floats,
           t=st.integers(0, 2**40))
    def check(names, q, e, t):
        msg = {"header": {"stamp": {"sec": t // 10**9, "nanosec": t % 10**9}, "frame_id": ""},
               "name": names, "position": q, "velocity": [], "effort": e}
        data = cdr.joint_state_cdr(t, names, q, [], e)
        assert bytes(enc(msg)) == data
        stamp, n, q2, v2, e2 = cdr.read_joint_state(data, tuple(names))
        assert list(n) == names and q2.tolist() == q and e2.tolist() == e and len(v2) == 0
        assert stamp == pytest.approx(t * 1e-9)
        assert list(dec(data).position) == q

    check()
