"""config/stack.yaml → the nodes of a stack with resolved parameters, for launch files and `up`."""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from humanoid_manip import paths
from humanoid_manip.config import load_yaml
from humanoid_manip.errors import ConfigError, UnknownNameError
from humanoid_manip.ros_description import urdf_path

PACKAGE = "humanoid_manip"
ARG_REF = re.compile(r"^\$\(arg ([A-Za-z_][A-Za-z0-9_]*)\)$")
ROBOT_DESCRIPTION = "$(robot_description)"
NODE_KEYS = ("name", "package", "executable", "parameters", "if")
ARG_TYPES = (bool, int, float, str)  # launch_ros ParameterValue value types


@dataclass(frozen=True)
class Argument:
    name: str
    default: bool | int | float | str
    description: str = ""

    @property
    def type(self) -> type:
        return type(self.default)

    def parse(self, text: str):
        """A command-line string as this argument's type (as ROS would read it, via YAML)."""
        if self.type is str:
            return text
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = None
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not self.type:
            raise ConfigError(f"argument {self.name}: {text!r} is not a "
                              f"{self.type.__name__} (default {self.default!r})")
        return value

    def text(self, value) -> str:
        """A typed value as a launch-argument string."""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)


@dataclass(frozen=True)
class ArgRef:
    """A parameter whose value is a launch argument's."""

    arg: str


@dataclass(frozen=True)
class DescriptionRef:
    """A parameter whose value is the robot's URDF text (the file config/robot.yaml names), as
    robot_state_publisher takes it; read when the stack is resolved."""

    def read(self) -> str:
        return urdf_path().read_text()


@dataclass(frozen=True)
class NodeSpec:
    name: str
    executable: str
    parameters: dict[str, object]  # literal value, ArgRef or DescriptionRef
    package: str = PACKAGE  # another package's node is started by ros2 launch, or by `up` if
    # a sourced ROS 2 install has its executable
    condition: str | None = None  # a bool argument: the node runs only when it is true

    @property
    def module(self) -> str:
        return f"{PACKAGE}.nodes.{self.executable}"


@dataclass(frozen=True)
class Stack:
    name: str
    description: str
    arguments: tuple[Argument, ...]
    nodes: tuple[NodeSpec, ...]
    source: Path = field(default=Path("config/stack.yaml"))

    def argument(self, name: str) -> Argument:
        for a in self.arguments:
            if a.name == name:
                return a
        raise UnknownNameError("stack argument", name, [a.name for a in self.arguments])


@dataclass(frozen=True)
class ResolvedNode:
    """A node as it will run: executable, ROS name, namespace and typed parameters."""

    name: str
    executable: str
    namespace: str
    parameters: dict[str, object]
    package: str = PACKAGE

    @property
    def module(self) -> str:
        return f"{PACKAGE}.nodes.{self.executable}"

    @property
    def own(self) -> bool:
        """One of this package's Python nodes (else another package's executable)."""
        return self.package == PACKAGE

    def describe(self) -> str:
        """One line for a plan: what runs, and the parameters (long texts as their size)."""
        what = self.module if self.own else f"{self.package}/{self.executable}"
        shown = " ".join(f"{k}=<{len(v)} characters>" if isinstance(v, str) and len(v) > 80
                         else f"{k}={v!r}" for k, v in self.parameters.items())
        return f"{what}  {shown}"


def stack_names(path: str | os.PathLike | None = None) -> list[str]:
    return list(_read(path)[2])


def _read(path) -> tuple[Path, dict, dict]:
    p = Path(path) if path else paths.config_path("stack.yaml")
    data = load_yaml(p)
    if set(data) != {"arguments", "stacks"}:
        raise ConfigError(f"{p}: needs exactly the keys 'arguments' and 'stacks', has "
                          f"{sorted(data)}")
    if not isinstance(data["stacks"], dict) or not isinstance(data["arguments"], dict):
        raise ConfigError(f"{p}: 'arguments' and 'stacks' must be mappings")
    return p, data["arguments"], data["stacks"]


