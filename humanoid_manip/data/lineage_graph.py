"""The lineage graph of a folder: episodes → checkpoints → evaluations → the episodes those
policies collected → the next checkpoints. Read from the manifests each artifact carries:
an episode's in its metadata, a checkpoint's or evaluation's in a JSON manifest file (or an
ONNX policy file's `lineage` metadata)."""
from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from humanoid_manip.data.lineage import KINDS, LineageError, drift_report, summarize_data_config
from humanoid_manip.data.schema import driving_policy
from humanoid_manip.errors import HumanoidManipError


@dataclass
class Node:
    """One artifact: its manifest (as a dict) and the file it came from."""

    id: str
    kind: str
    file: str
    manifest: dict[str, Any]
    parents: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)  # results beside the manifest

    @property
    def source(self) -> dict[str, Any]:
        return dict(self.manifest.get("source") or {})


@dataclass
class Graph:
    root: Path
    nodes: dict[str, Node] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def children(self, nid: str, kind: str | None = None) -> list[Node]:
        out = [n for n in self.nodes.values() if nid in n.parents]
        return sorted((n for n in out if kind is None or n.kind == kind),
                      key=lambda n: (n.manifest.get("created", 0), n.file, n.id))

    def of_kind(self, kind: str) -> list[Node]:
        return sorted((n for n in self.nodes.values() if n.kind == kind),
                      key=lambda n: (n.manifest.get("created", 0), n.file, n.id))

    def missing(self) -> list[str]:
        return sorted({p for n in self.nodes.values() for p in n.parents
                       if p not in self.nodes})

    def to_dict(self) -> dict[str, Any]:
        return {"root": str(self.root),
                "nodes": [{"id": n.id, "kind": n.kind, "file": n.file, "source": n.source,
                           "parents": n.parents} for n in sorted(self.nodes.values(),
                                                                 key=lambda n: n.id)],
                "edges": sorted([p, n.id] for n in self.nodes.values() for p in n.parents),
                "missing": self.missing(), "problems": self.problems}


def _episode_manifest(path: Path) -> dict[str, Any] | None:
    from humanoid_manip.data.inspect import episode_facts

    meta = episode_facts(path)["metadata"]
    lineage = meta.get("lineage")
    return lineage if isinstance(lineage, dict) else None


def _onnx_manifest(path: Path) -> dict[str, Any] | None:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    for prop in model.metadata_props:
        if prop.key == "lineage":
            data = json.loads(prop.value or "{}")
            return data if isinstance(data, dict) else None
    return None


def load_graph(path: str | os.PathLike) -> Graph:
    """Every manifest under a folder (episodes, JSON manifests, ONNX policies) as a graph."""
    root = Path(path)
    if not root.exists():
        raise HumanoidManipError(f"no such file or folder: {root}")
    files = [root] if root.is_file() else sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix in (".mcap", ".json", ".onnx")
        and ".cache" not in p.relative_to(root).parts)
    graph = Graph(root)
    for f in files:
        rel = str(f.relative_to(root)) if root.is_dir() else f.name
        try:
            if f.suffix == ".mcap":
                m = _episode_manifest(f)
                if m is None:
                    graph.problems.append(f"{rel}: episode without a lineage manifest")
                    continue
            elif f.suffix == ".json":
                m = json.loads(f.read_text())
                if isinstance(m, dict) and isinstance(m.get("lineage"), dict) \
                        and m["lineage"].get("kind") in KINDS:
                    # a result file (an evaluation's) with its manifest under "lineage"
                    info = {k: m[k] for k in ("task", "seeds", "success_rate") if k in m}
                    m = dict(m["lineage"])
                else:
                    info = {}
                if not isinstance(m, dict) or m.get("kind") not in KINDS or "id" not in m:
                    continue  # some other JSON file (an index, stats)
            else:
                m = _onnx_manifest(f)
                if not m or m.get("kind") not in KINDS or "id" not in m:
                    continue
        except (HumanoidManipError, OSError, ValueError) as exc:
            graph.problems.append(f"{rel}: unreadable ({exc})")
            continue
        parents = [str(p) for p in m.get("parents") or []]
        ckpt = driving_policy(m.get("source"))
        if m["kind"] == "episode" and ckpt and ckpt not in parents:
            parents.append(str(ckpt))  # a policy-collected episode descends from its policy
        nid = str(m["id"])
        if nid in graph.nodes:
            if graph.nodes[nid].manifest != m:
                graph.problems.append(f"{rel}: id {nid} also in {graph.nodes[nid].file} with "
                                      "different content")
            continue
        graph.nodes[nid] = Node(nid, m["kind"], rel, m, parents,
                                info if f.suffix == ".json" else {})
    return graph


def _source_label(n: Node) -> str:
    s = n.source
    cid = driving_policy(s)
    return f"{s['type']} {cid}" if cid else str(s.get("type", "unknown source"))


def _counts(nodes: list[Node]) -> str:
    c = Counter(_source_label(n) for n in nodes)
    return ", ".join(f"{k} {v}" for k, v in sorted(c.items()))


