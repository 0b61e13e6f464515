"""The viewer: forward kinematics against MuJoCo, and `data view --save` writing an .rrd that
`rerun rrd verify` accepts, read back entity by entity (robot, cameras, named series, events)."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import mujoco
import numpy as np
import pyarrow as pa
import pytest
from rerun.chunk import RrdReader

from humanoid_manip.cli import main
from humanoid_manip.data.cdr import float64_array_cdr, image_cdr, joint_state_cdr
from humanoid_manip.data.episode import EpisodeWriter, string_msg
from humanoid_manip.data.schema import episode_metadata
from humanoid_manip.robot import RobotIndex
from humanoid_manip.viz import rerun_log, sinks
from humanoid_manip.viz.kinematics import load_kinematics
from humanoid_manip.viz.live import LiveView

RERUN = Path(sys.executable).with_name("rerun")
EVENTS = [(0.2, {"time": 0.2, "type": "torque_limit", "reason": "clipped", "mode": "ACTIVE",
                 "joints": ["left_elbow"], "values": {}}),
          (0.4, {"time": 0.4, "type": "estop", "reason": "e-stop pressed", "mode": "STOPPING",
                 "joints": [], "values": {}})]


def rrd_contents(path) -> dict[str, dict[str, list]]:
    """entity path -> column name -> all values (times in ns), over every chunk."""
    out: dict[str, dict[str, list]] = {}
    for chunk in RrdReader(path).stream():
        batch = chunk.to_record_batch()
        cols = out.setdefault(chunk.entity_path, {})
        for name in batch.schema.names:
            col = batch.column(name)
            if pa.types.is_temporal(col.type):
                col = col.cast(pa.int64())
            cols.setdefault(name, []).extend(col.to_pylist())
    return out


@pytest.fixture(scope="module")
def episode(tmp_path_factory, robot):
    """0.5 s: joint states, requests and applied torques at 100 Hz, three cameras at 30 Hz,
    a torque-limit event and an e-stop."""
    path = tmp_path_factory.mktemp("view") / "ep.mcap"
    rng = np.random.default_rng(0)
    meta = episode_metadata("pick_place", 7, {"type": "expert", "name": "test"}, sim=True,
                            robot=robot)
    with EpisodeWriter(path, meta) as w:
        for k in range(51):
            t_ns = k * 10_000_000
            q = robot.home + 0.2 * np.sin(k / 10 + np.arange(robot.n))
            w.write_cdr("/joint_states", joint_state_cdr(t_ns, robot.names, q, q * 0.1, q),
                        t_ns)
            w.write_cdr("/policy/torque_request",
                        joint_state_cdr(t_ns, robot.names, effort=q * 2), t_ns)
            w.write_cdr("/effort_controller/commands", float64_array_cdr(q * 3), t_ns)
            if k % 3 == 0:
                for cam in robot.camera_names:
                    frame = rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)
                    w.write_cdr(f"/{cam}/image_raw", image_cdr(t_ns, cam, frame), t_ns)
        for t, e in EVENTS:
            w.write("/safety/events", string_msg(json.dumps(e)), int(t * 1e9))
        w.finish({"success": True, "progress": 0.75})
    return path


def test_forward_kinematics_matches_mujoco(robot, robot_model):
    kin = load_kinematics(robot.urdf_path)
    data = mujoco.MjData(robot_model)
    idx = RobotIndex.of(robot_model, robot)
    q = np.random.default_rng(1).uniform(robot.lower, robot.upper, (4, robot.n))
    poses = kin.link_poses(robot.names, q)
    checked = 0
    for i in range(len(q)):
        data.qpos[idx.qpos] = q[i]
        mujoco.mj_kinematics(robot_model, data)
        for link, (p, r) in poses.items():
            body = mujoco.mj_name2id(robot_model, mujoco.mjtObj.mjOBJ_BODY, link)
            if body < 0:
                continue
            np.testing.assert_allclose(p[i], data.xpos[body], atol=1e-9)
            np.testing.assert_allclose(r[i], data.xmat[body].reshape(3, 3), atol=1e-9)
            checked += 1
    assert checked >= 4 * 60  # every link MuJoCo keeps as a body
    assert sum(len(v) for v in kin.visuals.values()) > 40  # the robot has shapes to draw


def test_data_view_saves_an_rrd_that_rerun_verifies(episode, tmp_path, robot, capsys):
    out = tmp_path / "x.rrd"
    assert main(["data", "view", str(episode), "--save", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "51 joint states" in printed and "2 safety events" in printed and str(out) in printed
    assert RERUN.is_file()
    verify = subprocess.run([str(RERUN), "rrd", "verify", str(out)], capture_output=True,
                            text=True, timeout=120)
    assert verify.returncode == 0, verify.stderr
    assert list(tmp_path.iterdir()) == [out]  # no partial file left beside it

    rrd = rrd_contents(out)
    # the 3D robot: every link posed at every joint state, the shapes static
    kin = load_kinematics(robot.urdf_path)
    for link in kin.links:
        assert len(rrd[f"/world/robot/{link}"]["Transform3D:translation"]) == 51, link
    shapes = {"box": "boxes", "cylinder": "cylinders", "sphere": "spheres"}
    for link, visuals in kin.visuals.items():
        for kind in {v.kind for v in visuals}:
            drawn = rrd[f"/world/robot/{link}/visual/{shapes[kind]}"]
            assert any(k.endswith(":centers") for k in drawn), (link, kind)
    elbow = rrd["/world/robot/left_forearm_link"]["Transform3D:translation"]
    assert np.ptp(np.asarray(elbow), axis=0).max() > 0.01  # it moves
    # three cameras: a pinhole each and all 17 frames
    for cam in robot.camera_names:
        entity = rrd["/" + rerun_log.camera_path(robot, cam)]
        assert len([b for b in entity["Image:buffer"] if b]) == 17
        assert entity["Pinhole:image_from_camera"]
    # named series for every joint, four quantities, one plot per group
    for quantity in rerun_log.QUANTITIES:
        for group, names in robot.groups.items():
            entity = rrd[f"/joints/{quantity}/{group}"]
            assert entity["SeriesLines:names"][0] == list(names)
            assert len(entity["time"]) == 51
    # safety events on the timeline, and the outcome
    events = rrd["/safety/events"]
    assert np.asarray(events["time"]) * 1e-9 == pytest.approx([0.2, 0.4])
    assert events["TextLog:level"] == [["WARN"], ["ERROR"]]
    assert "left_elbow" in events["TextLog:text"][0][0]
    assert rrd["/task/progress"]["Scalars:scalars"][-1] == [0.75]
    assert "success" in rrd["/task/outcome"]["TextLog:text"][0][0]


def test_data_view_refuses_to_overwrite_and_cleans_up(episode, tmp_path, capsys):
    out = tmp_path / "x.rrd"
    out.write_text("keep me")
    assert main(["data", "view", str(episode), "--save", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert out.read_text() == "keep me"
    assert main(["data", "view", str(episode), "--save", str(out), "--force"]) == 0
    assert out.stat().st_size > 10_000
    # no display, no --web, no --save: told what to do, nothing written
    env_display = {k: None for k in ("DISPLAY", "WAYLAND_DISPLAY")}
    with pytest.MonkeyPatch.context() as mp:
        for k in env_display:
            mp.delenv(k, raising=False)
        assert main(["data", "view", str(episode)]) == 2
    assert "use --web" in capsys.readouterr().err


def test_live_view_thins_buffers_and_flushes_in_columns(robot, tmp_path):
    kin = load_kinematics(robot.urdf_path)
    rec = sinks.new_recording("live-test")
    rrd = sinks.RrdFile(rec, tmp_path / "live.rrd")
    view = LiveView(rec, robot, kin, rate_hz=50.0)
    for k in range(500):  # 1 s of 500 Hz joint states
        view.joint_state(k * 0.002, robot.home, np.zeros(robot.n))
        view.command(k * 0.002, np.ones(robot.n))
    for k in range(30):
        view.image("head_camera", k / 30, np.full((96, 96, 3), k, np.uint8))
    view.safety_event(0.5, EVENTS[1][1])
    view.palm_target("left", 0.5, [0.4, 0.2, 1.0], [1.0, 0.0, 0.0, 0.0])
    view.deadman(0.5, True)
    view.task_status(0.6, 0.3)
    view.flush()
    view.joint_state(0.0, robot.home, np.zeros(robot.n))  # a new episode: its clock restarts
    view.flush()
    rrd.commit()
    assert view.counts["joint_states"] == 51 and view.counts["frames"] == 30
    got = rrd_contents(tmp_path / "live.rrd")
    assert len(got["/world/robot/left_forearm_link"]["Transform3D:translation"]) == 51
    assert len(got["/joints/torque_applied/left_arm"]["time"]) == 50
    assert len(got["/world/teleop/left_palm_target"]["Transform3D:translation"]) == 1
    assert got["/teleop/deadman"]["Scalars:scalars"] == [[1.0]]
    assert got["/safety/events"]["TextLog:level"] == [["ERROR"]]


@pytest.mark.skipif(shutil.which("rerun") is None and not RERUN.is_file(),
                    reason="the rerun CLI (rerun-sdk) is not installed")
def test_rrd_verify_rejects_a_broken_file(tmp_path):
    """The check above could fail: a truncated recording is refused."""
    bad = tmp_path / "bad.rrd"
    rec = sinks.new_recording("bad")
    f = sinks.RrdFile(rec, tmp_path / "good.rrd")
    rec.log("x", __import__("rerun").Scalars(1.0))
    f.commit()
    bad.write_bytes((tmp_path / "good.rrd").read_bytes()[:-40])
    verify = subprocess.run([str(RERUN), "rrd", "verify", str(bad)], capture_output=True,
                            timeout=60)
    assert verify.returncode != 0
