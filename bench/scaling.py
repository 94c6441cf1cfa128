"""Preview time of generated stacks with 1, 10, 50 and 100 services (patterns taken in turn).

Each service is a copy of a pattern's dev example (``arcblueprint/services/<pattern>/stack-example.yaml``)
under a new name; the floor is the same graph registered by a bare program (see ``floor.py``).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def example_services() -> list[dict[str, Any]]:
    """The dev example entry of every pattern that ships one, in a fixed order.

    Copies under new names can neither publish domain events (a publisher needs a schema folder named after
    the service) nor subscribe to the examples' sources (those services are not in the generated stack), so
    publishing patterns are left out and subscriptions dropped: the benchmark measures how the program scales
    with the number of services, not the event catalog.
    """
    from arcblueprint.services.event_wiring import PUBLISHING_PATTERNS

    entries = []
    for path in sorted((ROOT / "arcblueprint" / "services").glob("*/stack-example.yaml")):
        dev = yaml.safe_load(path.read_text())["dev"]
        for entry in dev.values():
            if entry["pattern"] not in PUBLISHING_PATTERNS:
                entries.append({key: value for key, value in entry.items() if key != "subscribe"})
    return entries


def stack_with_services(count: int, stack: str = "dev") -> dict[str, Any]:
    from arcblueprint.config import read_stack_file

    values = read_stack_file(ROOT, stack)
    examples = example_services()
    services = {}
    for i in range(count):
        entry = copy.deepcopy(examples[i % len(examples)])
        services[f"svc{i:03d}-{entry['pattern']}"[:24].rstrip("-")] = entry
    values["arcblueprint:services"] = services
    values.setdefault("arcblueprint:secrets", {}).update(_secrets_needed(services))
    # Per-service WAF settings name the shipped services, which these replace; the stack-wide default stays.
    waf = values.get("arcblueprint:waf")
    if isinstance(waf, dict):
        values["arcblueprint:waf"] = {k: v for k, v in waf.items() if k != "services"}
    return values


def _secrets_needed(services: dict[str, Any]) -> dict[str, Any]:
    names = {
        value
        for entry in services.values()
        for key, value in entry.items()
        if key.endswith("SecretName") or key == "signingSecret"
    }
    return {name: {"description": f"{name} (benchmark)"} for name in names}
