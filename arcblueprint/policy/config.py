"""The pack config for one stack: enforcement levels, rule parameters and waivers.

``pack_config_for(stack)`` returns the JSON object that ``pulumi preview --policy-pack-config``
and the Automation API's ``policy_pack_configs`` take, keyed by policy name::

    {"tags-required": {"enforcementLevel": "mandatory",
                       "requiredTags": ["owner", "environment", "service", "cost-center"],
                       "waivers": [{"resource": "legacy-bucket", "reason": "..."}]}, ...}

The offline preview evaluates the same policies with the same config, so both agree. Write it
for the real CLI with ``python -m arcblueprint.policy.config --stack prod > policy-config.prod.json``.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import json
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from arcblueprint.config.schema import ConfigError
from arcblueprint.planning.cidr import NetworkDemand, plan_vpc

if TYPE_CHECKING:
    from arcblueprint.config.model import StackConfig

__all__ = [
    "GovernedException",
    "check_exceptions",
    "governed_exceptions",
    "pack_config_for",
    "planned_prefix_length",
    "policy_parameters",
]

#: Tags the blueprint adds itself (``StackContext.tags``) on top of the stack's required ones.
_BLUEPRINT_TAGS = ("environment", "service")


def planned_prefix_length(stack: StackConfig) -> int:
    """The VPC prefix length the CIDR planner computes for the stack's network demand (with headroom)."""
    return int(plan_vpc(NetworkDemand.from_spec(stack.network)).prefix_length)


def _public_routes(stack: StackConfig) -> list[str]:
    """Methods/routes the service specs declare public, as ``api-method-authorized`` matches them.

    A spec may list ``public_routes`` (HTTP API route keys such as ``GET /health``, or logical
    names) or ``public_operations`` (comfortable-rest: operation names; its component names each
    method ``<service>-<operation>`` and is itself named after the service).
    """
    routes: list[str] = []
    for service, spec in stack.services.items():
        routes.extend(str(r) for r in getattr(spec, "public_routes", ()) or ())
        routes.extend(f"{service}-{op}" for op in getattr(spec, "public_operations", ()) or ())
    return sorted(set(routes))


def policy_parameters(stack: StackConfig) -> dict[str, dict[str, Any]]:
    """Per policy name, the parameters the stack config determines."""
    from arcblueprint.config.model import REQUIRED_TAGS

    required_tags = [*REQUIRED_TAGS, *(t for t in _BLUEPRINT_TAGS if t not in REQUIRED_TAGS)]
    return {
        "tags-required": {"requiredTags": required_tags},
        "release-safety": {"environment": stack.environment},
        "stateful-protected": {"environment": stack.environment},
        "vpc-cidr-within-plan": {"plannedPrefixLength": planned_prefix_length(stack)},
        "api-method-authorized": {"publicRoutes": _public_routes(stack)},
        "lambda-code-signed": {"environment": stack.environment},
        # The web ACL profile each service's pattern declares, and the services whose senders are allow-listed.
        "api-waf-protected": {
            "sqlInjectionServices": sorted(
                name for name, spec in stack.services.items() if getattr(spec, "waf_inspects_sql", False)
            ),
            "senderAllowListServices": sorted(
                name for name, spec in stack.services.items() if getattr(spec, "allowed_sender_ranges", ())
            ),
        },
        "apigateway-logging-after-account": {"manageApiGatewayAccount": stack.logging.manage_api_gateway_account},
        # Rotation functions live outside the stack: their roles are known from config only.
        "secret-rotation-not-denied": {
            "rotationRoles": {
                spec.rotation_function_arn: spec.rotation_role_arn
                for spec in stack.secrets.values()
                if spec.rotation_function_arn and spec.rotation_role_arn
            }
        },
    }


@functools.cache
def _policy_names() -> tuple[tuple[str, ...], frozenset[str]]:
    """(every policy name of the pack, the correctness rules' names), read without building the pack (no CrossGuard)."""
    from arcblueprint.policy.names import correctness_names, pack_names

    return pack_names(), correctness_names()


def _today() -> date:
    """The date waivers expire against (UTC, so a run does not depend on the runner's time zone)."""
    return datetime.now(UTC).date()


def _unknown_policy(key: str, name: str, names: tuple[str, ...]) -> ConfigError:
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = (
        f"did you mean '{close[0]}'?"
        if close
        else "the names are listed in docs/policy.md and by 'python -m arcblueprint.policy.config --list'"
    )
    return ConfigError(key, name, f"names no policy of the pack ({hint})")


