"""A synthesized graph as plain, deterministic data: what ``diff`` compares and what a git revision hands back.

This module imports nothing from ``arcblueprint`` (only the standard library and the Pulumi SDK):
``blueprint diff --against <ref>`` loads it by file path into a process that runs *another
revision's* package, so that revision's graph is written in this revision's format (assets by
content hash, resources in canonical order) whatever that revision's own harness did.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi

__all__ = ["SNAPSHOT_VERSION", "asset_value", "canonical_order", "plain", "snapshot"]

#: Bumped when the snapshot's shape changes.
SNAPSHOT_VERSION = 1

#: Marks a mapping the SDK uses for secrets and resource references (``pulumi.runtime.rpc._special_sig_key``).
_SPECIAL_SIG_KEY = "4dabf18193072939515e22adb298388d"


def _sha256_of_path(path: Path) -> str:
    if path.is_dir():
        digest = hashlib.sha256()
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(item.relative_to(path).as_posix().encode() + b"\0" + item.read_bytes() + b"\0")
        return "sha256:" + digest.hexdigest()
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def asset_value(value: Any) -> Any:
    """An asset or archive by what it holds: each file's content hash under its name in the archive.

    The engine deploys the content, so equal code gives equal values whichever folder (this
    checkout, a temporary copy of another revision) it was read from; and never an object's
    ``repr``, whose memory address would make every run differ.
    """
    if isinstance(value, pulumi.AssetArchive):
        return {"assetArchive": {name: asset_value(value.assets[name]) for name in sorted(value.assets)}}
    if isinstance(value, pulumi.FileAsset):
        return {"fileAsset": _sha256_of_path(Path(value.path))}
    if isinstance(value, pulumi.FileArchive):
        return {"fileArchive": _sha256_of_path(Path(value.path))}
    if isinstance(value, pulumi.StringAsset):
        return {"stringAsset": "sha256:" + hashlib.sha256(value.text.encode()).hexdigest()}
    if isinstance(value, pulumi.RemoteAsset):
        return {"remoteAsset": value.uri}
    if isinstance(value, pulumi.RemoteArchive):
        return {"remoteArchive": value.uri}
    raise TypeError(f"not an asset or archive: {type(value).__name__}")


def plain(value: Any) -> Any:
    """Strip the SDK's wrappers (secrets, unknowns, assets) so the value serializes as JSON, the same every run."""
    if isinstance(value, pulumi.Asset | pulumi.Archive):
        return asset_value(value)
    if isinstance(value, Mapping):
        if _SPECIAL_SIG_KEY in value:  # a secret or a resource reference
            return plain(value.get("value", value.get("urn")))
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def canonical_order(resources: list[Any]) -> list[Any]:
    """``resources`` (graph resources) in an order that depends only on the graph, not on the run.

    The SDK registers a resource once its inputs resolve, so registration order varies from run
    to run. This order keeps what registration order guaranteed (a parent and every dependency
    before the resource, which the first-preview model relies on) and breaks ties by URN; each
    resource's dependency lists are sorted too.
    """
    by_urn = {r.urn: r for r in resources}
    waits: dict[str, set[str]] = {}
    for r in resources:
        r.dependencies = sorted(set(r.dependencies))
        r.property_dependencies = {k: sorted(set(v)) for k, v in sorted(r.property_dependencies.items())}
        if hasattr(r, "aliases"):
            r.aliases = sorted(r.aliases)
        before = {r.parent, *r.dependencies, *(u for urns in r.property_dependencies.values() for u in urns)}
        waits[r.urn] = {u for u in before if u in by_urn and u != r.urn}
    dependents: dict[str, list[str]] = {}
    for urn, needs in waits.items():
        for need in needs:
            dependents.setdefault(need, []).append(urn)
    ready = [urn for urn, needs in waits.items() if not needs]
    heapq.heapify(ready)
    ordered: list[Any] = []
    while ready:
        urn = heapq.heappop(ready)
        ordered.append(by_urn[urn])
        for dependent in dependents.get(urn, ()):
            waits[dependent].discard(urn)
            if not waits[dependent]:
                heapq.heappush(ready, dependent)
    if len(ordered) != len(resources):  # pragma: no cover - registration order rules out a cycle
        raise RuntimeError("the recorded graph has a dependency cycle")
    return ordered


def snapshot(graph: Any) -> dict[str, Any]:
    """The graph as JSON-ready data: resources (canonical order), outputs, and the stack's identity.

    ``identity`` holds what differs between stacks by construction (account, naming prefix,
    region), which :mod:`arcblueprint.preview.diffing` replaces by placeholders.
    """
    config = graph.config
    resources = []
    for r in canonical_order(list(graph.resources)):
        resources.append(
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "parent": r.parent,
                "custom": r.custom,
                "protect": r.protect,
                "id": getattr(r, "id", None),
                "dependencies": list(r.dependencies),
                "inputs": plain(r.inputs),
                "outputs": plain(getattr(r, "outputs", {}) or {}),
            }
        )
    return {
        "version": SNAPSHOT_VERSION,
        "project": graph.project,
        "stack": graph.stack,
        "identity": {
            "accountId": getattr(config, "account_id", None),
            "namingPrefix": getattr(config, "naming_prefix", None),
            "region": getattr(config, "region", None),
        },
        "services": sorted(getattr(config, "services", {}) or {}),
        "resources": resources,
        "outputs": plain(graph.outputs),
    }