def load_stack(name: str, path: str | os.PathLike | None = None) -> Stack:
    """One stack of config/stack.yaml; its argument defaults include the stack's `defaults`."""
    p, args_cfg, stacks = _read(path)
    if name not in stacks:
        raise UnknownNameError("stack", name, stacks)
    s = stacks[name] or {}
    unknown = set(s) - {"description", "defaults", "nodes"}
    if unknown:
        raise ConfigError(f"{p}: stack {name}: unknown key(s) {sorted(unknown)}; valid: "
                          "description, defaults, nodes")
    defaults = s.get("defaults") or {}
    arguments = []
    for a_name, a in args_cfg.items():
        if not isinstance(a, dict) or "default" not in a or set(a) - {"default", "description"}:
            raise ConfigError(f"{p}: argument {a_name} needs 'default' (and 'description')")
        default = defaults.get(a_name, a["default"])
        if type(default) not in ARG_TYPES:
            raise ConfigError(f"{p}: argument {a_name}: default {default!r} must be a bool, "
                              "int, float or string")
        if a_name in defaults and type(default) is not type(a["default"]):
            raise ConfigError(f"{p}: stack {name}: default {a_name}={default!r} has another type "
                              f"than the argument's ({a['default']!r})")
        arguments.append(Argument(a_name, default, str(a.get("description", ""))))
    unknown = set(defaults) - set(args_cfg)
    if unknown:
        raise UnknownNameError(f"argument (in stack {name} defaults)", sorted(unknown)[0],
                               args_cfg)
    for required in ("namespace", "use_sim_time"):
        if required not in args_cfg:
            raise ConfigError(f"{p}: argument {required!r} must be declared")
    nodes = []
    for i, n in enumerate(s.get("nodes") or []):
        where = f"{p}: stack {name} node {i}"
        if not isinstance(n, dict) or set(n) - set(NODE_KEYS) or "executable" not in n:
            raise ConfigError(f"{where}: needs executable (and {', '.join(NODE_KEYS)}), "
                              f"got {n!r}")
        params = {}
        for k, v in (n.get("parameters") or {}).items():
            m = ARG_REF.match(v) if isinstance(v, str) else None
            if m:
                if m.group(1) not in args_cfg:
                    raise UnknownNameError(f"argument (in {where})", m.group(1), args_cfg)
                params[k] = ArgRef(m.group(1))
            elif v == ROBOT_DESCRIPTION:
                params[k] = DescriptionRef()
            elif type(v) in ARG_TYPES:
                params[k] = v
            else:
                raise ConfigError(f"{where}: parameter {k}={v!r} must be a scalar, $(arg x) or "
                                  f"{ROBOT_DESCRIPTION}")
        params["use_sim_time"] = ArgRef("use_sim_time")
        condition = None
        if "if" in n:
            m = ARG_REF.match(n["if"]) if isinstance(n["if"], str) else None
            if not m or not isinstance(args_cfg.get(m.group(1), {}).get("default"), bool):
                raise ConfigError(f"{where}: 'if' must be $(arg NAME) of a bool argument, got "
                                  f"{n['if']!r}")
            condition = m.group(1)
        nodes.append(NodeSpec(str(n.get("name", n["executable"])), str(n["executable"]), params,
                              str(n.get("package", PACKAGE)), condition))
    return Stack(name, str(s.get("description", "")), tuple(arguments), tuple(nodes), p)


def resolve(stack: Stack, values: dict[str, object] | None = None) -> list[ResolvedNode]:
    """The nodes whose `if` holds, every $(arg) replaced by `values` (typed) or the argument's
    default and $(robot_description) by the URDF's text."""
    values = dict(values or {})
    for k in values:
        stack.argument(k)  # unknown names fail with the valid list
    args = {a.name: values.get(a.name, a.default) for a in stack.arguments}
    ns = str(args["namespace"])
    out = []
    for n in stack.nodes:
        if n.condition is not None and not args[n.condition]:
            continue
        params = {k: args[v.arg] if isinstance(v, ArgRef) else
                  v.read() if isinstance(v, DescriptionRef) else v
                  for k, v in n.parameters.items()}
        out.append(ResolvedNode(n.name, n.executable, ns, params, n.package))
    return out


def executable_path(node: ResolvedNode) -> Path | None:
    """Another package's executable as `ros2 run` finds it (<prefix>/lib/<package>/<name> on
    AMENT_PREFIX_PATH, i.e. a sourced ROS 2 install), or None where it is not installed."""
    for prefix in filter(None, os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)):
        p = Path(prefix) / "lib" / node.package / node.executable
        if p.is_file() and os.access(p, os.X_OK):
            return p
    return None


def node_command(node: ResolvedNode, params_file: str | os.PathLike) -> list[str]:
    """The child-process command line `up` runs for a node."""
    if not node.own:
        exe = executable_path(node)
        if exe is None:
            raise ConfigError(f"{node.package}/{node.executable} is not installed here (a "
                              "ROS 2 install provides it)")
        return [str(exe), "--ros-args", "-r", f"__node:={node.name}", "--params-file",
                str(params_file)] + _namespace_args(node)
    cmd = [sys.executable, "-m", node.module, "--ros-args", "-r", f"__node:={node.name}",
           "--params-file", str(params_file)]
    return cmd + _namespace_args(node)


def _namespace_args(node: ResolvedNode) -> list[str]:
    cmd = []
    if node.namespace:
        ns = node.namespace if node.namespace.startswith("/") else f"/{node.namespace}"
        cmd += ["-r", f"__ns:={ns}"]
    return cmd


def params_yaml(node: ResolvedNode) -> str:
    """A ROS 2 parameters file for one node (wildcard node name, so remapping cannot miss it)."""
    return yaml.safe_dump({"/**": {"ros__parameters": dict(node.parameters)}},
                          default_flow_style=False)
