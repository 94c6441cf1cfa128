"""Reading props that may be unknown, and asking what a resource policy lets a service principal do.

In ``pulumi preview`` a prop computed from a new resource's output is unknown, and reading it
through the engine's proxy raises ``UnknownValueError``, which would abort the whole stack
policy. Correctness rules read values through :func:`known` (defined in
:mod:`arcblueprint.policy.base`), which answers :data:`UNKNOWN` instead, so a rule judges what it
can and leaves the rest.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from arcblueprint.policy.base import UNKNOWN, as_list, known, known_list

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["UNKNOWN", "known", "known_list", "mentions", "service_allowed", "service_denied", "statements"]


def mentions(value: Any, text: str) -> bool:
    """Whether any string inside ``value`` (an object, array or string prop) contains ``text``.

    ``str()`` of the engine's proxy is its type name, not its content, so a search walks the value.
    """
    if isinstance(value, str):
        return text in value
    if isinstance(value, Mapping):
        return any(text in str(k) or mentions(value[k], text) for k in value)
    if isinstance(value, Sequence):
        return any(mentions(item, text) for item in value)
    return False


def _matches(patterns: Any, action: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), str(p).lower()) for p in as_list(patterns))


def _covers_action(statement: Mapping[str, Any], action: str) -> bool:
    if "Action" in statement:
        return _matches(statement["Action"], action)
    if "NotAction" in statement:
        return not _matches(statement["NotAction"], action)
    return False


def _names(principal: Any, service: str) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        return service in as_list(principal.get("Service")) or "*" in as_list(principal.get("AWS"))
    return False


def _covers_principal(statement: Mapping[str, Any], service: str) -> bool:
    if "Principal" in statement:
        return _names(statement["Principal"], service)
    if "NotPrincipal" in statement:
        return not _names(statement["NotPrincipal"], service)
    return False


def statements(document: Any) -> list[Mapping[str, Any]]:
    """The statements of a policy document (``[]`` for anything that is not one)."""
    statements = document.get("Statement") if isinstance(document, Mapping) else None
    return [s for s in as_list(statements) if isinstance(s, Mapping)]


def service_allowed(
    document: Any, service: str, actions: Iterable[str], admits: Callable[[Mapping[str, Any]], bool] | None = None
) -> list[str]:
    """The ``actions`` no Allow statement of ``document`` grants to the service principal ``service``.

    ``admits`` may reject an Allow whose condition the service's requests cannot meet.
    """
    allows = [
        s
        for s in statements(document)
        if s.get("Effect") == "Allow" and _covers_principal(s, service) and (admits is None or admits(s))
    ]
    return [a for a in actions if not any(_covers_action(s, a) for s in allows)]


def _only_refuses_plain_http(statement: Mapping[str, Any]) -> bool:
    """A TLS-only deny: AWS services call each other over TLS, so it never applies to them."""
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping) or not condition:
        return False
    for operator, tests in condition.items():
        if operator not in ("Bool", "BoolIfExists") or not isinstance(tests, Mapping):
            return False
        if set(tests) != {"aws:SecureTransport"} or str(tests["aws:SecureTransport"]).lower() != "false":
            return False
    return True


def service_denied(document: Any, service: str, actions: Iterable[str]) -> list[str]:
    """Sids (or positions) of Deny statements that may apply to ``service`` calling any of ``actions``.

    A deny refusing plain HTTP never applies to a service; a deny whose condition names the
    service is taken as exempting it. Any other deny covering the service is reported: its
    condition may not be met by the service's request (``aws:PrincipalOrgID`` is absent from it).
    """
    wanted = list(actions)
    found: list[str] = []
    for i, statement in enumerate(statements(document)):
        if statement.get("Effect") != "Deny" or not _covers_principal(statement, service):
            continue
        if not any(_covers_action(statement, a) for a in wanted) or _only_refuses_plain_http(statement):
            continue
        if mentions(statement.get("Condition"), service):
            continue
        found.append(str(statement.get("Sid") or f"statement {i}"))
    return found
