"""Training data: episode files resampled to the policy rate, windows, batches (numpy only)."""
import numpy as np
import pytest

from humanoid_manip.data.episode import (
    EpisodeWriter,
    float64_array_msg,
    image_msg,
    joint_state_msg,
    read_episode,
)
from humanoid_manip.learn.dataset import (
    PROPRIO_STD_FLOOR,
    EpisodeArrays,
    IterableSource,
    TrainingDataError,
    WindowSampler,
    as_batch,
    compute_stats,
    episode_arrays,
    episodes_from_cache,
)
from humanoid_manip.learn.toy import toy_episodes


@pytest.fixture(scope="module")
def episodes(robot):
    return toy_episodes(robot, n_episodes=3, ticks=50, seed=3)


def test_window_batches_are_a_pure_function_of_the_step(episodes):
    s = WindowSampler(episodes, batch_size=5, window=8, burn_in=4, seed=1)
    a, b, c = s.batch(7), s.batch(7), s.batch(8)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.torque, b.torque)
    assert not np.array_equal(a.proprio, c.proprio)
    assert a.proprio.shape == (5, 12, 2 * episodes[0].torque.shape[1])
    assert a.frames.dtype == np.uint8 and a.frames.shape[2:] == (3, 96, 96, 3)


def test_windows_match_their_episode_and_burn_in_has_no_loss(episodes):
    by_id = {e.id: e for e in episodes}
    s = WindowSampler(episodes, batch_size=64, window=8, burn_in=4, seed=0)
    batch = s.batch(0)
    seen_start, seen_mid = False, False
    for k, eid in enumerate(batch.episode_ids):
        ep = by_id[eid]
        n = int((batch.mask[k] > 0).sum())
        # find where this window sits in its episode by matching proprio rows
        row = batch.proprio[k, 0]
        start = int(np.flatnonzero(np.all(ep.proprio == row, axis=1))[0])
        if start == 0 and batch.mask[k, 0] == 1:
            seen_start = True  # a window from the episode start: every tick counts
        elif batch.mask[k, 0] == 0:
            seen_mid = True
            assert np.all(batch.mask[k, :4] == 0) and n <= 8
        for t in range(batch.frame_of.shape[1]):
            if batch.mask[k, t] and start + t < len(ep):
                want = ep.frames[ep.frame_of[start + t]]
                assert np.array_equal(batch.frames[k, batch.frame_of[k, t]], want)
                assert np.array_equal(batch.torque[k, t], ep.torque[start + t])
    assert seen_start and seen_mid


def test_stats_floor_joints_that_never_moved(episodes):
    still = EpisodeArrays(episodes[0].frames, episodes[0].frame_of,
                          np.zeros_like(episodes[0].proprio), episodes[0].torque, 0, "still")
    stats = compute_stats([still])
    assert np.all(stats.proprio_std == np.float32(PROPRIO_STD_FLOOR))
    assert stats.torque_mean.shape == (episodes[0].torque.shape[1],)


def test_iterable_source_replays_steps_in_order_and_skips_on_resume(episodes):
    s = WindowSampler(episodes, batch_size=2, window=4, seed=0)
    items = [{"frames": s.batch(i).frames, "frame_of": s.batch(i).frame_of,
              "proprio": s.batch(i).proprio, "torque": s.batch(i).torque,
              "task": s.batch(i).task} for i in range(3)]
    src = IterableSource.of(items)
    assert np.array_equal(src.batch(0).proprio, items[0]["proprio"])
    resumed = IterableSource.of(items)
    assert np.array_equal(resumed.batch(2).proprio, items[2]["proprio"])
    assert np.array_equal(resumed.batch(3).proprio, items[0]["proprio"])  # starts over
    with pytest.raises(TrainingDataError, match="cannot go back"):
        resumed.batch(1)
    with pytest.raises(TrainingDataError, match="missing"):
        as_batch({"proprio": items[0]["proprio"]})


def test_an_episode_file_becomes_arrays_at_the_policy_rate(tmp_path, robot):
    """500 Hz joint states and requests, 30 Hz cameras -> 100 Hz ticks, each frame stored once."""
    path = tmp_path / "ep.mcap"
    cams = robot.camera_names
    meta = {"task": "pick_place", "lineage": {"id": "epi-abc"}}
    with EpisodeWriter(path, meta) as w:
        for k in range(500):  # 1 s
            t = k * 2_000_000
            q = np.full(robot.n, k * 1e-3)
            w.write("/joint_states", joint_state_msg(t, robot.names, q, q * 2, q * 0), t)
            w.write("/policy/torque_request", joint_state_msg(t, robot.names, effort=q * 3), t)
            w.write("/effort_controller/commands", float64_array_msg(q * 4), t)
        for i in range(30):
            t = int(i * 1e9 / 30)
            for c, cam in enumerate(cams):
                w.write(f"/{cam}/image_raw", image_msg(t, cam, np.full((96, 96, 3), i + c,
                                                                        np.uint8)), t)
        w.finish({"success": True})
    ep = episode_arrays(read_episode(path), ["pick_place", "other"], cams, robot.names, 100.0)
    assert len(ep) == 100 and ep.task == 0 and ep.id == "epi-abc"
    tick = 37  # t = 0.37 s -> joint state 185, camera frame 11
    assert np.allclose(ep.proprio[tick, :robot.n], 0.185)
    assert np.allclose(ep.proprio[tick, robot.n:], 0.37)
    assert np.allclose(ep.torque[tick], 0.555)
    assert len(ep.frames) == 30
    assert [int(ep.frames[ep.frame_of[tick], c, 0, 0, 0]) for c in range(3)] == [11, 12, 13]
    cmd = episode_arrays(read_episode(path), ["pick_place"], cams, robot.names, 100.0,
                         label="command")
    assert np.allclose(cmd.torque[tick], 0.74)
    with pytest.raises(TrainingDataError, match="not one of"):
        episode_arrays(read_episode(path), ["open_dryer"], cams, robot.names, 100.0)


def test_windows_come_from_the_training_cache(tmp_path, robot):
    """The data package's cache (memory-mapped per-episode arrays) feeds the window sampler."""
    from humanoid_manip.data.cache import CacheReader, build_cache
    from humanoid_manip.data.synth import write_synthetic

    write_synthetic(tmp_path / "a.mcap", robot, 1.0, seed=1)
    write_synthetic(tmp_path / "b.mcap", robot, 0.5, seed=2)
    build_cache(tmp_path, robot=robot, sample_hz=100.0)
    eps, tasks = episodes_from_cache(tmp_path / ".cache", rate_hz=100.0)
    assert len(eps) == 2 and tasks and all(0 <= e.task < len(tasks) for e in eps)
    assert sorted(len(e) for e in eps) == [51, 101]
    batch = WindowSampler(eps, batch_size=3, window=6, burn_in=2, seed=0).batch(0)
    assert batch.frames.shape[2:] == (3, 96, 96, 3) and batch.proprio.shape[2] == 2 * robot.n
    with pytest.raises(TrainingDataError, match="rebuild it"):
        episodes_from_cache(tmp_path / ".cache", rate_hz=50.0)
    # the reader's own shuffled single-sample batches fit too, as one-tick sequences
    reader = CacheReader(tmp_path / ".cache")
    src = IterableSource(lambda: reader.batches(4, seed=0, prefetch=0))
    one = src.batch(0)
    assert one.frames.shape == (4, 1, 3, 96, 96, 3) and one.proprio.shape == (4, 1, 2 * robot.n)
    assert one.size == 4 and src.batch(50).frame_of.shape == (4, 1)  # wraps to a new epoch
