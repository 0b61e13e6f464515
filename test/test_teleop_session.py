"""A live teleop session over DDS, as an operator runs it, on a machine whose cores are busy:
`humanoid-manip teleop --device replay` (sim, teleop, safety monitor and recorder nodes, and the
replay driver) while another process keeps both cores loaded; the recorded episode must pass
`data validate`: the replay reproduces the motion, the outcome and the first camera frames."""
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from humanoid_manip.control import WristIK
from humanoid_manip.data.episode import read_episode
from humanoid_manip.data.validate import validate
from humanoid_manip.teleop import synthetic
from humanoid_manip.teleop.replay import write_hand_stream
from humanoid_manip.teleop.types import HandSample, TeleopInput

pytestmark = pytest.mark.slow
# Both cores busy for the whole session: the nodes get what the scheduler leaves them.
LOAD = ("import multiprocessing as mp\n"
        "def spin(_):\n"
        "    while True:\n"
        "        pass\n"
        "if __name__ == '__main__':\n"
        "    mp.Pool(2).map(spin, range(2))\n")


def hand_stream(path, robot):
    """0.3 s released, then the deadman held, the right palm moving 6 cm forward and closing."""
    pos, quat = WristIK(robot).palm_pose("right")
    frames = []
    for k in range(int(2.0 * 30)):
        t = k / 30
        s = min(1.0, max(0.0, (t - 0.3) / 1.2))
        kp = synthetic.keypoints(synthetic.FIST if t > 1.2 else synthetic.OPEN, "right")
        frames.append(TeleopInput(t, {"right": HandSample(pos + [0.06 * s, 0, 0], quat, kp)},
                                  deadman=t >= 0.3))
    return write_hand_stream(path, frames)


def test_a_session_on_busy_cores_records_an_episode_that_validates(robot, tmp_path):
    stream = hand_stream(tmp_path / "stream.jsonl", robot)
    out = tmp_path / "episodes"
    load = subprocess.Popen([sys.executable, "-c", LOAD], start_new_session=True)
    try:
        # its own process group: a hung session is ended whole, none of its nodes outlives
        # the test to publish into the next one
        session = subprocess.Popen(
            [sys.executable, "-m", "humanoid_manip.cli", "teleop", "--device", "replay",
             str(stream), "--task", "pick_place", "--seed", "11", "--outcome", "failure",
             "--out", str(out), "--no-view"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1"))
        try:
            stdout, stderr = session.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            os.killpg(session.pid, signal.SIGKILL)
            session.communicate()
            logs = "".join(p.read_text()[-4000:] for p in (out / "logs").glob("*.log"))
            pytest.fail(f"the session did not end in 300 s; the nodes' log ends:\n{logs}")
    finally:
        os.killpg(load.pid, signal.SIGKILL)
        load.wait()
    text = stdout + stderr
    assert session.returncode == 0, text[-4000:]
    assert "Traceback" not in text, text[-4000:]
    # the nodes' logs went to a file; the terminal kept the session's own lines
    logs = list((out / "logs").glob("teleop_*.log"))
    assert len(logs) == 1 and "[sim_node            ] [INFO] task 'pick_place' seed 11" in \
        logs[0].read_text()
    assert "[INFO]" not in stdout, stdout  # (the driver logs on stderr)
    report = validate(out)
    assert len(report.episodes) == 1, text[-4000:]
    found = [(f.severity, f.check, f.message) for f in report.findings]
    assert not [f for f in found if f[0] == "error"], found
    assert not [f for f in found if f[1] in ("replay", "label", "outcome")], found

    # the recording holds every physics step from the reset, and the applied torque of each
    ep = read_episode(next(out.glob("*.mcap")), images=False)
    start = ep.metadata["start_time"]
    steps = np.round((ep.stamp - start) * robot.rates.physics_hz).astype(int)
    assert steps[0] == 0 and np.array_equal(steps, np.arange(len(steps)))
    assert np.array_equal(ep.command, ep.effort[1:])
    assert np.allclose(ep.command_t, ep.t[:-1], atol=1e-9)
    assert ep.metadata["outcome"]["success"] is False
    assert np.ptp(ep.position[:, robot.index("right_elbow")]) > 0.05, "the arm never moved"
