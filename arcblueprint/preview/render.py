"""Text views of a synthesized stack: the resource tree, counts, outputs, Mermaid/DOT graphs, diffs.

Pure functions over :class:`~arcblueprint.preview.harness.SynthesizedStack`, so every view is
tested without running a program.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    from arcblueprint.preview.harness import GraphResource, SynthesizedStack

__all__ = [
    "RouteRow",
    "diff_stacks",
    "dot",
    "mermaid",
    "outputs_text",
    "resource_counts",
    "routes",
    "routing_text",
    "tree",
]


def tree(graph: SynthesizedStack) -> str:
    """The resource tree grouped by component, as ``pulumi preview`` shows it."""
    children: dict[str | None, list[GraphResource]] = {}
    known = {r.urn for r in graph.resources}
    for resource in graph.resources:
        parent = resource.parent if resource.parent in known else None
        children.setdefault(parent, []).append(resource)
    lines = [f"{graph.project}-{graph.stack} (pulumi:pulumi:Stack)"]

    def walk(parent: str | None, indent: str) -> Iterator[str]:
        kids = children.get(parent, [])
        for i, resource in enumerate(kids):
            last = i == len(kids) - 1
            flags = " [protected]" if resource.protect else ""
            yield f"{indent}{'└─ ' if last else '├─ '}{resource.name} ({resource.type}){flags}"
            yield from walk(resource.urn, indent + ("   " if last else "│  "))

    lines.extend(walk(None, ""))
    return "\n".join(lines)


def resource_counts(graph: SynthesizedStack) -> list[tuple[str, int]]:
    """(type, count) for every type, most frequent first; components included."""
    counts = Counter(r.type for r in graph.resources)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def counts_text(graph: SynthesizedStack) -> str:
    rows = resource_counts(graph)
    width = max((len(t) for t, _ in rows), default=10)
    custom = sum(1 for r in graph.resources if r.custom)
    lines = [f"{t.ljust(width)}  {n:>4}" for t, n in rows]
    lines.append(
        f"{'total'.ljust(width)}  {len(graph.resources):>4}  ({custom} cloud resources, "
        f"{len(graph.resources) - custom} components)"
    )
    return "\n".join(lines)


def outputs_text(graph: SynthesizedStack) -> str:
    width = max((len(k) for k in graph.outputs), default=0)
    return "\n".join(f"{key.ljust(width)}  {_compact(value)}" for key, value in sorted(graph.outputs.items()))


def _compact(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _node_ids(graph: SynthesizedStack) -> dict[str, str]:
    return {r.urn: f"r{i}" for i, r in enumerate(graph.resources)}


def _edges(graph: SynthesizedStack) -> list[tuple[str, str]]:
    """(dependent, dependency) pairs between resources of the graph, each once."""
    known = {r.urn for r in graph.resources}
    edges: set[tuple[str, str]] = set()
    for resource in graph.resources:
        deps = set(resource.dependencies)
        for urns in resource.property_dependencies.values():
            deps.update(urns)
        for dep in deps:
            if dep in known and dep not in (resource.parent, resource.urn):
                edges.add((resource.urn, dep))
    return sorted(edges)


def mermaid(graph: SynthesizedStack) -> str:
    """A Mermaid flowchart: components as subgraphs, dependencies as arrows."""
    ids = _node_ids(graph)
    children: dict[str | None, list[GraphResource]] = {}
    for resource in graph.resources:
        children.setdefault(resource.parent if resource.parent in ids else None, []).append(resource)
    lines = ["flowchart LR"]

    def emit(resource: GraphResource, indent: str) -> None:
        label = f"{resource.name}<br/><i>{resource.type}</i>".replace('"', "'")
        if resource.custom:
            lines.append(f'{indent}{ids[resource.urn]}["{label}"]')
            return
        lines.append(f'{indent}subgraph {ids[resource.urn]}["{label}"]')
        for child in children.get(resource.urn, []):
            emit(child, indent + "  ")
        lines.append(f"{indent}end")

    for resource in children.get(None, []):
        emit(resource, "  ")
    lines.extend(f"  {ids[a]} --> {ids[b]}" for a, b in _edges(graph))
    return "\n".join(lines) + "\n"


def dot(graph: SynthesizedStack) -> str:
    """A Graphviz digraph: components as clusters, dependencies as edges."""
    ids = _node_ids(graph)
    children: dict[str | None, list[GraphResource]] = {}
    for resource in graph.resources:
        children.setdefault(resource.parent if resource.parent in ids else None, []).append(resource)
    lines = [f'digraph "{graph.project}-{graph.stack}" {{', "  rankdir=LR;", "  node [shape=box, fontsize=10];"]

    def emit(resource: GraphResource, indent: str) -> None:
        label = f"{resource.name}\\n{resource.type}".replace('"', "'")
        if resource.custom:
            lines.append(f'{indent}{ids[resource.urn]} [label="{label}"];')
            return
        lines.append(f"{indent}subgraph cluster_{ids[resource.urn]} {{")
        lines.append(f'{indent}  label="{label}";')
        lines.append(f'{indent}  {ids[resource.urn]} [label="{resource.name}", shape=point];')
        for child in children.get(resource.urn, []):
            emit(child, indent + "  ")
        lines.append(f"{indent}}}")

    for resource in children.get(None, []):
        emit(resource, "  ")
    lines.extend(f"  {ids[a]} -> {ids[b]};" for a, b in _edges(graph))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _stackless(urn: str) -> str:
    """A URN without its stack, so the same resource matches across stacks."""
    parts = urn.split("::")
    return "::".join(parts[2:]) if len(parts) > 2 else urn


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat or {prefix: {}}
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return _flatten(json.loads(value), prefix)
        except ValueError:
            pass
    return {prefix: value}


def diff_stacks(left: SynthesizedStack, right: SynthesizedStack) -> list[str]:
    """Per resource, the inputs that differ between two stacks (plus resources only in one)."""
    lefts = {_stackless(r.urn): r for r in left.resources}
    rights = {_stackless(r.urn): r for r in right.resources}
    lines: list[str] = []
    for key in sorted(set(lefts) | set(rights)):
        a, b = lefts.get(key), rights.get(key)
        if a is None or b is None:
            present = right.stack if a is None else left.stack
            res = b if a is None else a
            lines.append(f"{res.name} ({res.type}): only in {present}")
            continue
        flat_a, flat_b = _flatten(a.inputs), _flatten(b.inputs)
        changes = [
            f"    {k}: {_compact(flat_a.get(k, '<unset>'))} -> {_compact(flat_b.get(k, '<unset>'))}"
            for k in sorted(set(flat_a) | set(flat_b))
            if flat_a.get(k) != flat_b.get(k)
        ]
        if a.protect != b.protect:
            changes.append(f"    (protect): {a.protect} -> {b.protect}")
        if changes:
            lines.append(f"{a.name} ({a.type}):")
            lines.extend(changes)
    return lines


_RULE = "aws:cloudwatch/eventRule:EventRule"
_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
_TARGET_KINDS = {
    "sqs": "queue",
    "kinesis": "stream",
    "lambda": "function",
    "states": "state machine",
    "sns": "topic",
    "firehose": "delivery stream",
    "events": "bus",
}


@dataclass(frozen=True)
class RouteRow:
    """One rule and one of its targets, as the routing table prints them."""

    bus: str
    source: str
    detail_types: str
    filtered: bool
    rule: str
    state: str
    target: str
    dead_letter: str
    retries: str


def _pattern(rule: GraphResource) -> dict[str, Any]:
    value = rule.inputs.get("eventPattern")
    try:
        pattern = json.loads(value) if isinstance(value, str) else {}
    except ValueError:
        pattern = {}
    return pattern if isinstance(pattern, dict) else {}


def _named(graph: SynthesizedStack, resource: GraphResource, prop: str) -> str:
    """What ``prop`` of ``resource`` refers to: the resource it was computed from, else its ARN's kind and name."""
    by_urn = graph.by_urn()
    for urn in resource.property_dependencies.get(prop, []):
        referred = by_urn.get(urn)
        if (
            referred is not None
            and referred.custom
            and referred.type not in ("aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy")
        ):
            kind = referred.type.rsplit(":", 1)[-1]
            return f"{kind} {referred.name}"
    arn = str(resource.inputs.get(prop) or "")
    service = arn.split(":")[2] if arn.count(":") >= 5 else ""
    return f"{_TARGET_KINDS.get(service, service or '?')} {arn.rsplit(':', 1)[-1].rsplit('/', 1)[-1]}"


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def routes(graph: SynthesizedStack) -> list[RouteRow]:
    """Every EventBridge rule of the stack with each of its targets (a rule without one shows ``(none)``)."""
    by_urn = graph.by_urn()
    targets: dict[str, list[GraphResource]] = {}
    for target in graph.by_type(_TARGET):
        for urn in target.property_dependencies.get("rule", []):
            targets.setdefault(urn, []).append(target)
    rows: list[RouteRow] = []
    for rule in graph.by_type(_RULE):
        pattern = _pattern(rule)
        sources = pattern.get("source") or ["(any)"]
        types = pattern.get("detail-type") or ["(all)"]
        bus = str(rule.inputs.get("eventBusName") or "default")
        state = str(rule.inputs.get("state") or "ENABLED")
        name = str(rule.inputs.get("name") or rule.name)
        for target in targets.get(rule.urn, []) or [None]:
            if target is None:
                rows.append(
                    RouteRow(
                        bus,
                        ", ".join(map(str, sources)),
                        ", ".join(map(str, types)),
                        "detail" in pattern,
                        name,
                        state,
                        "(none)",
                        "(none)",
                        "(none)",
                    )
                )
                continue
            dlq = "(none)"
            for urn in target.property_dependencies.get("deadLetterConfig", []):
                if urn in by_urn:
                    dlq = by_urn[urn].name
            retry = target.inputs.get("retryPolicy") or {}
            retries = (
                f"{_number(retry.get('maximumRetryAttempts'))} retries / "
                f"{_number(retry.get('maximumEventAgeInSeconds'))} s"
                if retry
                else "(none)"
            )
            transformed = " (transformed)" if target.inputs.get("inputTransformer") else ""
            rows.append(
                RouteRow(
                    bus,
                    ", ".join(map(str, sources)),
                    ", ".join(map(str, types)),
                    "detail" in pattern,
                    name,
                    state,
                    _named(graph, target, "arn") + transformed,
                    dlq,
                    retries,
                )
            )
    return sorted(rows, key=lambda r: (r.bus == "default", r.source, r.detail_types, r.rule))


def routing_text(graph: SynthesizedStack) -> str:
    """The routing table: for each rule, the events it matches and where they go (target, DLQ, retries)."""
    rows = routes(graph)
    if not rows:
        return "(no EventBridge rules)"
    header = ("bus", "source", "detail type", "rule", "state", "target", "dead-letter queue", "retry")
    table = [header] + [
        (
            r.bus,
            r.source,
            r.detail_types + (" [filter]" if r.filtered else ""),
            r.rule,
            r.state,
            r.target,
            r.dead_letter,
            r.retries,
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in table
    )