def check_exceptions(stack: StackConfig, today: date | None = None) -> None:
    """The governance rules of overrides and waivers, checked when the stack config is validated.

    * every override and waiver names a policy of the pack (with a close match suggested);
    * a correctness rule cannot be weakened (it stays mandatory; a waiver with a reason still works);
    * in production, an override that weakens a rule (``disabled``, or ``advisory`` under
      ``enforcement: mandatory``) needs a ``reason``;
    * a waiver past its ``expires`` date fails the run, naming it.
    """
    names, correctness = _policy_names()
    spec = stack.policy
    for name, override in spec.overrides.items():
        key = f"policy.overrides.{name}"
        if name not in names:
            raise _unknown_policy(key, name, names)
        if name in correctness and override.level != "mandatory":
            raise ConfigError(
                key,
                override.level,
                "is a correctness rule (AWS would reject the deploy or the feature would not work), mandatory "
                "in every stack: waive one resource with a reason in policy.waivers instead",
            )
        if stack.is_production and override.weakens(spec.enforcement) and not override.reason:
            raise ConfigError(
                key,
                override.level,
                f"weakens a {spec.enforcement} rule in production, which needs a reason as a waiver does: "
                f"write it as {{level: {override.level}, reason: '<why, for the reviewers>'}}",
            )
    today = today or _today()
    for i, waiver in enumerate(spec.waivers):
        if waiver.policy not in names:
            raise _unknown_policy(f"policy.waivers[{i}].policy", waiver.policy, names)
        expiry = waiver.expiry_date
        if expiry is not None and today >= expiry:
            raise ConfigError(
                f"policy.waivers[{i}].expires",
                waiver.expires,
                f"the waiver of {waiver.policy} for {waiver.resource} expired on {expiry.isoformat()}: fix the "
                "resource and remove the waiver, or renew it with a new date and the reason it still holds",
            )


@dataclass(frozen=True)
class GovernedException:
    """An override or a waiver of the stack, as every preview lists it."""

    kind: str  # "override" or "waiver"
    policy: str
    #: The override's level, or the waived resource's logical name.
    subject: str
    reason: str | None
    #: For an override: whether it weakens the rule compared with the stack's enforcement.
    weakens: bool = False
    expires: str | None = None

    def line(self) -> str:
        why = f": {self.reason}" if self.reason else " (no reason given)"
        if self.kind == "override":
            weaker = " (weaker than the stack's enforcement)" if self.weakens else ""
            return f"[override] {self.policy} -> {self.subject}{weaker}{why}"
        until = f" (until {self.expires[:10]})" if self.expires else ""
        return f"[waiver] {self.policy} for {self.subject}{until}{why}"

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"policy": self.policy, "reason": self.reason}
        if self.kind == "override":
            document.update(level=self.subject, weakens=self.weakens)
        else:
            document.update(resource=self.subject, expires=self.expires)
        return document


def governed_exceptions(stack: StackConfig) -> list[GovernedException]:
    """Every override (by policy name) then every waiver (in config order) of the stack."""
    spec = stack.policy
    overrides = [
        GovernedException("override", name, o.level, o.reason, weakens=o.weakens(spec.enforcement))
        for name, o in sorted(spec.overrides.items())
    ]
    waivers = [GovernedException("waiver", w.policy, w.resource, w.reason, expires=w.expires) for w in spec.waivers]
    return overrides + waivers


def pack_config_for(stack: StackConfig) -> dict[str, dict[str, Any]]:
    """The policy pack config for ``stack`` (its overrides and waivers were checked with the stack config)."""
    names, correctness = _policy_names()
    spec = stack.policy
    parameters = policy_parameters(stack)
    config: dict[str, dict[str, Any]] = {}
    for name in names:
        override = spec.overrides.get(name)
        level = "mandatory" if name in correctness else override.level if override else spec.enforcement
        entry: dict[str, Any] = {"enforcementLevel": level}
        entry.update(parameters.get(name, {}))
        waivers = [{"resource": w.resource, "reason": w.reason} for w in spec.waivers if w.policy == name]
        if waivers:
            entry["waivers"] = waivers
        config[name] = entry
    return config


def main(argv: list[str] | None = None) -> int:
    """Print the pack config of a stack as JSON (for ``--policy-pack-config``)."""
    from pathlib import Path

    from arcblueprint.config import load

    repo_root = Path(__file__).resolve().parents[2]  # the checkout's Pulumi.yaml (not the harness: no Pulumi here)

    parser = argparse.ArgumentParser(prog="python -m arcblueprint.policy.config", description=main.__doc__)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--stack")
    which.add_argument("--list", action="store_true", help="print the pack's policy names, one a line")
    args = parser.parse_args(argv)
    if args.list:
        names, correctness = _policy_names()
        for name in names:
            print(f"{name}{'  (correctness rule: mandatory everywhere)' if name in correctness else ''}")
        return 0
    try:
        stack = load(repo_root, args.stack)
        print(json.dumps(pack_config_for(stack), indent=2, sort_keys=True))
    except ConfigError as error:
        print(f"{parser.prog}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
