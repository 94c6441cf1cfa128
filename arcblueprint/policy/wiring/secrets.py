"""Secret rotation: the rotation function can do its four steps, and it starts only once there is a value.

A Lambda rotation function's role calls ``DescribeSecret``, ``GetSecretValue``, ``PutSecretValue``
and ``UpdateSecretVersionStage`` on the secret (AWS's "Lambda rotation function execution role
permissions"). A Deny in the secret's own resource policy beats any Allow in the role's policy,
so a readers-only Deny that does not exempt the rotation role breaks every rotation (the secret
keeps its old value, and the rotation is marked failed).

``SecretRotation.rotateImmediately`` defaults to true in the provider (as in ``RotateSecret``):
declared next to a new secret that has no value yet (the value is put out of band), the first
rotation runs at once against an empty secret and fails.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from arcblueprint.policy.base import UNKNOWN, as_list, json_document, known, stack_policy, truthy
from arcblueprint.policy.graph import StackGraph

if TYPE_CHECKING:
    from pulumi_policy import PolicyResource, StackValidationArgs

    from arcblueprint.policy.base import ReportViolation

__all__ = ["POLICIES", "ROTATION_ACTIONS", "ROTATION_NOT_DENIED", "ROTATION_WAITS_FOR_VALUE", "denied_actions"]

SECRET = "aws:secretsmanager/secret:Secret"
SECRET_POLICY = "aws:secretsmanager/secretPolicy:SecretPolicy"
SECRET_ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
FUNCTION = "aws:lambda/function:Function"
ALIAS = "aws:lambda/alias:Alias"
ROLE = "aws:iam/role:Role"

#: What a rotation function's role calls on the secret it rotates.
ROTATION_ACTIONS = (
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
)

_PRINCIPAL_ARN = "aws:principalarn"
_NEGATED = ("ArnNotEquals", "ArnNotLike", "StringNotEquals", "StringNotLike")
_POSITIVE = ("ArnEquals", "ArnLike", "StringEquals", "StringLike")


def _matches(value: str, pattern: Any, *, case_sensitive: bool = True) -> bool:
    if not isinstance(pattern, str):
        return False
    if case_sensitive:
        return fnmatch.fnmatchcase(value, pattern)
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def _names(principal: Any, role_arn: str) -> bool:
    """Whether a Principal/NotPrincipal element covers the role (itself, its account, or everyone)."""
    if principal == "*":
        return True
    account_root = role_arn.split(":role/", 1)[0] + ":root"  # arn:aws:iam::<account>:root
    values = as_list(principal.get("AWS")) if isinstance(principal, Mapping) else []
    return any(v in ("*", role_arn, account_root, role_arn.split(":")[4]) for v in values)


def _condition_holds(condition: Any, role_arn: str) -> bool | None:
    """Whether the condition is true for the role's requests; None when it tests something else (unknowable)."""
    if not condition:
        return True
    if not isinstance(condition, Mapping):
        return None
    for operator, tests in condition.items():
        base = str(operator).removesuffix("IfExists")
        if not isinstance(tests, Mapping):
            return None
        for key, values in tests.items():
            if str(key).lower() != _PRINCIPAL_ARN or base not in (*_NEGATED, *_POSITIVE):
                return None
            hit = any(_matches(role_arn, v) for v in as_list(values))  # ARN and String tests are case-sensitive
            if (base in _NEGATED and hit) or (base in _POSITIVE and not hit):
                return False
    return True


def denied_actions(document: Any, role_arn: str) -> list[str]:
    """The rotation actions a resource policy's Deny statements deny to ``role_arn`` (provably, offline)."""
    denied: list[str] = []
    for statement in as_list((document or {}).get("Statement")) if isinstance(document, Mapping) else ():
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Deny":
            continue
        if "NotPrincipal" in statement:
            if _names(statement["NotPrincipal"], role_arn):
                continue
        elif not _names(statement.get("Principal"), role_arn):
            continue
        if _condition_holds(statement.get("Condition"), role_arn) is not True:
            continue
        if "NotAction" in statement:
            excluded = as_list(statement["NotAction"])
            hits = [a for a in ROTATION_ACTIONS if not any(_matches(a, p, case_sensitive=False) for p in excluded)]
        else:
            hits = [
                a
                for a in ROTATION_ACTIONS
                if any(_matches(a, p, case_sensitive=False) for p in as_list(statement.get("Action")))
            ]
        denied.extend(a for a in hits if a not in denied)
    return denied


