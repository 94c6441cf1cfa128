"""IAM: no ``*`` actions; ``*`` resources only for actions that cannot be scoped to a resource.

Checked: identity policies (role inline policies, ``RolePolicy``, managed ``Policy``, user and
group policies). Not checked: trust policies (``assumeRolePolicy`` grants no actions) and
resource policies (KMS key policies, bucket/queue/topic policies), where ``"Resource": "*"``
means "this resource" because a resource policy cannot name another one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from arcblueprint.policy.base import as_list, dig, json_document, resource_policy
from arcblueprint.policy.wiring._props import statements

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from pulumi_policy import ResourceValidationArgs

    from arcblueprint.policy.base import ReportViolation

__all__ = [
    "NO_STAR_ACTION",
    "NO_STAR_RESOURCE",
    "POLICIES",
    "STAR_RESOURCE_ACTIONS",
    "STAR_RESOURCE_ALLOWLIST",
    "allow_statements",
]

ROLE = "aws:iam/role:Role"
IDENTITY_POLICY_TYPES = (
    ROLE,
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/policy:Policy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)

#: Actions AWS does not let you scope to a resource, so ``"Resource": "*"`` is the only option.
STAR_RESOURCE_ACTIONS: dict[str, str] = {
    "xray:PutTraceSegments": "X-Ray has no resource-level permissions; Lambda active tracing needs it.",
    "xray:PutTelemetryRecords": "X-Ray has no resource-level permissions; the X-Ray SDK/daemon sends these.",
    "xray:GetSamplingRules": "X-Ray has no resource-level permissions for reading sampling rules.",
    "xray:GetSamplingTargets": "X-Ray has no resource-level permissions for sampling targets.",
    "cloudwatch:PutMetricData": "CloudWatch metrics have no ARN; scope with the cloudwatch:namespace condition.",
    # VPC Lambda: as in AWSLambdaVPCAccessExecutionRole. Lambda checks the role when a function's VPC
    # settings are saved, in a way AWS does not document for resource-scoped statements.
    "ec2:CreateNetworkInterface": "VPC Lambda: the ENI does not exist yet, so it has no ARN to name.",
    "ec2:DescribeNetworkInterfaces": "Describe* calls in EC2 do not support resource-level permissions.",
    "ec2:DescribeSubnets": "Describe* calls in EC2 do not support resource-level permissions (VPC Lambda).",
    "ec2:DeleteNetworkInterface": "VPC Lambda deletes Hyperplane ENIs it created; their ids are not known.",
    "ec2:AssignPrivateIpAddresses": "VPC Lambda assigns addresses on ENIs whose ids are not known.",
    "ec2:UnassignPrivateIpAddresses": "VPC Lambda releases addresses on ENIs whose ids are not known.",
    "ecr:GetAuthorizationToken": "The registry login token is account-wide; it has no resource.",
    "sts:GetCallerIdentity": "Always allowed and has no resource.",
    # Step Functions (and other vended logs) deliver to CloudWatch Logs through log deliveries; AWS's
    # Step Functions guide requires these on "*": deliveries have no ARN before they exist.
    "logs:CreateLogDelivery": "Vended log deliveries have no ARN before they are created (Step Functions logging).",
    "logs:GetLogDelivery": "Vended log deliveries support no resource-level permissions.",
    "logs:UpdateLogDelivery": "Vended log deliveries support no resource-level permissions.",
    "logs:DeleteLogDelivery": "Vended log deliveries support no resource-level permissions.",
    "logs:ListLogDeliveries": "List calls have no resource.",
    "logs:PutResourcePolicy": "The CloudWatch Logs resource policy is account-wide (used by vended log delivery).",
    "logs:DescribeResourcePolicies": "The CloudWatch Logs resource policy is account-wide.",
    "logs:DescribeLogGroups": "Describe of log groups supports no resource-level permissions for delivery setup.",
}
STAR_RESOURCE_ALLOWLIST = tuple(STAR_RESOURCE_ACTIONS)


def _documents(args: ResourceValidationArgs) -> Iterator[tuple[str, Any]]:
    if args.resource_type == ROLE:
        for inline in as_list(args.props.get("inlinePolicies")):
            yield f"inline policy {dig(inline, 'name')!r}", json_document(dig(inline, "policy"))
    else:
        yield "policy", json_document(args.props.get("policy"))


def allow_statements(document: Any) -> Iterator[Mapping[str, Any]]:
    for statement in statements(document):
        if statement.get("Effect", "Allow") == "Allow":
            yield statement


def _is_star_action(action: Any) -> bool:
    return isinstance(action, str) and (action == "*" or action.endswith(":*"))


def validate_no_star_action(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Least privilege starts with naming the actions: ``*`` and ``service:*`` grant future actions too."""
    for where, document in _documents(args):
        for statement in allow_statements(document):
            stars = [a for a in as_list(statement.get("Action")) if _is_star_action(a)]
            if stars:
                report_violation(f"IAM {where} of '{args.name}' allows {', '.join(stars)}; list the actions needed.")
            if statement.get("NotAction") is not None:
                report_violation(
                    f"IAM {where} of '{args.name}' allows NotAction, which grants every other "
                    "action; list the actions needed."
                )


NO_STAR_ACTION = resource_policy(
    "iam-no-star-action",
    "IAM identity policies never allow '*' or 'service:*' actions.",
    validate_no_star_action,
    types=IDENTITY_POLICY_TYPES,
)


def validate_star_resource(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """``"Resource": "*"`` only where every action in the statement cannot be scoped (allow-list)."""
    allowed = set(args.get_config().get("allowedActions") or STAR_RESOURCE_ALLOWLIST)
    for where, document in _documents(args):
        for statement in allow_statements(document):
            if "*" not in as_list(statement.get("Resource")) and statement.get("NotResource") is None:
                continue
            actions = [str(a) for a in as_list(statement.get("Action"))]
            scoped = sorted(a for a in actions if a not in allowed)
            if scoped or not actions:
                report_violation(
                    f"IAM {where} of '{args.name}' allows {', '.join(scoped) or 'its actions'} on "
                    "every resource; name the resources (ARNs)."
                )


NO_STAR_RESOURCE = resource_policy(
    "iam-star-resource-allowlisted",
    "IAM identity policies use Resource '*' only for actions that cannot be scoped to a resource.",
    validate_star_resource,
    types=IDENTITY_POLICY_TYPES,
    parameters={
        "allowedActions": {"type": "array", "items": {"type": "string"}, "default": list(STAR_RESOURCE_ALLOWLIST)}
    },
)

POLICIES = [NO_STAR_ACTION, NO_STAR_RESOURCE]
