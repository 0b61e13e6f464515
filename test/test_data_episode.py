"""Episode files are standard MCAP: two independent readers agree, and a killed writer recovers."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from rosbags.highlevel import AnyReader

from humanoid_manip.data.episode import (
    METADATA_TOPIC,
    TOPIC_TYPES,
    EpisodeFileError,
    EpisodeWriter,
    float64_array_msg,
    image_msg,
    joint_state_msg,
    read_episode,
    recover,
    string_msg,
)
from humanoid_manip.data.msgdefs import MessageDefinitionError, schema_text

CAMERAS = ("head_camera", "left_wrist_camera", "right_wrist_camera")


def _frame(i):
    rng = np.random.default_rng(i)
    return rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)


def write_two_seconds(path, robot):
    """2 s: joint states, requests and commands at 500 Hz, three cameras at 30 Hz, one event."""
    meta = {"task": "pick_place", "seed": 11, "source": {"type": "expert"}, "lineage": {"id": "x"}}
    with EpisodeWriter(path, meta) as w:
        n = robot.n
        for k in range(1000):
            t = k * 2_000_000
            q = np.sin(np.arange(n) + k * 0.01)
            w.write("/joint_states", joint_state_msg(t, robot.names, q, q * 0, q * 2), t)
            w.write("/policy/torque_request", joint_state_msg(t, robot.names, effort=q), t)
            w.write("/effort_controller/commands", float64_array_msg(q), t)
            if k % 500 == 250:
                w.write("/safety/events", string_msg(json.dumps({"type": "torque_limit"})), t)
        for cam in CAMERAS:
            for i in range(60):
                t = int(i * 1e9 / 30)
                w.write(f"/{cam}/image_raw", image_msg(t, cam, _frame(i)), t)
        w.finish({"success": True, "note": "test"})


def test_every_design_topic_has_a_resolvable_schema():
    for ros_type in set(TOPIC_TYPES.values()):
        text = schema_text(ros_type)
        assert text.strip()
    assert "MSG: std_msgs/Header" in schema_text("sensor_msgs/msg/Image")
    with pytest.raises(MessageDefinitionError, match="no definition"):
        schema_text("sensor_msgs/msg/NoSuchThing")


def test_two_independent_readers_read_the_same_episode(tmp_path, robot):
    path = tmp_path / "ep.mcap"
    write_two_seconds(path, robot)

    ep = read_episode(path)  # mcap + mcap-ros2-support
    assert ep.metadata["task"] == "pick_place" and ep.metadata["outcome"]["success"] is True
    assert ep.joint_names == list(robot.names)
    assert ep.position.shape == (1000, robot.n) and ep.command.shape == (1000, robot.n)
    assert np.allclose(np.diff(ep.t), 0.002)
    for cam in CAMERAS:
        t, frames = ep.images[cam]
        assert frames.shape == (60, 96, 96, 3)
        np.testing.assert_array_equal(frames[7], _frame(7))
    assert ep.events == [{"type": "torque_limit"}, {"type": "torque_limit"}]

    with AnyReader([Path(path)]) as reader:  # rosbags, its own CDR decoder
        conns = {c.topic: c for c in reader.connections}
        assert {c.topic: c.msgtype for c in reader.connections} == {
            t: TOPIC_TYPES[t] for t in conns}
        assert conns["/joint_states"].msgcount == 1000
        assert conns["/head_camera/image_raw"].msgcount == 60
        assert conns[METADATA_TOPIC].msgcount == 2
        cam_conn = [conns["/left_wrist_camera/image_raw"]]
        for k, (conn, _t, raw) in enumerate(reader.messages(connections=cam_conn)):
            msg = reader.deserialize(raw, conn.msgtype)
            assert msg.encoding == "rgb8" and (msg.height, msg.width) == (96, 96)
            if k == 5:
                np.testing.assert_array_equal(np.asarray(msg.data).reshape(96, 96, 3), _frame(5))
        last = None
        for conn, _t, raw in reader.messages(connections=[conns[METADATA_TOPIC]]):
            last = json.loads(reader.deserialize(raw, conn.msgtype).data)
        assert last["outcome"] == {"success": True, "note": "test"}


WRITER = textwrap.dedent("""
    import sys, numpy as np
    from humanoid_manip.data.episode import EpisodeWriter, image_msg, joint_state_msg
    names = [f"j{i}" for i in range(48)]
    w = EpisodeWriter(sys.argv[1], {"task": "t"})
    k = 0
    while True:
        t = k * 2_000_000
        w.write("/joint_states", joint_state_msg(t, names, np.zeros(48)), t)
        if k % 16 == 0:
            frame = np.zeros((96, 96, 3), np.uint8)
            w.write("/head_camera/image_raw", image_msg(t, "c", frame), t)
        if k == 400:
            print("running", flush=True)
        k += 1
""")


def test_a_killed_writer_leaves_a_recoverable_file(tmp_path):
    path = tmp_path / "killed.mcap"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "running"
    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    size = path.stat().st_size
    with pytest.raises(EpisodeFileError, match="recover"):
        read_episode(path)

    out = subprocess.run([sys.executable, "-m", "humanoid_manip", "data", "recover", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    recovered = tmp_path / "killed.recovered.mcap"
    assert path.stat().st_size == size  # the original is untouched
    ep = read_episode(recovered)
    assert len(ep.t) > 400 and np.all(np.diff(ep.t) > 0)
    with AnyReader([recovered]) as reader:
        assert {c.topic for c in reader.connections} >= {"/joint_states", METADATA_TOPIC}

    # a second recover never replaces the first, nor a complete episode, without --force
    recovered_bytes = recovered.read_bytes()
    with pytest.raises(EpisodeFileError, match="exists"):
        recover(path)
    other = tmp_path / "complete.mcap"
    other.write_bytes(b"a complete episode")
    with pytest.raises(EpisodeFileError, match="exists"):
        recover(path, other)
    assert other.read_bytes() == b"a complete episode"
    assert recovered.read_bytes() == recovered_bytes
    assert recover(path, other, force=True)[0] == other
    assert read_episode(other).t.size == ep.t.size
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "complete.mcap", "killed.mcap", "killed.recovered.mcap"]  # no partial file


def test_recover_refuses_nonsense(tmp_path):
    junk = tmp_path / "junk.mcap"
    junk.write_bytes(b"not an mcap file at all")
    with pytest.raises(EpisodeFileError):
        recover(junk)
    with pytest.raises(EpisodeFileError, match="not found"):
        read_episode(tmp_path / "missing.mcap")
