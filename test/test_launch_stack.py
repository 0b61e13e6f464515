"""Launch files and `humanoid-manip up` start the same executables with the same parameters.

The ROS 2 launch packages cannot be installed from PyPI, so the launch files cannot run here.
This test imports them with small stand-ins for `launch` and `launch_ros` put in sys.modules
only for the duration of the test (a harness for an uninstallable framework, not a mock of
something that runs here): they record the DeclareLaunchArgument and Node calls, and the
test evaluates the LaunchConfiguration substitutions the way ros2 launch would.
"""
import ast
import importlib.metadata
import importlib.util
import sys
import types
from pathlib import Path

import pytest
import yaml

from humanoid_manip import paths
from humanoid_manip.stack import load_stack, node_command, params_yaml, resolve, stack_names

LAUNCH_DIR = Path(__file__).resolve().parents[1] / "launch"
STANDARD_API = {
    "launch": {"LaunchDescription"},
    "launch.actions": {"DeclareLaunchArgument"},
    "launch.substitutions": {"LaunchConfiguration"},
    "launch_ros.actions": {"Node"},
    "launch_ros.parameter_descriptions": {"ParameterValue"},
    "humanoid_manip.stack": {"PACKAGE", "ArgRef", "load_stack"},
}


class _Recorded:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


def _harness(monkeypatch):
    """Stand-in launch/launch_ros modules recording what a launch file builds."""
    classes = {}
    for mod_name, names in STANDARD_API.items():
        if mod_name.startswith("humanoid_manip"):
            continue
        parts = mod_name.split(".")
        for i in range(1, len(parts) + 1):
            name = ".".join(parts[:i])
            if name not in sys.modules or not getattr(sys.modules[name], "_harness", False):
                m = types.ModuleType(name)
                m._harness = True
                m.__path__ = []
                monkeypatch.setitem(sys.modules, name, m)
        for cls in names:
            recorded = type(cls, (_Recorded,), {})
            setattr(sys.modules[mod_name], cls, recorded)
            classes[cls] = recorded
    return classes