def _ids(nodes: list[Node], limit: int = 4) -> str:
    ids = [n.id for n in nodes]
    return ", ".join(ids[:limit]) + (f", … (+{len(ids) - limit})" if len(ids) > limit else "")


def _eval_label(n: Node) -> str:
    s = {**n.info, **n.source}
    parts = [str(s[k]) for k in ("task",) if k in s]
    if "seeds" in s:
        parts.append(f"{len(s['seeds'])} seeds")
    if "success_rate" in s:
        parts.append(f"success {float(s['success_rate']):.0%}")
    return ", ".join(parts)


def generations(graph: Graph) -> dict[str, int]:
    """Round of each checkpoint: 1 + the latest round among the policies that collected its
    training data (1 when trained on demonstrations only)."""
    gen: dict[str, int] = {}

    def of(cid: str, seen: frozenset = frozenset()) -> int:
        if cid in gen:
            return gen[cid]
        if cid in seen:
            return 0
        best = 0
        for p in graph.nodes[cid].parents:
            ep = graph.nodes.get(p)
            if ep is None:
                continue
            for q in ep.parents:
                if q in graph.nodes and graph.nodes[q].kind == "checkpoint":
                    best = max(best, of(q, seen | {cid}))
            if ep.kind == "checkpoint":  # fine-tuned from a checkpoint
                best = max(best, of(p, seen | {cid}))
        gen[cid] = best + 1
        return gen[cid]

    for n in graph.of_kind("checkpoint"):
        of(n.id)
    return gen


def format_graph(graph: Graph) -> str:
    """The graph as indented text, round by round."""
    eps, ckpts, evals = (graph.of_kind(k) for k in KINDS)
    lines = [f"lineage of {graph.root}: {len(eps)} episode(s), {len(ckpts)} checkpoint(s), "
             f"{len(evals)} evaluation(s)"]
    demos = [e for e in eps if not any(graph.nodes.get(p) and graph.nodes[p].kind
                                       == "checkpoint" for p in e.parents)]
    if demos:
        lines.append(f"demonstrations: {len(demos)} episode(s) ({_counts(demos)}): "
                     f"{_ids(demos)}")
    gen = generations(graph)
    used: set[str] = set()
    for c in sorted(ckpts, key=lambda n: (gen[n.id], n.manifest.get("created", 0), n.id)):
        trained = [graph.nodes[p] for p in c.parents if p in graph.nodes
                   and graph.nodes[p].kind == "episode"]
        used.update(n.id for n in trained)
        base = [graph.nodes[p].id for p in c.parents if p in graph.nodes
                and graph.nodes[p].kind == "checkpoint"]
        lines.append(f"round {gen[c.id]}: checkpoint {c.id} ({c.file})")
        lines.append(f"  trained on {len(trained)} episode(s): {_counts(trained) or '-'}"
                     + (f"; from checkpoint {', '.join(base)}" if base else ""))
        for ev in graph.children(c.id, "evaluation"):
            lines.append(f"  evaluation {ev.id} ({ev.file}): {_eval_label(ev)}")
        collected = graph.children(c.id, "episode")
        if collected:
            lines.append(f"  collected {len(collected)} episode(s): {_ids(collected)}")
            later = sorted({ch.id for e in collected for ch in graph.children(e.id,
                                                                               "checkpoint")})
            if later:
                lines.append(f"    → used to train {', '.join(later)}")
    unused = [e for e in eps if e.id not in used]
    if unused and ckpts:
        lines.append(f"not yet trained on: {len(unused)} episode(s): {_ids(unused)}")
    for m in graph.missing():
        lines.append(f"missing: {m} is named as a parent but not found under {graph.root}")
    lines += [f"problem: {p}" for p in graph.problems]
    return "\n".join(lines)


def check_checkpoint(graph: Graph, which: str, robot=None) -> list[str]:
    """Field-by-field drift between a checkpoint's training data configuration and now.

    `which` is a checkpoint id in the graph, or a manifest / ONNX file. The data's
    configuration is the checkpoint's `extra.data_config`, else its training episodes' own.
    """
    node = graph.nodes.get(which)
    if node is None:
        p = Path(which)
        if not p.is_file():
            raise LineageError(f"{which!r} is neither a checkpoint id under {graph.root} nor a "
                               "file; ids: " + ", ".join(n.id for n in
                                                         graph.of_kind("checkpoint")))
        m = _onnx_manifest(p) if p.suffix == ".onnx" else json.loads(p.read_text())
        if not isinstance(m, dict) or "id" not in m:
            raise LineageError(f"{p} carries no lineage manifest")
        node = Node(m["id"], m.get("kind", "?"), str(p), m, list(m.get("parents") or []))
    manifest = dict(node.manifest)
    extra = dict(manifest.get("extra") or {})
    if not extra.get("data_config"):
        episodes = [graph.nodes[p].manifest for p in node.parents if p in graph.nodes
                    and graph.nodes[p].kind == "episode"]
        if episodes:
            extra["data_config"] = summarize_data_config(episodes)
            manifest["extra"] = extra
    return drift_report(manifest, robot)
