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

PACKAGE = "humanoid_manip"
ARG_REF = re.compile(r"^\$\(arg ([A-Za-z_][A-Za-z0-9_]*)\)$")
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
class NodeSpec:
    name: str
    executable: str
    parameters: dict[str, object]  # literal value or ArgRef

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

    @property
    def module(self) -> str:
        return f"{PACKAGE}.nodes.{self.executable}"


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
        if not isinstance(n, dict) or set(n) - {"name", "executable", "parameters"} \
                or "executable" not in n:
            raise ConfigError(f"{where}: needs executable (and name, parameters), got {n!r}")
        params = {}
        for k, v in (n.get("parameters") or {}).items():
            m = ARG_REF.match(v) if isinstance(v, str) else None
            if m:
                if m.group(1) not in args_cfg:
                    raise UnknownNameError(f"argument (in {where})", m.group(1), args_cfg)
                params[k] = ArgRef(m.group(1))
            elif type(v) in ARG_TYPES:
                params[k] = v
            else:
                raise ConfigError(f"{where}: parameter {k}={v!r} must be a scalar or $(arg x)")
        params["use_sim_time"] = ArgRef("use_sim_time")
        nodes.append(NodeSpec(str(n.get("name", n["executable"])), str(n["executable"]), params))
    return Stack(name, str(s.get("description", "")), tuple(arguments), tuple(nodes), p)


def resolve(stack: Stack, values: dict[str, object] | None = None) -> list[ResolvedNode]:
    """The nodes with every $(arg) replaced by `values` (typed) or the argument's default."""
    values = dict(values or {})
    for k in values:
        stack.argument(k)  # unknown names fail with the valid list
    args = {a.name: values.get(a.name, a.default) for a in stack.arguments}
    ns = str(args["namespace"])
    out = []
    for n in stack.nodes:
        params = {k: args[v.arg] if isinstance(v, ArgRef) else v
                  for k, v in n.parameters.items()}
        out.append(ResolvedNode(n.name, n.executable, ns, params))
    return out


def node_command(node: ResolvedNode, params_file: str | os.PathLike) -> list[str]:
    """The child-process command line `up` runs for a node."""
    cmd = [sys.executable, "-m", node.module, "--ros-args", "-r", f"__node:={node.name}",
           "--params-file", str(params_file)]
    if node.namespace:
        ns = node.namespace if node.namespace.startswith("/") else f"/{node.namespace}"
        cmd += ["-r", f"__ns:={ns}"]
    return cmd


def params_yaml(node: ResolvedNode) -> str:
    """A ROS 2 parameters file for one node (wildcard node name, so remapping cannot miss it)."""
    return yaml.safe_dump({"/**": {"ros__parameters": dict(node.parameters)}},
                          default_flow_style=False)
