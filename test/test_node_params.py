"""Bad node parameters, table-driven: each node refuses them at start with one line naming the
parameter (exit status 1), never a traceback and never a node that runs on nonsense.

view_node's own cases are in test_view_node.py; the teleop drivers' belong with them.
"""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CASES = [  # node, parameter, a word the error must contain
    ("sim_node", "seed:=abc", "seed"),  # wrong type: rclpy's own check, one line
    ("sim_node", "seed:=-3", "seed"),
    ("sim_node", "task:=no_such_task", "unknown task"),
    ("sim_node", "real_time_factor:=-1.0", "real_time_factor"),
    ("sim_node", "real_time_factor:=.nan", "real_time_factor"),
    ("sim_node", "lockstep_timeout_s:=-1.0", "lockstep_timeout_s"),
    ("sim_node", "diagnostics_period_s:=0.0", "diagnostics_period_s"),
    ("policy_node", "model:=/nonexistent/policy.onnx", "not found"),
    ("policy_node", "rate_hz:=abc", "rate_hz"),
    ("policy_node", "rate_hz:=.nan", "rate_hz"),
    ("policy_node", "threads:=-1", "threads"),
    ("safety_monitor_node", "rate_hz:=-5.0", "rate_hz"),
    ("safety_monitor_node", "graph_check_hz:=0.0", "graph_check_hz"),
    ("safety_monitor_node", "safety_config:=/nonexistent.yaml", "nonexistent"),
]


@pytest.mark.parametrize("node, param, word", CASES, ids=[f"{n} {p}" for n, p, _ in CASES])
def test_bad_parameter_is_one_line_and_exit_1(node, param, word):
    proc = subprocess.run([sys.executable, "-m", f"humanoid_manip.nodes.{node}", "--ros-args",
                           "-p", param], cwd=ROOT, capture_output=True, text=True, timeout=90)
    output = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 1, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if ": error: " in line]
    assert len(errors) == 1 and word in errors[0], output
