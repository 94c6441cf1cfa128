"""``blueprint``: the offline preview, graph and diff of a stack, and the CI/CD deployment driver.

Exit codes: 0 success, 2 invalid config or usage, 3 mandatory policy violation, 4 an input the AWS
provider's schema does not have (the engine preview would fail); the deployment commands add
their own (see ``docs/deploy.md``). What failed goes to standard error, and a failing preview's
last line says that it failed and why; standard output is the same bytes on every run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from arcblueprint.preview.harness import SynthesizedStack

__all__ = ["main"]

EXIT_OK = 0
EXIT_CONFIG = 2
EXIT_POLICY = 3
EXIT_SCHEMA = 4


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit 2 with one line (no usage dump into CI logs)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_CONFIG, f"blueprint: {message} (see 'blueprint {self.prog.split()[-1]} --help')\n")


def _synthesize(stack: str, *, preview: bool = True) -> SynthesizedStack:
    from arcblueprint.preview.harness import synthesize

    return synthesize(stack, preview=preview)


def _preview(args: argparse.Namespace) -> int:
    from arcblueprint.preview.report import preview_report

    started = time.perf_counter()
    graph = _synthesize(args.stack, preview=not args.update)
    elapsed = time.perf_counter() - started
    result = preview_report(graph, tree=args.tree)
    if args.json == "-":
        print(result.json_text())
    else:
        if args.json:
            Path(args.json).write_text(result.json_text() + "\n", encoding="utf-8")
            result.out.append(f"Wrote the full graph to {args.json}.")
        print("\n".join(result.out))
    sys.stdout.flush()  # the report first, then what failed: the failure line is the run's last line
    # Timing varies from run to run: kept off standard output, which two runs print byte for byte.
    print(f"blueprint: synthesized {len(graph.resources)} resources in {elapsed:.2f}s", file=sys.stderr)
    if result.err:
        print("\n".join(result.err), file=sys.stderr)
    return result.code


def _graph(args: argparse.Namespace) -> int:
    from arcblueprint.preview import graphs

    graph = _synthesize(args.stack)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.by_service:
        path = out / f"{args.stack}.services.mmd"
        text = graphs.component_mermaid(graph)
        path.write_text(text, encoding="utf-8")
        edges = text.count(" --> ")
        print(
            f"Wrote {path} ({len(graphs.component_graph(graph).top)} components, {edges} edges, "
            f"{len(text)} characters; Mermaid draws up to {graphs.MERMAID_MAX_EDGES} edges and "
            f"{graphs.MERMAID_MAX_TEXT} characters)."
        )
        return EXIT_OK
    (out / f"{args.stack}.mmd").write_text(graphs.mermaid(graph), encoding="utf-8")
    (out / f"{args.stack}.dot").write_text(graphs.dot(graph), encoding="utf-8")
    print(f"Wrote {out / (args.stack + '.mmd')} and {out / (args.stack + '.dot')} ({len(graph.resources)} resources).")
    return EXIT_OK


def _diff(args: argparse.Namespace) -> int:
    from arcblueprint.preview.diffing import diff_snapshots, diff_text
    from arcblueprint.preview.harness import REPO_ROOT
    from arcblueprint.preview.revision import RevisionError, snapshot_at
    from arcblueprint.preview.snapshot import snapshot

    if args.against is not None:
        if args.right is not None:
            raise _UsageError("give one stack with --against (its other revision is the left side)")
        try:
            commit, left = snapshot_at(args.against, args.left, repo=REPO_ROOT)
        except RevisionError as error:
            print(f"blueprint: diff FAILED: {error}", file=sys.stderr)
            return EXIT_CONFIG
        right = snapshot(_synthesize(args.left))
        labels = (f"{args.left}@{args.against} ({commit[:12]})", f"{args.left} (working tree)")
    else:
        if args.right is None:
            raise _UsageError("give two stacks (blueprint diff dev prod) or one with --against <git-ref>")
        left, right = snapshot(_synthesize(args.left)), snapshot(_synthesize(args.right))
        labels = (args.left, args.right)
    print(diff_text(diff_snapshots(left, right, left_label=labels[0], right_label=labels[1])))
    return EXIT_OK


class _UsageError(Exception):
    """A command line that parses but does not make sense; exits 2 like argparse's errors."""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="blueprint", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    preview = commands.add_parser("preview", help="run the stack program offline under mocks and check policies")
    preview.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    preview.add_argument("--json", metavar="FILE", help="write the synthesized graph as JSON ('-' for stdout)")
    preview.add_argument("--update", action="store_true", help="run in update mode instead of preview mode")
    view = preview.add_mutually_exclusive_group()
    view.add_argument(
        "--summary",
        dest="tree",
        action="store_false",
        help="one line per service and platform piece (the default)",
    )
    view.add_argument("--tree", dest="tree", action="store_true", help="the full resource tree and counts by type")
    preview.set_defaults(handler=_preview, tree=False)

    graph = commands.add_parser("graph", help="write the resource graph as Mermaid and DOT")
    graph.add_argument("--stack", required=True)
    graph.add_argument("--out", default="out", help="output folder (default: out/)")
    graph.add_argument(
        "--by-service",
        action="store_true",
        help="one node per component with the edges between components (<stack>.services.mmd)",
    )
    graph.set_defaults(handler=_graph)

    diff = commands.add_parser(
        "diff",
        help="what differs between two stacks, or a stack and itself at another git revision (--against)",
    )
    diff.add_argument("left", help="a stack (the left side, or the stack to compare across revisions)")
    diff.add_argument("right", nargs="?", help="the other stack")
    diff.add_argument(
        "--against",
        metavar="GIT_REF",
        help="compare LEFT as this revision declares it (exported with git archive) with the working tree",
    )
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
    except _UsageError as error:
        print(f"blueprint: {error} (see 'blueprint {args.command} --help')", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
