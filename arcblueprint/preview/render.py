"""Text views of a synthesized stack: the resource tree, counts, outputs and the routing table.

Pure functions over :class:`~arcblueprint.preview.harness.SynthesizedStack`, so every view is
tested without running a program. Every view orders what it prints by name, never by the order
resources happened to register in, so two runs print the same bytes. The graphs are in
:mod:`~arcblueprint.preview.graphs`, the diff in :mod:`~arcblueprint.preview.diffing`.
"""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from arcblueprint.preview.harness import GraphResource, SynthesizedStack

__all__ = [
    "RouteRow",
    "counts_text",
    "outputs_text",
    "resource_counts",
    "routes",
    "routing_text",
    "table",
    "tree",
]


def tree(graph: SynthesizedStack) -> str:
    """The resource tree grouped by component, as ``pulumi preview`` shows it."""
    children: dict[str | None, list[GraphResource]] = {}
    known = {r.urn for r in graph.resources}
    for resource in graph.resources:
        parent = resource.parent if resource.parent in known else None
        children.setdefault(parent, []).append(resource)
    for kids in children.values():
        kids.sort(key=lambda r: (r.name, r.type))
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


#: An output whose one-line form is longer than this prints as a table (or one line per item).
_MAX_INLINE_OUTPUT = 100


def table(rows: Sequence[tuple[str, ...]], indent: str = "") -> list[str]:
    """Rows (the first one the header) as left-aligned columns, trailing spaces stripped."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        (indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))).rstrip()
        for row in rows
    ]


#: A list cell longer than this shows its length instead (the JSON output has every item).
_MAX_LIST_CELL = 40


def _cell(value: Any) -> str:
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        text = ", ".join(_cell(v) for v in value) if value else "-"
        return text if len(text) <= _MAX_LIST_CELL else f"{len(value)} items"
    if value is None or value == {}:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    return _compact(value)


def _output_lines(key: str, value: Any, width: int) -> list[str]:
    """One line for a short output; a long one as a table (a map of maps), a map or a list below its key."""
    text = _compact(value)
    if len(text) <= _MAX_INLINE_OUTPUT or not isinstance(value, dict | list) or not value:
        return [f"{key.ljust(width)}  {text}"]
    if isinstance(value, list):
        return [f"{key} ({len(value)}):"] + [f"  - {_compact(item)}" for item in value]
    if all(isinstance(v, dict) for v in value.values()):
        columns = sorted({column for row in value.values() for column in row})
        cells = {name: {column: _cell(row.get(column)) for column in columns} for name, row in value.items()}
        # A column with one value in every row is said once, above the table, so the table stays narrow.
        raw = {c: {_compact(row.get(c)) for row in value.values()} for c in columns}
        same = [c for c in columns if len(raw[c]) == 1] if len(value) > 1 else []
        varying = [c for c in columns if c not in same]
        first = next(iter(cells.values()))
        lines = [f"{key} ({len(value)}):"]
        if same:
            lines += textwrap.wrap(
                "every row: " + ", ".join(f"{c} {first[c]}" for c in same),
                width=_MAX_INLINE_OUTPUT,
                initial_indent="  ",
                subsequent_indent="    ",
                break_on_hyphens=False,
            )
        rows = [("", *varying)] + [(name, *(cells[name][c] for c in varying)) for name in sorted(cells)]
        return lines + table(rows, indent="  ")
    inner = max(len(str(k)) for k in value)
    return [f"{key} ({len(value)}):"] + [f"  {str(k).ljust(inner)}  {_compact(v)}" for k, v in sorted(value.items())]


def outputs_text(graph: SynthesizedStack) -> str:
    """The stack outputs, by name; long ones (``releases``) as tables instead of a line of thousands of characters."""
    width = max((len(k) for k in graph.outputs), default=0)
    lines: list[str] = []
    for key, value in sorted(graph.outputs.items()):
        lines.extend(_output_lines(key, value, width))
    return "\n".join(lines)


def _compact(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


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
        matched = (bus, ", ".join(map(str, sources)), ", ".join(map(str, types)), "detail" in pattern, name, state)
        if rule.urn not in targets:
            rows.append(RouteRow(*matched, "(none)", "(none)", "(none)"))
            continue
        for target in targets[rule.urn]:
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
            rows.append(RouteRow(*matched, _named(graph, target, "arn") + transformed, dlq, retries))
    return sorted(rows, key=lambda r: (r.bus == "default", r.source, r.detail_types, r.rule))


def routing_text(graph: SynthesizedStack) -> str:
    """The routing table: for each rule, the events it matches and where they go (target, DLQ, retries)."""
    rows = routes(graph)
    if not rows:
        return "(no EventBridge rules)"
    header = ("bus", "source", "detail type", "rule", "state", "target", "dead-letter queue", "retry")
    table_rows = [header] + [
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
    return "\n".join(table(table_rows))
