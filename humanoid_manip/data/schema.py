"""The episode metadata schema, in one place: what a recorder writes and a validator checks.

An episode's metadata is one JSON object, written on /episode/metadata at the start and again
at the finish (with "outcome"), and as the MCAP metadata record `humanoid_manip.episode`:

    task      str   a task name of the registry (config/tasks.yaml), e.g. "pick_place"
    seed      int   the simulation seed of the episode (null for real-robot data)
    sim       bool  true when recorded in simulation (then replay can check it)
    source    {"type": "teleop" | "expert" | "policy" | "dagger", "device"?: str,
               "checkpoint"?: id (or "policy": id) of the policy that drove, …}
              ("dagger": a policy drove and an expert labelled; the label is then
              /policy/torque_request, not the applied torque)
    lineage   a Manifest of kind "episode" (humanoid_manip/data/lineage.py), as a dict
    outcome   {"success": bool | null, "progress"?: float in [0, 1], "note"?: str}
              (added by EpisodeWriter.finish; a recording cut short has none); the referee's
              verdict, except in teleop episodes: there the operator's label
    initial_state  {"qpos": [...], "qvel": [...]}  optional: the full MuJoCo state after
              reset (sim episodes); replay starts from it after checking the seed resets to it
    trim      {"from": path, "start_s": s, "end_s": s}  only on copies made by `validate --fix`
    start_time  float  optional: the sim clock at the episode's reset (sim_node); with the
              measured efforts of every step on /joint_states, replay steps from it exactly

Other keys (e.g. "robot", "started") are kept as they are.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from humanoid_manip.data.lineage import LineageError, Manifest, new_manifest

SOURCE_TYPES = ("teleop", "expert", "policy", "dagger")
POLICY_DRIVEN = ("policy", "dagger")


@dataclass
class Outcome:
    """How the episode ended: the referee's verdict, and how far it came."""

    success: bool | None
    progress: float | None = None
    note: str = ""


@dataclass
class EpisodeMetadata:
    """The episode metadata record (see the module docstring for each field's meaning)."""

    task: str
    seed: int | None
    sim: bool
    source: dict[str, Any]
    lineage: dict[str, Any]
    outcome: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # any other keys, kept as they are

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        extra = d.pop("extra")
        if d["outcome"] is None:
            d.pop("outcome")
        return {**extra, **d}


def episode_metadata(task: str, seed: int | None, source: Mapping[str, Any], sim: bool = True,
                     parents: Sequence[str] = (), robot=None) -> dict[str, Any]:
    """Metadata for an episode being recorded now, with a fresh lineage manifest."""
    src = {"task": task, "seed": seed, "sim": sim, **dict(source)}
    manifest = new_manifest("episode", src, parents=parents, robot=robot)
    return EpisodeMetadata(task, seed, sim, dict(source), asdict(manifest)).to_dict()


def check_metadata(meta: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(errors, warnings) of an episode's metadata against the schema."""
    errors: list[str] = []
    warnings: list[str] = []
    if not meta:
        return ["no episode metadata (no /episode/metadata message or record)"], []
    if not isinstance(meta.get("task"), str) or not meta.get("task"):
        errors.append("metadata: 'task' is missing or not a string")
    seed = meta.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        errors.append(f"metadata: 'seed' must be an integer or null, got {seed!r}")
    if "sim" not in meta:
        warnings.append("metadata: 'sim' is missing (sim or real?); assumed sim")
    elif not isinstance(meta["sim"], bool):
        errors.append(f"metadata: 'sim' must be true or false, got {meta['sim']!r}")
    source = meta.get("source")
    if not isinstance(source, dict) or "type" not in source:
        errors.append("metadata: 'source' must be an object with a 'type' "
                      f"({', '.join(SOURCE_TYPES)})")
    elif source["type"] not in SOURCE_TYPES:
        warnings.append(f"metadata: source type {source['type']!r} is not one of "
                        f"{', '.join(SOURCE_TYPES)}")
    elif source["type"] in POLICY_DRIVEN and not driving_policy(source):
        warnings.append("metadata: a policy-collected episode should name its 'checkpoint'")
    outcome = meta.get("outcome")
    if outcome is None:
        errors.append("missing outcome: the recording never finished (metadata has no "
                      "'outcome')")
    elif not isinstance(outcome, dict) or "success" not in outcome:
        errors.append(f"metadata: 'outcome' must be an object with 'success', got {outcome!r}")
    elif outcome["success"] is None:
        warnings.append("outcome unknown: success is null (aborted or not judged)")
    elif not isinstance(outcome["success"], bool):
        errors.append(f"metadata: outcome.success must be true, false or null, "
                      f"got {outcome['success']!r}")
    if isinstance(outcome, dict) and outcome.get("unstable"):  # its ticks before are kept
        warnings.append(f"outcome: the episode ends where {outcome['unstable']}")
    lineage = meta.get("lineage")
    if not lineage:
        errors.append("missing lineage: metadata has no 'lineage' manifest")
    else:
        try:
            m = Manifest.from_dict(lineage) if isinstance(lineage, dict) else None
        except LineageError as exc:
            m = None
            errors.append(f"lineage: {exc}")
        else:
            if m is None:
                errors.append(f"lineage must be a manifest object, got {lineage!r}")
            elif m.kind != "episode":
                errors.append(f"lineage: manifest kind is {m.kind!r}, expected 'episode'")
            elif not m.config:
                errors.append("lineage: the manifest records no configuration hashes")
    return errors, warnings


def driving_policy(source: Mapping[str, Any] | None) -> str | None:
    """The checkpoint id of the policy that drove a policy-collected (or DAgger) episode."""
    if not isinstance(source, Mapping) or source.get("type") not in POLICY_DRIVEN:
        return None
    cid = source.get("checkpoint") or source.get("policy")
    return str(cid) if cid else None
