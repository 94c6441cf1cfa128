"""The stack at a glance: one line per service (pattern, resources, release strategy, endpoints) and per platform piece.

What ``blueprint preview`` prints by default instead of the full resource tree (``--tree``): a
reviewer sees which services the stack runs and how they release without reading 800 lines.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from arcblueprint.preview.render import table
from arcblueprint.services import pattern_of

if TYPE_CHECKING:
    from arcblueprint.preview.harness import GraphResource, SynthesizedStack

__all__ = ["PieceRow", "ServiceRow", "platform_rows", "service_rows", "summary_text"]

_FUNCTION = "aws:lambda/function:Function"
_ENDPOINT_SCHEMES = ("https://", "wss://")
#: A queue's URL is an address for the SQS API, not an endpoint the service serves.
_NOT_ENDPOINTS = re.compile(r"https://sqs\.[a-z0-9-]+\.amazonaws\.com/")


@dataclass(frozen=True)
class ServiceRow:
    """One service of the stack as the summary prints it."""

    name: str
    pattern: str
    #: Cloud resources in the service's tree (components not counted).
    resources: int
    components: int
    #: How the service's functions release, e.g. ``canary Canary10Percent5Minutes (2 functions)``.
    release: str
    endpoints: tuple[str, ...]


@dataclass(frozen=True)
class PieceRow:
    """One platform component (or a cloud resource at the top of the stack)."""

    name: str
    type: str
    resources: int


def _descendants(graph: SynthesizedStack) -> dict[str, list[GraphResource]]:
    """Top-level resource URN -> everything under it (itself included)."""
    by_urn = graph.by_urn()
    groups: dict[str, list[GraphResource]] = {}
    for resource in graph.resources:
        top = resource
        while top.parent in by_urn:
            top = by_urn[top.parent]
        groups.setdefault(top.urn, []).append(resource)
    return groups


def _short_config(name: Any) -> str:
    return str(name).removeprefix("CodeDeployDefault.").removeprefix("Lambda")


def _release_text(entries: list[dict[str, Any]]) -> str:
    """The strategies of a service's functions, grouped: ``canary Canary10Percent5Minutes (2 functions)``."""
    if not entries:
        return "-"
    kinds = Counter(
        " ".join(
            part for part in (str(e.get("strategy") or "?"), _short_config(e.get("deploymentConfigName") or "")) if part
        )
        for e in entries
    )
    return "; ".join(f"{kind} ({count} function{'s' if count != 1 else ''})" for kind, count in sorted(kinds.items()))


def service_rows(graph: SynthesizedStack) -> list[ServiceRow]:
    """One row per service of the stack config, by name."""
    groups = _descendants(graph)
    by_name = {r.name: r.urn for r in graph.resources if r.urn in groups}
    releases = graph.outputs.get("releases")
    releases = releases if isinstance(releases, dict) else {}
    by_function = {str(entry.get("functionName")): entry for entry in releases.values() if isinstance(entry, dict)}
    rows = []
    for name, spec in sorted(graph.config.services.items()):
        members = groups.get(by_name.get(name, ""), [])
        functions = sorted(str(r.inputs.get("name")) for r in members if r.type == _FUNCTION)
        endpoints = tuple(
            str(value)
            for key, value in sorted(graph.outputs.items())
            if key.startswith(f"{name}:")
            and isinstance(value, str)
            and value.startswith(_ENDPOINT_SCHEMES)
            and not _NOT_ENDPOINTS.match(value)
        )
        rows.append(
            ServiceRow(
                name=name,
                pattern=pattern_of(spec),
                resources=sum(1 for r in members if r.custom),
                components=sum(1 for r in members if not r.custom),
                release=_release_text([by_function[f] for f in functions if f in by_function]),
                endpoints=endpoints,
            )
        )
    return rows


def platform_rows(graph: SynthesizedStack) -> list[PieceRow]:
    """One row per top-level component that is not a service (the shared platform), by name."""
    services = set(graph.config.services)
    by_urn = graph.by_urn()
    rows = [
        PieceRow(
            name=by_urn[top].name,
            type=by_urn[top].type.rsplit(":", 1)[-1],
            resources=sum(1 for r in members if r.custom),
        )
        for top, members in _descendants(graph).items()
        if by_urn[top].name not in services
    ]
    return sorted(rows, key=lambda r: (r.name, r.type))


def summary_text(graph: SynthesizedStack) -> str:
    """The services and the platform pieces as two tables, then the totals."""
    services = service_rows(graph)
    pieces = platform_rows(graph)
    lines = [f"Services ({len(services)}):"]
    if services:
        lines += table(
            [("service", "pattern", "resources", "release", "endpoints")]
            + [
                (
                    s.name,
                    s.pattern,
                    f"{s.resources} ({s.components} components)",
                    s.release,
                    ", ".join(s.endpoints) or "-",
                )
                for s in services
            ],
            indent="  ",
        )
    lines.append(f"Platform ({len(pieces)}):")
    lines += table(
        [("piece", "component", "resources")] + [(p.name, p.type, str(p.resources)) for p in pieces], indent="  "
    )
    custom = sum(1 for r in graph.resources if r.custom)
    lines.append(
        f"{len(graph.resources)} resources: {custom} cloud resources, {len(graph.resources) - custom} components "
        "(the full tree: blueprint preview --tree)"
    )
    return "\n".join(lines)
