"""``blueprint cost``: the stack's idle cost per month and its services' cost per million requests.

Offline, from the synthesized graph (no AWS call) and ``arcblueprint/cost/prices.toml``.
``--compare OTHER`` prints what changes from the stack to OTHER (``--stack dev --compare prod``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

    from arcblueprint.cost.paths import Workload
    from arcblueprint.cost.profile import CostProfile

__all__ = ["register"]

EXIT_OK = 0
EXIT_CONFIG = 2


def _profile(stack: str, workload: Workload) -> CostProfile:
    from arcblueprint.cost.profile import cost_profile
    from arcblueprint.preview.harness import synthesize

    return cost_profile(synthesize(stack), workload=workload)


def _cost(args: argparse.Namespace) -> int:
    from arcblueprint.cost.paths import Workload
    from arcblueprint.cost.prices import UnknownPriceError
    from arcblueprint.cost.profile import diff_lines, render

    workload = Workload(duration_ms=args.duration_ms, item_kb=args.item_kb, payload_kb=args.payload_kb)
    try:
        profile = _profile(args.stack, workload)
        other = _profile(args.compare, workload) if args.compare else None
    except UnknownPriceError as error:
        print(f"blueprint: {error}")
        return EXIT_CONFIG
    if args.json:
        document = profile.as_json()
        if other is not None:
            document = {"left": document, "right": other.as_json()}
        print(json.dumps(document, indent=2, sort_keys=True))
        return EXIT_OK
    print("\n".join(render(profile, detail=not args.summary)))
    if other is not None:
        print(f"\n--- {args.stack} -> {args.compare} ---")
        print("\n".join(diff_lines(profile, other)))
    return EXIT_OK


def register(commands: argparse._SubParsersAction[Any]) -> None:
    cost = commands.add_parser("cost", help="idle cost per month and cost per 1M requests of each service (offline)")
    cost.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    cost.add_argument("--compare", metavar="STACK", help="also show what changes from --stack to this stack")
    cost.add_argument("--json", action="store_true", help="print the profile (both, with --compare) as JSON")
    cost.add_argument("--summary", action="store_true", help="totals per piece and service, without their lines")
    cost.add_argument("--duration-ms", type=float, default=100.0, help="billed ms per invocation (default: 100)")
    cost.add_argument("--item-kb", type=float, default=1.0, help="KB per stored item (default: 1)")
    cost.add_argument("--payload-kb", type=float, default=1.0, help="KB per message or event (default: 1)")
    cost.set_defaults(handler=_cost)