def _rotation_role(
    graph: StackGraph, rotation: PolicyResource, configured: Mapping[str, Any]
) -> tuple[PolicyResource | None, str | None]:
    """The rotation function's role: the resource when the function is in the stack, and its ARN if known."""
    for target in graph.refs(rotation, "rotationLambdaArn", FUNCTION, ALIAS):
        function = target if target.resource_type == FUNCTION else graph.ref(target, "functionName", FUNCTION)
        role = graph.ref(function, "role", ROLE) if function is not None else None
        if role is not None:
            arn = known(role.props, "arn")  # unknown until the role exists: the role itself still counts
            return role, arn if isinstance(arn, str) and arn else None
        if function is not None:
            arn = known(function.props, "role")
            return None, arn if isinstance(arn, str) and arn else None
    function_arn = known(rotation.props, "rotationLambdaArn")
    arn = configured.get(function_arn) if isinstance(function_arn, str) else None
    return None, arn if isinstance(arn, str) and arn else None


def validate_rotation_not_denied(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """No rotated secret's resource policy denies the rotation function's role a step of the rotation."""
    graph = StackGraph(args.resources)
    configured = (args.get_config() or {}).get("rotationRoles") or {}
    for rotation in graph.of_type(SECRET_ROTATION):
        function_arn = known(rotation.props, "rotationLambdaArn")
        if not function_arn and not graph.refs(rotation, "rotationLambdaArn"):
            continue  # managed (external) rotation: no function of ours
        secret = graph.ref(rotation, "secretId", SECRET)
        if secret is None:
            continue
        role, role_arn = _rotation_role(graph, rotation, configured)
        policies = graph.referrers(secret, SECRET_POLICY, prop="secretArn")
        if role_arn is None and role is None:
            if policies:
                by = f"'{function_arn}'" if isinstance(function_arn, str) else "a function outside the stack"
                report_violation(
                    f"Secret '{secret.name}' is rotated by {by}, whose execution role is unknown, so "
                    f"nothing shows that resource policy '{policies[0].name}' lets it rotate. Set the secret's "
                    "rotationRoleArn in stack config (it is exempted from the readers-only Deny).",
                    rotation.urn,
                )
            continue
        for policy in policies:
            value = known(policy.props, "policy")
            document = json_document(value)
            if document is None:
                # Unknown in preview (computed from new roles' ARNs): the role must at least be one of its inputs.
                if role is not None and role.urn not in {r.urn for r in graph.refs(policy, "policy", ROLE)}:
                    report_violation(
                        f"Resource policy '{policy.name}' of secret '{secret.name}' is not computed from rotation "
                        f"role '{role.name}', so its Deny cannot exempt it and rotation fails. Exempt the rotation "
                        "role from the Deny.",
                        policy.urn,
                    )
                continue
            if role_arn is None:
                continue
            denied = denied_actions(document, role_arn)
            if denied:
                report_violation(
                    f"Resource policy '{policy.name}' of secret '{secret.name}' denies {', '.join(denied)} to "
                    f"{role_arn}, the role of its rotation function; a Deny beats the role's own Allow, so every "
                    "rotation fails. Exempt the rotation role from the Deny (rotationRoleArn in stack config).",
                    policy.urn,
                )


def validate_rotation_waits_for_value(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """A rotation that starts at once is declared only after the secret's first value."""
    graph = StackGraph(args.resources)
    for rotation in graph.of_type(SECRET_ROTATION):
        setting = known(rotation.props, "rotateImmediately")
        if setting is UNKNOWN or (setting is not None and not truthy(setting)):
            continue
        secret = graph.ref(rotation, "secretId", SECRET)
        if secret is None:
            continue
        versions = graph.referrers(secret, SECRET_VERSION, prop="secretId")
        if any(graph.waits_for(rotation, version) for version in versions):
            continue
        state = (
            "is not created before the rotation"
            if versions
            else "is not in the stack (the value is put out of band, after the deploy)"
        )
        report_violation(
            f"Secret rotation '{rotation.name}' rotates secret '{secret.name}' immediately "
            f"(rotateImmediately {'unset, the provider default is true' if setting is None else 'true'}), but its "
            f"first value {state}: the first rotation runs against an empty secret and fails. Set "
            "rotateImmediately=False, or make the rotation depend on the SecretVersion.",
            rotation.urn,
        )


ROTATION_NOT_DENIED = stack_policy(
    "secret-rotation-not-denied",
    "A rotated secret's resource policy does not deny DescribeSecret, GetSecretValue, PutSecretValue or "
    "UpdateSecretVersionStage to its rotation function's role.",
    validate_rotation_not_denied,
    parameters={
        "rotationRoles": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "default": {},
            "description": "Rotation function ARN -> its execution role ARN, for functions outside the stack.",
        }
    },
    remediation_steps="Set rotationRoleArn next to rotationFunctionArn in the secret's stack config.",
)

ROTATION_WAITS_FOR_VALUE = stack_policy(
    "secret-rotation-waits-for-value",
    "A secret rotation that rotates immediately (the provider default) is declared on a secret whose first "
    "SecretVersion it depends on.",
    validate_rotation_waits_for_value,
    remediation_steps="Declare SecretRotation with rotate_immediately=False when the value is set out of band.",
)

POLICIES = [ROTATION_NOT_DENIED, ROTATION_WAITS_FOR_VALUE]
