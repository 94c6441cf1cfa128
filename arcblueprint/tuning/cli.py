"""``blueprint tune``: measure a function at several memory sizes, choose one, write it into the stack file.

    blueprint tune --stack dev --function orders-api --strategy balanced --payload get-order.json

The function is named by its logical name (``orders-api``, as in ``blueprint preview``); the
stack's synthesized graph gives its physical name and architecture. The choice is written as
``arcblueprint:functions.memoryMibByFunction.<function>`` in ``Pulumi.<stack>.yaml``; ``pulumi
up`` then applies it. Exit codes: 0 done, 2 invalid arguments or config, 5 the run failed in AWS.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

__all__ = ["register"]

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_RUN = 5


def _memory_sizes(text: str) -> list[int]:
    sizes = []
    for part in text.split(","):
        value = int(part)
        if not 128 <= value <= 10240:
            raise ValueError(f"memory size {value} is outside 128-10240 MB")
        sizes.append(value)
    if len(set(sizes)) != len(sizes):
        raise ValueError("memory sizes repeat")
    return sorted(sizes)


def _tune(args: argparse.Namespace) -> int:
    from arcblueprint.config import load
    from arcblueprint.cost.prices import load_prices
    from arcblueprint.deploy.tune import DEFAULT_MEMORY, tune_function
    from arcblueprint.preview.harness import REPO_ROOT, synthesize
    from arcblueprint.tuning.analysis import TuningError, chart, choose, table
    from arcblueprint.tuning.stack_file import StackFileError, set_function_memory

    config = load(REPO_ROOT, args.stack)
    if config.is_production and not args.allow_prod:
        print(
            f"blueprint: refusing to tune in '{args.stack}' (a production stack): every invocation runs the function "
            "for real; pass --allow-prod if the payload is safe to repeat there",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        sizes = _memory_sizes(args.memory) if args.memory else list(DEFAULT_MEMORY)
    except ValueError as error:
        print(f"blueprint: --memory: {error}", file=sys.stderr)
        return EXIT_USAGE
    payload = Path(args.payload).read_bytes() if args.payload else b"{}"
    if args.payload:
        try:
            json.loads(payload)
        except ValueError:
            print(f"blueprint: --payload {args.payload} is not JSON", file=sys.stderr)
            return EXIT_USAGE
    graph = synthesize(args.stack)
    function = next(
        (r for r in graph.by_type("aws:lambda/function:Function") if r.name == f"{args.function}-function"), None
    )
    if function is None:
        known = sorted(r.name.removesuffix("-function") for r in graph.by_type("aws:lambda/function:Function"))
        print(
            f"blueprint: no function '{args.function}' in stack '{args.stack}' (functions: {', '.join(known)})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    prices = load_prices(config.region)

    import boto3  # only the tuning run needs AWS

    client = boto3.client("lambda", region_name=config.region)
    try:
        run = tune_function(
            client,
            function.inputs["name"],
            sizes,
            invocations=args.invocations,
            payload=payload,
            progress=lambda line: print(f"  {line}", file=sys.stderr),
        )
        chosen = choose(run.measurements, args.strategy, prices)
    except TuningError as error:
        print(f"blueprint: {error}", file=sys.stderr)
        return EXIT_RUN
    print("\n".join(table(run.measurements, prices, chosen)))
    print()
    print("\n".join(chart(run.measurements, prices)))
    print(
        f"\nStrategy '{args.strategy}': {chosen.memory_mib} MB ({chosen.median_ms:.0f} ms median, "
        f"${chosen.cost(prices) * 1e6:.2f} per 1M invocations; now {run.original_memory_mib} MB)."
    )
    if args.dry_run:
        return EXIT_OK
    path = REPO_ROOT / f"Pulumi.{args.stack}.yaml"
    try:
        path.write_text(set_function_memory(path.read_text(encoding="utf-8"), args.function, chosen.memory_mib))
    except StackFileError as error:
        print(f"blueprint: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"Wrote functions.memoryMibByFunction.{args.function}: {chosen.memory_mib} into {path.name}; run pulumi up.")
    return EXIT_OK


def register(commands: argparse._SubParsersAction[Any]) -> None:
    from arcblueprint.tuning.analysis import STRATEGIES

    tune = commands.add_parser("tune", help="power-tune one function's memory and write the choice into the stack")
    tune.add_argument("--stack", required=True, help="stack name: reads and writes Pulumi.<stack>.yaml")
    tune.add_argument("--function", required=True, help="the function's logical name, e.g. orders-api")
    tune.add_argument("--strategy", choices=STRATEGIES, default="balanced", help="what to optimize (default: balanced)")
    tune.add_argument("--memory", help="memory sizes in MB, comma-separated (default: 128,256,512,1024,1536,3008)")
    tune.add_argument("--invocations", type=int, default=10, help="invocations per memory size (default: 10)")
    tune.add_argument("--payload", metavar="FILE", help="JSON event to invoke with (default: {})")
    tune.add_argument("--allow-prod", action="store_true", help="allow a production stack (the payload runs for real)")
    tune.add_argument("--dry-run", action="store_true", help="measure and choose, but do not write the stack file")
    tune.set_defaults(handler=_tune)
