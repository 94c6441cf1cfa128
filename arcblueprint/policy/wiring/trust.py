"""Trust: a role API Gateway uses as an integration's credentials must let API Gateway assume it.

API Gateway assumes the role on every request to the integration. If the role's trust policy
does not allow ``apigateway.amazonaws.com`` to call ``sts:AssumeRole``, or allows it only under
a condition on a key API Gateway leaves out of the request context, the call fails with
"API Gateway does not have permission to assume the provided role" and the method answers 500.
AWS populates the source keys (``aws:SourceAccount`` and its siblings) only when a service
calls a resource on behalf of a resource owner; API Gateway does not populate
``aws:SourceAccount`` when it assumes an integration role (reported from a live stack, see
docs/policy.md), and no source shows it sends any other source key there, so a condition on
any of them is treated as one that never matches (``...IfExists`` and ``Null: true`` are
satisfied by a missing key, so they pass).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from arcblueprint.policy.base import as_list, is_mapping, json_document, known, stack_policy
from arcblueprint.policy.graph import StackGraph

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pulumi_policy import PolicyResource, StackValidationArgs

    from arcblueprint.policy.base import ReportViolation

__all__ = ["INTEGRATION_ROLE_TRUST", "POLICIES", "UNSENT_KEYS", "blocking_keys"]

ROLE = "aws:iam/role:Role"
#: Integrations and the prop naming the role API Gateway assumes for them.
INTEGRATIONS = {
    "aws:apigateway/integration:Integration": "credentials",
    "aws:apigatewayv2/integration:Integration": "credentialsArn",
}
SERVICE = "apigateway.amazonaws.com"
#: Condition keys (lower case: IAM compares key names case-insensitively) absent when API Gateway assumes
#: an integration role.
UNSENT_KEYS = frozenset({"aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "aws:sourceorgpaths"})


def _trusts_api_gateway(statement: Mapping[str, Any]) -> bool:
    principal = statement.get("Principal")
    services = as_list(principal.get("Service")) if is_mapping(principal) else []
    actions = {str(a).lower() for a in as_list(statement.get("Action"))}
    return (
        statement.get("Effect") == "Allow" and SERVICE in services and bool(actions & {"sts:assumerole", "sts:*", "*"})
    )


def blocking_keys(condition: Any) -> list[str]:
    """The keys of ``condition`` that API Gateway does not send and whose absence fails the condition."""
    found: list[str] = []
    for operator, tests in condition.items() if is_mapping(condition) else ():
        if not is_mapping(tests) or str(operator).endswith("IfExists"):
            continue  # an ...IfExists test is true when the key is missing
        for key, value in tests.items():
            if str(key).lower() not in UNSENT_KEYS:
                continue
            if operator == "Null" and str(value).lower() == "true":
                continue  # "the key is absent": true
            found.append(f"{operator} {key}")
    return found


def validate_integration_role_trust(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Each integration role trusts API Gateway with sts:AssumeRole under conditions API Gateway can meet."""
    graph = StackGraph(args.resources)
    seen: set[str] = set()
    for integration_type, prop in INTEGRATIONS.items():
        for integration in graph.of_type(integration_type):
            for role in graph.refs(integration, prop, ROLE):
                if role.urn in seen:
                    continue
                seen.add(role.urn)
                _check_role(role, integration, report_violation)


def _check_role(role: PolicyResource, integration: PolicyResource, report_violation: ReportViolation) -> None:
    value = known(role.props, "assumeRolePolicy")
    document = json_document(value)
    if document is None:
        return  # unknown in preview (computed trust policy): nothing to judge
    statements = [s for s in as_list(document.get("Statement")) if is_mapping(s) and _trusts_api_gateway(s)]
    if not statements:
        report_violation(
            f"Role '{role.name}' is the credentials of API Gateway integration '{integration.name}' but its trust "
            f"policy does not allow {SERVICE} to call sts:AssumeRole, so every request to the integration fails "
            f"with 500. Add an Allow statement for the service principal {SERVICE} and sts:AssumeRole.",
            role.urn,
        )
        return
    if any(not blocking_keys(s.get("Condition")) for s in statements):
        return  # one statement API Gateway can satisfy is enough
    keys = sorted({k for s in statements for k in blocking_keys(s.get("Condition"))})
    report_violation(
        f"Role '{role.name}' is the credentials of API Gateway integration '{integration.name}' but its trust "
        f"policy lets {SERVICE} assume it only under {', '.join(keys)}; API Gateway does not send that key when "
        "it assumes an integration role, so AssumeRole is denied and every request answers 500. Remove the "
        "condition and bound the role by its permission policy (one action on one resource).",
        role.urn,
    )


INTEGRATION_ROLE_TRUST = stack_policy(
    "apigateway-integration-role-trust",
    "Every role an API Gateway integration uses as credentials trusts apigateway.amazonaws.com with "
    "sts:AssumeRole and does not condition it on a key API Gateway does not send (aws:SourceAccount, aws:SourceArn).",
    validate_integration_role_trust,
    remediation_steps="Trust apigateway.amazonaws.com without an aws:Source* condition; keep the role's permission "
    "policy to the one action the integration calls.",
)

POLICIES = [INTEGRATION_ROLE_TRUST]