def _import_launch_file(path: Path, monkeypatch):
    _harness(monkeypatch)
    spec = importlib.util.spec_from_file_location(f"_launch_{path.stem.split('.')[0]}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


def _evaluate(description, overrides: dict[str, str]):
    """What ros2 launch would start: [(executable, name, namespace, parameters)]."""
    actions = description.args[0]
    declared = {a.args[0]: a.kwargs["default_value"] for a in actions
                if type(a).__name__ == "DeclareLaunchArgument"}
    for k in overrides:
        assert k in declared, f"launch file does not declare argument {k}"
    config = {**declared, **overrides}

    def value(v):
        if type(v).__name__ == "ParameterValue":
            text = config[v.args[0].args[0]]
            vtype = v.kwargs["value_type"]
            return text if vtype is str else vtype(yaml.safe_load(text))
        if type(v).__name__ == "LaunchConfiguration":
            return config[v.args[0]]
        return v

    out = []
    for a in actions:
        if type(a).__name__ != "Node":
            continue
        kw = a.kwargs
        assert kw["package"] == "humanoid_manip"
        params = {}
        for p in kw["parameters"]:
            params.update({k: value(v) for k, v in p.items()})
        out.append((kw["executable"], kw["name"], value(kw["namespace"]), params))
    return out


def _up(stack_name, overrides: dict[str, str]):
    """What `humanoid-manip up` would start, read back from its command lines and files."""
    stack = load_stack(stack_name)
    typed = {k: stack.argument(k).parse(v) for k, v in overrides.items()}
    out = []
    for node in resolve(stack, typed):
        cmd = node_command(node, "/tmp/p.yaml")
        assert cmd[1:3] == ["-m", f"humanoid_manip.nodes.{node.executable}"]
        params = yaml.safe_load(params_yaml(node))["/**"]["ros__parameters"]
        out.append((node.executable, node.name, node.namespace, params))
    return out


@pytest.mark.parametrize("stack", ["sim", "hardware", "teleop"])
@pytest.mark.parametrize("overrides", [
    {},
    {"policy": "/data/policy.onnx", "seed": "7", "namespace": "robot1",
     "use_sim_time": "false", "real_time_factor": "0.5", "task": "pick_place"},
])
def test_launch_file_and_up_start_the_same_nodes(stack, overrides, monkeypatch):
    description = _import_launch_file(LAUNCH_DIR / f"{stack}.launch.py", monkeypatch)
    launched = _evaluate(description, overrides)
    assert launched == _up(stack, overrides)
    for _, _, _, params in launched:
        assert all(type(v) in (bool, int, float, str) for v in params.values())


def test_sim_stack_runs_sim_policy_and_monitor_on_sim_time(monkeypatch):
    launched = _evaluate(_import_launch_file(LAUNCH_DIR / "sim.launch.py", monkeypatch), {})
    assert [n[0] for n in launched] == ["sim_node", "policy_node", "safety_monitor_node"]
    assert all(n[3]["use_sim_time"] is True for n in launched)
    hw = _evaluate(_import_launch_file(LAUNCH_DIR / "hardware.launch.py", monkeypatch), {})
    assert [n[0] for n in hw] == ["policy_node", "safety_monitor_node"]
    assert all(n[3]["use_sim_time"] is False for n in hw)


def test_every_stack_has_a_launch_file_using_only_the_standard_api():
    assert sorted(stack_names()) == sorted(p.name.split(".")[0]
                                           for p in LAUNCH_DIR.glob("*.launch.py"))
    for path in LAUNCH_DIR.glob("*.launch.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                pytest.fail(f"{path.name}: plain import {ast.unparse(node)}")
            if isinstance(node, ast.ImportFrom):
                assert node.module in STANDARD_API, f"{path.name} imports {node.module}"
                assert {a.name for a in node.names} <= STANDARD_API[node.module]
        assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description"
                   for n in tree.body)


def test_every_executable_is_a_console_script_of_its_module():
    scripts = {e.name: e.value for e in importlib.metadata.entry_points(group="console_scripts")
               if e.value.startswith("humanoid_manip.nodes.")}
    for name in stack_names():
        for node in load_stack(name).nodes:
            if node.executable == "safety_monitor_node" and node.executable not in scripts:
                continue  # registered by the safety monitor's own change
            assert scripts.get(node.executable) == f"{node.module}:main", node.executable


def test_ros2_controllers_declare_the_broadcaster_and_an_effort_controller_over_all_joints(robot):
    cfg = yaml.safe_load(paths.config_path("ros2_controllers.yaml").read_text())
    cm = cfg["controller_manager"]["ros__parameters"]
    assert cm["joint_state_broadcaster"]["type"] == \
        "joint_state_broadcaster/JointStateBroadcaster"
    assert cm["effort_controller"]["type"] == \
        "forward_command_controller/ForwardCommandController"
    assert cm["update_rate"] >= robot.rates.safety_hz
    ec = cfg["effort_controller"]["ros__parameters"]
    assert ec["interface_name"] == "effort"
    assert tuple(ec["joints"]) == robot.names  # canonical order: every arm, hand, head joint


def test_stack_arguments_are_typed_and_checked():
    from humanoid_manip.errors import ConfigError, UnknownNameError

    stack = load_stack("sim")
    assert stack.argument("seed").parse("3") == 3
    assert stack.argument("real_time_factor").parse("2") == 2.0
    assert stack.argument("use_sim_time").parse("false") is False
    with pytest.raises(ConfigError, match="not a int"):
        stack.argument("seed").parse("three")
    with pytest.raises(UnknownNameError, match="valid: .*policy"):
        resolve(stack, {"polcy": "x"})
    with pytest.raises(UnknownNameError, match="hardware, sim, teleop"):
        load_stack("real")


def test_up_prints_the_plan_and_an_empty_stack_says_so(capsys):
    from humanoid_manip.cli import main

    assert main(["up", "sim", "--print", "--seed", "5", "--arg", "namespace:=r1"]) == 0
    out = capsys.readouterr().out
    assert "humanoid_manip.nodes.sim_node" in out and "seed=5" in out
    assert "__ns:=/r1" in out
    assert main(["up", "teleop", "--print", "--arg", "operator:=ana"]) == 0
    out = capsys.readouterr().out
    assert "humanoid_manip.nodes.teleop_node" in out and "operator='ana'" in out
    assert main(["up", "sim", "--seed", "x", "--print"]) == 2


def test_only_the_sim_stack_can_arm_the_monitor_at_start():
    """`up sim --enable` arms the monitor for demos; hardware always needs an operator."""
    monitor = {n.name: n for n in resolve(load_stack("sim"), {"enable": True})}["safety_monitor"]
    assert monitor.parameters["enable_on_start"] is True
    monitor = {n.name: n for n in resolve(load_stack("sim"))}["safety_monitor"]
    assert monitor.parameters["enable_on_start"] is False
    for node in resolve(load_stack("hardware")):
        assert "enable_on_start" not in node.parameters
