"""The resource graph as Mermaid and Graphviz: every resource, or one node per component (``--by-service``).

Node ids are derived from each resource's URN without its stack, so they are the same on every
run and for the same resource in every stack, and a regenerated graph diffs line by line.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from arcblueprint.preview.harness import GraphResource, SynthesizedStack

__all__ = [
    "MERMAID_MAX_EDGES",
    "MERMAID_MAX_TEXT",
    "ComponentGraph",
    "component_graph",
    "component_mermaid",
    "dot",
    "edges",
    "mermaid",
    "node_id",
]

#: Mermaid's defaults (``maxEdges``, ``maxTextSize``): a diagram beyond either is not drawn.
MERMAID_MAX_EDGES = 500
MERMAID_MAX_TEXT = 50_000


def stackless(urn: str) -> str:
    """A URN without its stack and project, so the same resource matches across stacks."""
    parts = urn.split("::")
    return "::".join(parts[2:]) if len(parts) > 2 else urn


def node_id(urn: str) -> str:
    """A short id derived from the URN (stack left out): stable across runs and stacks."""
    return "n" + hashlib.sha256(stackless(urn).encode()).hexdigest()[:10]


def edges(graph: SynthesizedStack) -> list[tuple[str, str]]:
    """(dependent, dependency) URN pairs between resources of the graph, each once, sorted."""
    known = {r.urn for r in graph.resources}
    found: set[tuple[str, str]] = set()
    for resource in graph.resources:
        deps = set(resource.dependencies)
        for urns in resource.property_dependencies.values():
            deps.update(urns)
        for dep in deps:
            if dep in known and dep not in (resource.parent, resource.urn):
                found.add((resource.urn, dep))
    return sorted(found, key=lambda e: (node_id(e[0]), node_id(e[1])))


def _children(graph: SynthesizedStack) -> dict[str | None, list[GraphResource]]:
    """Each resource under its parent (``None``: the stack), siblings by name then type."""
    known = {r.urn for r in graph.resources}
    children: dict[str | None, list[GraphResource]] = {}
    for resource in graph.resources:
        children.setdefault(resource.parent if resource.parent in known else None, []).append(resource)
    for kids in children.values():
        kids.sort(key=lambda r: (r.name, r.type))
    return children


def _label(*parts: str) -> str:
    return "<br/>".join(parts).replace('"', "#quot;")


def mermaid(graph: SynthesizedStack) -> str:
    """A Mermaid flowchart of every resource: components (and resources with children) as subgraphs."""
    children = _children(graph)
    lines = ["flowchart LR"]

    def emit(resource: GraphResource, indent: str) -> None:
        label = _label(resource.name, f"<i>{resource.type}</i>")
        kids = children.get(resource.urn, [])
        own = node_id(resource.urn)
        if resource.custom and not kids:
            lines.append(f'{indent}{own}["{label}"]')
            return
        if resource.custom:  # a resource parented by a plain resource: drawn inside a box with its parent
            lines.append(f'{indent}subgraph g{own[1:]}["{_label(resource.name)}"]')
            lines.append(f'{indent}  {own}["{label}"]')
        else:
            lines.append(f'{indent}subgraph {own}["{label}"]')
        for child in kids:
            emit(child, indent + "  ")
        lines.append(f"{indent}end")

    for resource in children.get(None, []):
        emit(resource, "  ")
    lines.extend(f"  {node_id(a)} --> {node_id(b)}" for a, b in edges(graph))
    return "\n".join(lines) + "\n"


def dot(graph: SynthesizedStack) -> str:
    """A Graphviz digraph of every resource: components as clusters, dependencies as edges."""
    children = _children(graph)
    lines = [f'digraph "{graph.project}-{graph.stack}" {{', "  rankdir=LR;", "  node [shape=box, fontsize=10];"]

    def emit(resource: GraphResource, indent: str) -> None:
        label = f"{resource.name}\\n{resource.type}".replace('"', "'")
        kids = children.get(resource.urn, [])
        own = node_id(resource.urn)
        if resource.custom and not kids:
            lines.append(f'{indent}{own} [label="{label}"];')
            return
        lines.append(f"{indent}subgraph cluster_{own} {{")
        lines.append(f'{indent}  label="{label}";')
        shape = "box" if resource.custom else "point"
        lines.append(f'{indent}  {own} [label="{resource.name}", shape={shape}];')
        for child in kids:
            emit(child, indent + "  ")
        lines.append(f"{indent}}}")

    for resource in children.get(None, []):
        emit(resource, "  ")
    lines.extend(f"  {node_id(a)} -> {node_id(b)};" for a, b in edges(graph))
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- one node per component ----------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentGraph:
    """Components (by URN), the cloud resources each owns directly, and the dependencies between components."""

    #: Component URN -> the URN of the top-level component it belongs to (itself at the top).
    top: dict[str, str]
    #: Component URN -> how many cloud resources it owns (not counting those of its child components).
    owned: Counter[str]
    #: (dependent component, dependency component) pairs, each once.
    edges: list[tuple[str, str]]


def _owner(resource: GraphResource, by_urn: dict[str, GraphResource]) -> str | None:
    """The nearest component at or above ``resource`` (``None`` for a cloud resource at the top)."""
    current: GraphResource | None = resource
    while current is not None and current.custom:
        current = by_urn.get(current.parent or "")
    return current.urn if current is not None else None


def component_graph(graph: SynthesizedStack) -> ComponentGraph:
    """Fold the resource graph onto its components: an edge wherever a resource of one needs a resource of another."""
    by_urn = graph.by_urn()
    owner = {r.urn: _owner(r, by_urn) for r in graph.resources}
    top: dict[str, str] = {}
    for resource in graph.resources:
        if resource.custom:
            continue
        current = resource
        while current.parent in by_urn:
            current = by_urn[current.parent]
        top[resource.urn] = current.urn
    owned = Counter(o for r in graph.resources if r.custom and (o := owner[r.urn]) is not None)
    pairs = {
        (oa, ob) for a, b in edges(graph) if (oa := owner[a]) is not None and (ob := owner[b]) is not None and oa != ob
    }
    return ComponentGraph(top=top, owned=owned, edges=sorted(pairs, key=lambda e: (node_id(e[0]), node_id(e[1]))))


def _short_type(type_token: str) -> str:
    return type_token.rsplit(":", 1)[-1]


def component_mermaid(graph: SynthesizedStack) -> str:
    """A Mermaid flowchart with one node per component, grouped by top-level component, and the edges between them.

    Small enough for Mermaid's default limits (``MERMAID_MAX_EDGES``, ``MERMAID_MAX_TEXT``) where the
    full graph is not; each node says how many cloud resources the component holds directly.
    """
    folded = component_graph(graph)
    by_urn = graph.by_urn()
    groups: dict[str, list[str]] = {}
    for urn, top in folded.top.items():
        groups.setdefault(top, []).append(urn)
    lines = ["flowchart LR"]
    for top in sorted(groups, key=lambda u: by_urn[u].name):
        members = sorted(groups[top], key=lambda u: (u != top, by_urn[u].name))
        head = by_urn[top]
        lines.append(f'  subgraph g{node_id(top)[1:]}["{_label(f"{head.name} ({_short_type(head.type)})")}"]')
        for urn in members:
            component = by_urn[urn]
            count = folded.owned.get(urn, 0)
            label = _label(component.name, f"<i>{_short_type(component.type)} · {count} resources</i>")
            lines.append(f'    {node_id(urn)}["{label}"]')
        lines.append("  end")
    lines.extend(f"  {node_id(a)} --> {node_id(b)}" for a, b in folded.edges)
    return "\n".join(lines) + "\n"
