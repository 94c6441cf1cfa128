"""Compare two synthesized graphs (two stacks, or one stack at two git revisions) as a reviewer reads them.

Both sides are :func:`~arcblueprint.preview.snapshot.snapshot` documents. Before comparing, each
side's values are normalized so that what differs *by construction* does not drown what a change
did: the account id, the naming prefix and the region become ``<account>``, ``<prefix>`` and
``<region>``, and a value the provider generates (an id, an ARN) where another resource uses it
becomes ``<resource.property>``. The text opens with counts per service and type.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from arcblueprint.preview.graphs import stackless
from arcblueprint.preview.render import table

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = ["Change", "StackDiff", "diff_snapshots", "diff_text"]

#: Generated values shorter than this, or without a digit, are not traced (too likely to be ordinary words).
_MIN_GENERATED = 6
_HAS_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class Change:
    """A resource added, removed or changed between the two sides."""

    kind: Literal["added", "removed", "changed"]
    service: str
    type: str
    name: str
    #: ``key: old -> new`` lines for a changed resource.
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class StackDiff:
    """Everything that differs, after normalization, between ``left`` and ``right``."""

    left: str
    right: str
    changes: list[Change]
    outputs: list[str]
    #: What was replaced by placeholders, e.g. ``account 111111111111, 222222222222 -> <account>``.
    normalized: list[str] = field(default_factory=list)


def _opened(value: Any) -> Any:
    """``value`` with JSON documents held in strings (policies, patterns) opened, so they compare by content."""
    if isinstance(value, dict):
        return {str(k): _opened(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_opened(v) for v in value]
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return _opened(json.loads(value))
        except ValueError:
            pass
    return value


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _differences(old: Any, new: Any, path: str = "") -> list[str]:
    """``path: old -> new`` for each place two values differ; a key one side lacks is one line, whatever it holds."""
    if isinstance(old, dict) and isinstance(new, dict):
        lines: list[str] = []
        for key in sorted(set(old) | set(new)):
            lines += _differences(old.get(key, _UNSET), new.get(key, _UNSET), _join(path, key))
        return lines
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new) and old != new:
        if any(isinstance(v, dict | list) for v in (*old, *new)):
            return [
                line
                for i, (a, b) in enumerate(zip(old, new, strict=True))
                for line in _differences(a, b, _join(path, i))
            ]
    if old == new:
        return []
    return [f"{path}: {_compact(old)} -> {_compact(new)}"]


def _compact(value: Any) -> str:
    if value is _UNSET:
        return "(unset)"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # the engine carries every number as a double: 512, not 512.0
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


_UNSET = object()


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


class _Normalizer:
    """Replaces one side's by-construction values (identity, generated ids and ARNs) by placeholders."""

    def __init__(self, document: dict[str, Any]) -> None:
        identity = document.get("identity") or {}
        # Longest first: the prefix may contain the region or account, never the reverse.
        self.tokens = sorted(
            (
                (str(value), placeholder)
                for value, placeholder in (
                    (identity.get("namingPrefix"), "<prefix>"),
                    (identity.get("accountId"), "<account>"),
                    (identity.get("region"), "<region>"),
                )
                if value
            ),
            key=lambda t: -len(t[0]),
        )
        self.generated: dict[str, list[tuple[str, str]]] = {}
        for resource in document["resources"]:
            inputs = resource.get("inputs") or {}
            given = set(_strings(inputs))  # an output equal to an input (an id that is the name) was not generated
            values = [("id", resource.get("id"))] + sorted((resource.get("outputs") or {}).items())
            pairs = {}
            for key, value in values:
                if key in inputs or not isinstance(value, str) or len(value) < _MIN_GENERATED or value in given:
                    continue
                if _HAS_DIGIT.search(value) and value not in pairs:
                    pairs[value] = f"<{resource['name']}.{key}>"
            self.generated[resource["urn"]] = sorted(pairs.items(), key=lambda p: -len(p[0]))

    def text(self, value: str, sources: Sequence[tuple[str, str]] = ()) -> str:
        for raw, placeholder in sources:
            if raw in value:
                value = value.replace(raw, placeholder)
        for raw, placeholder in self.tokens:
            value = value.replace(raw, placeholder)
        return value

    def value(self, value: Any, sources: Sequence[tuple[str, str]] = ()) -> Any:
        if isinstance(value, str):
            return self.text(value, sources)
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v, sources) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, sources) for v in value]
        return value

    def sources(self, resource: dict[str, Any]) -> list[tuple[str, str]]:
        """The generated values of what ``resource`` depends on: the ones its inputs can contain."""
        pairs = [pair for urn in resource.get("dependencies") or () for pair in self.generated.get(urn, ())]
        return sorted(set(pairs), key=lambda p: (-len(p[0]), p[1]))

    def all_sources(self) -> list[tuple[str, str]]:
        pairs = {pair for values in self.generated.values() for pair in values}
        return sorted(pairs, key=lambda p: (-len(p[0]), p[1]))


