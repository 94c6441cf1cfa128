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
import json
import sys
from typing import TYPE_CHECKING, Any

from arcblueprint.config.schema import ConfigError

if TYPE_CHECKING:
    from arcblueprint.config.model import StackConfig

__all__ = ["pack_config_for", "planned_prefix_length", "policy_parameters"]

#: Tags the blueprint adds itself (``StackContext.tags``) on top of the stack's required ones.
_BLUEPRINT_TAGS = ("environment", "service")


def planned_prefix_length(stack: StackConfig) -> int:
    """The VPC prefix length the CIDR planner computes for the stack's network demand (with headroom)."""
    from arcblueprint.platform.cidr import NetworkDemand, plan_vpc

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


def pack_config_for(stack: StackConfig) -> dict[str, dict[str, Any]]:
    """The policy pack config for ``stack``; raises ConfigError for overrides/waivers of unknown policies."""
    from arcblueprint.policy.pack import all_policies, correctness_policy_names

    names = [p.name for p in all_policies()]
    correctness = correctness_policy_names()
    spec = stack.policy
    for key, name in [
        *((f"policy.overrides.{n}", n) for n in spec.overrides),
        *((f"policy.waivers[{i}].policy", w.policy) for i, w in enumerate(spec.waivers)),
    ]:
        if name not in names:
            raise ConfigError(key, name, "must name a policy of the pack: " + ", ".join(names))
    for name, level in spec.overrides.items():
        if name in correctness and level != "mandatory":
            raise ConfigError(
                f"policy.overrides.{name}",
                level,
                "is a correctness rule (AWS would reject the "
                "deploy or the feature would not work), mandatory in every stack: waive one "
                "resource with a reason in policy.waivers instead",
            )
    parameters = policy_parameters(stack)
    config: dict[str, dict[str, Any]] = {}
    for name in names:
        level = "mandatory" if name in correctness else spec.overrides.get(name, spec.enforcement)
        entry: dict[str, Any] = {"enforcementLevel": level}
        entry.update(parameters.get(name, {}))
        waivers = [{"resource": w.resource, "reason": w.reason} for w in spec.waivers if w.policy == name]
        if waivers:
            entry["waivers"] = waivers
        config[name] = entry
    return config


def main(argv: list[str] | None = None) -> int:
    """Print the pack config of a stack as JSON (for ``--policy-pack-config``)."""
    from arcblueprint.config import load
    from arcblueprint.preview.harness import REPO_ROOT

    parser = argparse.ArgumentParser(prog="python -m arcblueprint.policy.config", description=main.__doc__)
    parser.add_argument("--stack", required=True)
    args = parser.parse_args(argv)
    try:
        stack = load(REPO_ROOT, args.stack)
        print(json.dumps(pack_config_for(stack), indent=2, sort_keys=True))
    except ConfigError as error:
        print(f"{parser.prog}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
