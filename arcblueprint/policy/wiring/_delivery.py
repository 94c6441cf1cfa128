"""What a role a service assumes to deliver (EventBridge, Scheduler) needs: its own policies and the target's key.

A service that delivers with a role (EventBridge to a stream, a delivery stream or a state
machine; Scheduler to any target and its dead-letter queue) is refused unless the role's
identity policies allow the call, and, where the target is encrypted with a customer managed
key, both the role's policies and the key's policy allow the key actions the call needs: a key
policy that admits the account (``arn:aws:iam::<account>:root``) lets IAM policies decide, one
that names neither the account nor the role refuses it whatever IAM says (KMS developer guide,
"Key policies"). Documents still unknown in a preview are not judged.
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

from arcblueprint.policy.base import as_list, is_mapping, json_document, known, known_dig, known_list
from arcblueprint.policy.graph import ATTACHMENT, ROLE_POLICY
from arcblueprint.policy.wiring._props import UNKNOWN, statements

if TYPE_CHECKING:
    from pulumi_policy import PolicyResource

    from arcblueprint.policy.graph import StackGraph

__all__ = [
    "KEY",
    "ROLE",
    "ROLE_POLICY",
    "key_admits_role",
    "key_problems",
    "role_grants",
    "target_key",
]

KEY = "aws:kms/key:Key"
ROLE = "aws:iam/role:Role"
STREAM = "aws:kinesis/stream:Stream"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
#: AWS managed keys: their policies admit the account's principals through the service, no IAM grant needed.
_AWS_MANAGED = ("alias/aws/",)


def _action_matches(patterns: Any, action: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), str(p).lower()) for p in as_list(patterns))


def role_grants(
    graph: StackGraph, role: PolicyResource, action: str, arn: Any, resource: PolicyResource | None
) -> bool | None:
    """Whether a ``RolePolicy`` of ``role`` allows ``action`` on ``resource`` (ARN ``arn``); ``None``: cannot tell.

    A statement names the resource by its ARN (wildcards allowed, ``*``), or, where the ARN is not
    known yet, by a document computed from the resource itself. A role with managed policies
    attached, or a document still unknown, cannot be judged.
    """
    if graph.referrers(role, ATTACHMENT, prop="role"):
        return None  # a managed policy may grant it: nothing to judge from here
    documents = [(p, known(p.props, "policy")) for p in graph.referrers(role, ROLE_POLICY, prop="role")]
    if any(doc is UNKNOWN for _, doc in documents):
        return None
    inline = known_list(role.props, "inlinePolicies")
    if inline is UNKNOWN:
        return None
    for item in inline:
        document = known(item, "policy") if is_mapping(item) else None
        if document is UNKNOWN:
            return None
        documents.append((role, document))
    for policy, document in documents:
        computed_from = {r.urn for r in graph.refs(policy, "policy")} if policy is not role else set()
        for statement in statements(json_document(document)):
            if statement.get("Effect") != "Allow" or not _action_matches(statement.get("Action"), action):
                continue
            resources = [str(r) for r in as_list(statement.get("Resource"))]
            if "*" in resources or (isinstance(arn, str) and any(fnmatch.fnmatchcase(arn, r) for r in resources)):
                return True
            if resource is not None and (arn is UNKNOWN or arn is None) and resource.urn in computed_from:
                return True
    return False


def target_key(graph: StackGraph, resource: PolicyResource | None) -> tuple[PolicyResource | None, Any]:
    """(the stack's key, its identifier) a Kinesis stream or a state machine encrypts with; ``(None, None)``: none.

    An AWS managed key (``alias/aws/kinesis``) needs no IAM permission ("Permissions to use
    user-generated KMS keys"), so it counts as none.
    """
    if resource is None:
        return None, None
    if resource.resource_type == STREAM:
        if str(known(resource.props, "encryptionType") or "NONE").upper() != "KMS":
            return None, None
        key_id = known(resource.props, "kmsKeyId")
        keys = graph.refs(resource, "kmsKeyId", KEY)
    elif resource.resource_type == STATE_MACHINE:
        config = known(resource.props, "encryptionConfiguration")
        if config is UNKNOWN or known_dig(config, "type") != "CUSTOMER_MANAGED_KMS_KEY":
            return None, None
        key_id = known_dig(config, "kmsKeyId")
        keys = graph.refs(resource, "encryptionConfiguration", KEY)
    else:
        return None, None
    if isinstance(key_id, str) and key_id.startswith(_AWS_MANAGED):
        return None, None
    return (keys[0] if keys else None), key_id


def _names_role(principal: Any, role: PolicyResource) -> bool:
    """A key policy principal that admits the role: ``*``, the account (root or id), or the role itself."""
    role_arn, role_name = known(role.props, "arn"), known(role.props, "name")
    values: list[Any] = []
    if principal == "*":
        return True
    if is_mapping(principal):
        values = as_list(principal.get("AWS"))
    account = role_arn.split(":")[4] if isinstance(role_arn, str) and role_arn.count(":") >= 5 else None
    for value in values:
        text = str(value)
        if text == "*":
            return True
        if text.endswith(":root") or text.isdigit():  # the account: its IAM policies decide
            if account is None or text == account or text.endswith(f"::{account}:root"):
                return True
            continue
        if isinstance(role_arn, str) and fnmatch.fnmatchcase(role_arn, text):
            return True
        if isinstance(role_name, str) and text.endswith(f":role/{role_name}"):
            return True
    return False


def key_admits_role(document: Any, role: PolicyResource, actions: list[str]) -> list[str]:
    """The ``actions`` no Allow statement of the key policy ``document`` grants to ``role`` (or its account)."""
    allows = [s for s in statements(document) if s.get("Effect") == "Allow" and _names_role(s.get("Principal"), role)]
    return [a for a in actions if not any(_action_matches(s.get("Action"), a) for s in allows)]


def key_problems(
    graph: StackGraph, role: PolicyResource, key: PolicyResource | None, key_id: Any, actions: list[str], what: str
) -> list[str]:
    """What stops ``role`` from using the key (``key`` in the stack, else ``key_id``) ``what`` is encrypted with."""
    if key is None and not isinstance(key_id, str):
        return []  # no key, or one computed at deploy time from outside the stack: nothing to judge
    problems: list[str] = []
    key_arn = known(key.props, "arn") if key is not None else key_id
    missing = [a for a in actions if role_grants(graph, role, a, key_arn, key) is False]
    if missing:
        problems.append(
            f"its role '{role.name}' may not {' and '.join(missing)} with the key {what} is encrypted with "
            f"({key.name if key is not None else key_id})"
        )
    if key is not None:
        document = known(key.props, "policy")
        if document is not UNKNOWN:
            refused = key_admits_role(json_document(document), role, actions)
            if refused:
                problems.append(
                    f"the policy of key '{key.name}' ({what}) admits neither the account nor role '{role.name}' for "
                    f"{' and '.join(refused)}"
                )
    return problems