@dataclass(frozen=True)
class _Side:
    resources: dict[str, dict[str, Any]]
    services: dict[str, str]
    outputs: dict[str, Any]


def _side(document: dict[str, Any]) -> _Side:
    normalizer = _Normalizer(document)
    by_urn = {r["urn"]: r for r in document["resources"]}
    resources: dict[str, dict[str, Any]] = {}
    services: dict[str, str] = {}
    for resource in document["resources"]:
        top = resource
        while top.get("parent") in by_urn:
            top = by_urn[top["parent"]]
        key = normalizer.text(stackless(resource["urn"]))
        resources[key] = {
            "type": resource["type"],
            "name": resource["name"],
            "protect": bool(resource.get("protect")),
            "inputs": _opened(normalizer.value(resource.get("inputs") or {}, normalizer.sources(resource))),
        }
        services[key] = top["name"] if top is not resource or not resource.get("custom") else "(stack)"
    outputs = _opened(normalizer.value(document.get("outputs") or {}, normalizer.all_sources()))
    return _Side(resources, services, outputs)


def _identity_lines(left: dict[str, Any], right: dict[str, Any]) -> list[str]:
    lines = []
    for key, label, placeholder in (
        ("accountId", "account", "<account>"),
        ("namingPrefix", "prefix", "<prefix>"),
        ("region", "region", "<region>"),
    ):
        values = sorted({str(d.get("identity", {}).get(key)) for d in (left, right) if d.get("identity", {}).get(key)})
        if values:
            lines.append(f"{label} {' and '.join(values)} -> {placeholder}")
    lines.append("ids and ARNs the provider generates -> <resource.property> where another resource uses them")
    return lines


def _changes(a: dict[str, Any], b: dict[str, Any]) -> tuple[str, ...]:
    details = _differences(a["inputs"], b["inputs"])
    if a["protect"] != b["protect"]:
        details.append(f"(protect): {str(a['protect']).lower()} -> {str(b['protect']).lower()}")
    return tuple(details)


def diff_snapshots(left: dict[str, Any], right: dict[str, Any], *, left_label: str, right_label: str) -> StackDiff:
    """What differs between two snapshots, after each is normalized."""
    a, b = _side(left), _side(right)
    changes: list[Change] = []
    for key in sorted(set(a.resources) | set(b.resources)):
        old, new = a.resources.get(key), b.resources.get(key)
        if old is None or new is None:
            kind: Literal["added", "removed"]
            kind, side = ("added", b) if old is None else ("removed", a)
            present = side.resources[key]
            changes.append(Change(kind, side.services[key], present["type"], present["name"]))
            continue
        details = _changes(old, new)
        if details:
            changes.append(Change("changed", b.services[key], new["type"], new["name"], details))
    outputs = _differences(a.outputs, b.outputs)
    return StackDiff(left_label, right_label, changes, outputs, _identity_lines(left, right))


_MARK = {"added": "+", "removed": "-", "changed": "~"}


def diff_text(diff: StackDiff) -> str:
    """The summary (counts per service and type), then each change, then the outputs that differ."""
    counts = Counter(c.kind for c in diff.changes)
    head = (
        f"{diff.left} -> {diff.right}: {counts['added']} added, {counts['removed']} removed, "
        f"{counts['changed']} changed resources; {len(diff.outputs)} outputs differ"
    )
    lines = [head, "Normalized before comparing (what differs by construction):"]
    lines += [f"  {line}" for line in diff.normalized]
    if not diff.changes and not diff.outputs:
        lines.append("Nothing differs.")
        return "\n".join(lines)
    if diff.changes:
        per: dict[tuple[str, str], Counter[str]] = {}
        for change in diff.changes:
            per.setdefault((change.service, change.type), Counter())[change.kind] += 1
        rows = [("service", "type", "added", "removed", "changed")] + [
            (service, type_, str(c["added"]), str(c["removed"]), str(c["changed"]))
            for (service, type_), c in sorted(per.items())
        ]
        lines += ["", *table(rows, indent="  "), ""]
    for change in sorted(diff.changes, key=lambda c: (c.service, c.name, c.type)):
        lines.append(f"{_MARK[change.kind]} {change.name} ({change.type}) [{change.service}]")
        lines.extend(f"    {detail}" for detail in change.details)
    if diff.outputs:
        lines += ["", "Outputs:"] + [f"  ~ {line}" for line in diff.outputs]
    return "\n".join(lines)
