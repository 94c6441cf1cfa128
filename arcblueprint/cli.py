"""``blueprint``: the offline preview, graph and diff of a stack, and the CI/CD deployment driver.

Exit codes: 0 success, 2 invalid config or usage, 3 mandatory policy violation, 4 an input the AWS
provider's schema does not have (the engine preview would fail); the deployment commands add
their own (see ``docs/deploy.md``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from arcblueprint.policy.offline import PolicyReport, Skipped, Violation
    from arcblueprint.preview.harness import SynthesizedStack

__all__ = ["main"]

EXIT_OK = 0
EXIT_CONFIG = 2
EXIT_POLICY = 3
EXIT_SCHEMA = 4


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit 2 with one line (no usage dump into CI logs)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_CONFIG, f"blueprint: {message} (see 'blueprint {self.prog.split()[-1]} --help')\n")


def _synthesize(stack: str, *, preview: bool = True) -> SynthesizedStack:
    from arcblueprint.preview.harness import synthesize

    return synthesize(stack, preview=preview)


def _preview(args: argparse.Namespace) -> int:
    from arcblueprint.policy.offline import evaluate, new_in_first_preview
    from arcblueprint.preview import render
    from arcblueprint.preview.schema_check import check_stack

    started = time.perf_counter()
    graph = _synthesize(args.stack, preview=not args.update)
    elapsed = time.perf_counter() - started
    unknown_inputs = check_stack(graph)
    report = evaluate(graph)
    # What the engine's first preview of a new stack sees: ids and ARNs unknown. A policy that reads
    # one there is skipped by the engine with an advisory note; a violation only it finds is real too.
    first = evaluate(graph, first_preview=True)
    first_only = new_in_first_preview(report, first)
    code = EXIT_SCHEMA if unknown_inputs else EXIT_POLICY if report.mandatory or first_only else EXIT_OK
    if args.json:
        document = graph.as_json()
        document["policy"] = report.as_json()
        document["firstPreview"] = {**first.as_json(), "onlyHere": [v.line() for v in first_only]}
        document["schema"] = [u.line() for u in unknown_inputs]
        text = json.dumps(document, indent=2, sort_keys=True, default=str)
        if args.json == "-":
            print(text)
            return code
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    print(render.tree(graph))
    print("\nResources by type:")
    print(render.counts_text(graph))
    print("\nEvent routes (source, detail type -> rule -> target, with its DLQ and retries):")
    print(render.routing_text(graph))
    print("\nOutputs:")
    print(render.outputs_text(graph))
    if unknown_inputs:
        print(f"\nProvider schema ({len(unknown_inputs)} inputs pulumi-aws would reject):")
        for problem in unknown_inputs:
            print(f"  [error] {problem.line()}")
    print(
        f"\nPolicies ({len(report.mandatory)} mandatory, {len(report.advisory)} advisory violations, "
        f"{len(report.waived)} waived):"
    )
    for line in report.summary_lines():
        print(f"  {line}")
    print("\n" + "\n".join(_first_preview_lines(first, first_only)))
    print(
        f"\nSynthesized {len(graph.resources)} resources for stack '{args.stack}' offline in {elapsed:.2f}s "
        f"({'preview' if not args.update else 'update'} mode, mock runtime; nothing was deployed)."
    )
    if args.json:
        print(f"Wrote the full graph to {args.json}.")
    return code


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
    for policy, skipped in per_resource.items():
        example = skipped[0]
        lines.append(
            f"  [not judged] {policy} for {len(skipped)} resources (e.g. "
            f"'{example.urn.rsplit('::', 1)[-1]}': {example.message}); the engine judges each when "
            "`pulumi up` creates it"
        )
    lines += [f"  {v.line()}" for v in first_only]
    return lines


def _graph(args: argparse.Namespace) -> int:
    from arcblueprint.preview import render

    graph = _synthesize(args.stack)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.stack}.mmd").write_text(render.mermaid(graph), encoding="utf-8")
    (out / f"{args.stack}.dot").write_text(render.dot(graph), encoding="utf-8")
    print(f"Wrote {out / (args.stack + '.mmd')} and {out / (args.stack + '.dot')} ({len(graph.resources)} resources).")
    return EXIT_OK


def _diff(args: argparse.Namespace) -> int:
    from arcblueprint.preview import render

    lines = render.diff_stacks(_synthesize(args.left), _synthesize(args.right))
    print("\n".join(lines) if lines else f"No input differs between {args.left} and {args.right}.")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="blueprint", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    preview = commands.add_parser("preview", help="run the stack program offline under mocks and check policies")
    preview.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    preview.add_argument("--json", metavar="FILE", help="write the synthesized graph as JSON ('-' for stdout)")
    preview.add_argument("--update", action="store_true", help="run in update mode instead of preview mode")
    preview.set_defaults(handler=_preview)

    graph = commands.add_parser("graph", help="write the resource graph as Mermaid and DOT")
    graph.add_argument("--stack", required=True)
    graph.add_argument("--out", default="out", help="output folder (default: out/)")
    graph.set_defaults(handler=_graph)

    diff = commands.add_parser("diff", help="show per resource the inputs that differ between two stacks")
    diff.add_argument("left")
    diff.add_argument("right")
    diff.set_defaults(handler=_diff)

    from arcblueprint.deploy.cli import register

    register(commands)
    from arcblueprint.cost.cli import register as register_cost
    from arcblueprint.tuning.cli import register as register_tune

    register_cost(commands)
    register_tune(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    from arcblueprint.config import ConfigError

    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except ConfigError as error:
        print(f"blueprint: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
