"""What ``blueprint preview`` prints, built in memory: the same bytes on every run of the same inputs.

The command only writes these out; tests compare two runs' reports byte for byte. Standard
output holds the review (summary or tree, routes, outputs, governed exceptions, policy counts);
standard error holds what failed (schema errors, violations) and, when the run fails, a last
line that says so and why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from arcblueprint.policy.config import governed_exceptions
from arcblueprint.policy.offline import evaluate, new_in_first_preview
from arcblueprint.preview import render
from arcblueprint.preview.schema_check import check_stack
from arcblueprint.preview.summary import platform_rows, service_rows, summary_text

if TYPE_CHECKING:
    from arcblueprint.policy.offline import PolicyReport, Skipped, Violation
    from arcblueprint.preview.harness import SynthesizedStack

__all__ = ["EXIT_OK", "EXIT_POLICY", "EXIT_SCHEMA", "PreviewReport", "preview_report"]

EXIT_OK = 0
EXIT_POLICY = 3
EXIT_SCHEMA = 4


@dataclass
class PreviewReport:
    """The preview's standard output, standard error, exit code and JSON document."""

    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)
    code: int = EXIT_OK
    document: dict[str, Any] = field(default_factory=dict)

    def json_text(self) -> str:
        return json.dumps(self.document, indent=2, sort_keys=True)


def _first_preview_lines(first: PolicyReport, first_only: list[Violation]) -> list[str]:
    """What the first ``pulumi preview`` of a new stack could not judge, and what only it reports."""
    whole = [s for s in first.skipped if not s.urn]
    per_resource: dict[str, list[Skipped]] = {}
    for skipped in first.skipped:
        if skipped.urn:
            per_resource.setdefault(skipped.policy, []).append(skipped)
    lines = [
        f"First preview of a new stack (ids and ARNs unknown): {len(whole)} stack policies not judged, "
        f"{len(per_resource)} resource policies not judged for some resources, "
        f"{len(first_only)} violations found only there:"
    ]
    lines += [f"  [not judged] {s.policy} (the whole policy: it read an unknown value): {s.message}" for s in whole]
    for policy, skips in per_resource.items():
        example = skips[0]
        lines.append(
            f"  [not judged] {policy} for {len(skips)} resources (e.g. "
            f"'{example.urn.rsplit('::', 1)[-1]}': {example.message}); the engine judges each when "
            "`pulumi up` creates it"
        )
    return lines


def _failure(stack: str, unknown_inputs: int, mandatory: int, first_only: int) -> str:
    reasons = []
    if unknown_inputs:
        reasons.append(f"{unknown_inputs} inputs pulumi-aws's schema does not have (exit {EXIT_SCHEMA})")
    if mandatory:
        reasons.append(f"{mandatory} mandatory policy violations (exit {EXIT_POLICY})")
    if first_only:
        reasons.append(f"{first_only} mandatory violations only the first preview of a new stack finds")
    return f"blueprint: preview of stack '{stack}' FAILED: " + "; ".join(reasons) + " (listed above)."


def preview_report(graph: SynthesizedStack, *, tree: bool = False) -> PreviewReport:
    """Check ``graph`` (provider schema, policies with known values and as a first preview) and lay out the report."""
    unknown_inputs = check_stack(graph)
    report = evaluate(graph)
    # What the engine's first preview of a new stack sees: ids and ARNs unknown. A policy that reads
    # one there is skipped by the engine with an advisory note; a violation only it finds is real too.
    first = evaluate(graph, first_preview=True)
    first_only = new_in_first_preview(report, first)
    exceptions = governed_exceptions(graph.config)
    result = PreviewReport()
    result.code = EXIT_SCHEMA if unknown_inputs else EXIT_POLICY if report.mandatory or first_only else EXIT_OK

    document = graph.as_json()
    document["summary"] = {
        "services": [vars(row) | {"endpoints": list(row.endpoints)} for row in service_rows(graph)],
        "platform": [vars(row) for row in platform_rows(graph)],
    }
    document["policy"] = report.as_json()
    document["firstPreview"] = {**first.as_json(), "onlyHere": [v.line() for v in first_only]}
    document["schema"] = [u.line() for u in unknown_inputs]
    document["exceptions"] = {
        "enforcement": graph.config.policy.enforcement,
        "overrides": [e.as_json() for e in exceptions if e.kind == "override"],
        "waivers": [e.as_json() for e in exceptions if e.kind == "waiver"],
    }
    result.document = document

    out = result.out
    out.append(
        f"Stack '{graph.stack}' ({graph.project}-{graph.stack}, {graph.config.environment}, "
        f"{graph.config.region}, account {graph.config.account_id}), synthesized offline under mocks "
        f"in {'preview' if graph.preview else 'update'} mode; nothing was deployed."
    )
    out.append("")
    if tree:
        out += [render.tree(graph), "", "Resources by type:", render.counts_text(graph)]
    else:
        out.append(summary_text(graph))
    out += ["", "Event routes (source, detail type -> rule -> target, with its DLQ and retries):"]
    out.append(render.routing_text(graph))
    out += ["", "Outputs:", render.outputs_text(graph)]
    out += [
        "",
        f"Governed exceptions (enforcement {graph.config.policy.enforcement}; "
        f"{sum(e.kind == 'override' for e in exceptions)} overrides, "
        f"{sum(e.kind == 'waiver' for e in exceptions)} waivers):",
    ]
    out += [f"  {e.line()}" for e in exceptions] or ["  (none)"]
    out += [
        "",
        f"Policies: {len(report.mandatory)} mandatory and {len(report.advisory)} advisory violations "
        f"(listed on standard error), {len(report.waived)} waived:",
    ]
    out += [f"  {v.line()}" for v in report.waived]
    out += [
        f"  [waiver unused] {policy} {resource}: nothing to waive (reason given: {reason})"
        for policy, resource, reason in report.unused_waivers
    ]
    out += [f"  {s.line()}" for s in report.skipped]
    out += ["", *_first_preview_lines(first, first_only)]
    out += [
        "",
        f"{len(graph.resources)} resources for stack '{graph.stack}': "
        + ("the preview passed." if result.code == EXIT_OK else "the preview FAILED (see standard error)."),
    ]

    err = result.err
    if unknown_inputs:
        err.append(f"Provider schema ({len(unknown_inputs)} inputs pulumi-aws would reject):")
        err += [f"  [error] {problem.line()}" for problem in unknown_inputs]
    if report.mandatory or report.advisory or first_only:
        err.append(f"Policy violations ({len(report.mandatory)} mandatory, {len(report.advisory)} advisory):")
        err += [f"  {v.line()}" for v in (*report.mandatory, *report.advisory)]
        err += [f"  {v.line()} (only in the first preview of a new stack)" for v in first_only]
    if result.code != EXIT_OK:
        err.append(_failure(graph.stack, len(unknown_inputs), len(report.mandatory), len(first_only)))
    return result
