"""Validate an SNS subscription filter policy against the grammar SNS accepts, before deploying it.

A policy SNS rejects fails ``pulumi up`` half-way; a policy SNS accepts but that means something
else (``"numeric": [">", "5"]``) silently drops messages. Checked here: nested keys
(body scope only), ``$or``, at most 5 keys and 150 combinations, and every leaf in SNS's dialect
(:data:`SNS`) of the grammar EventBridge patterns share (:mod:`arcblueprint.planning.event_patterns`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from arcblueprint.planning.event_patterns import Dialect, PatternError, check_conditions, join

__all__ = ["MAX_COMBINATIONS", "MAX_KEYS", "SNS", "FilterPolicyError", "validate_filter_policy"]

MAX_KEYS = 5
MAX_COMBINATIONS = 150
Scope = Literal["MessageAttributes", "MessageBody"]


class FilterPolicyError(PatternError):
    """``path`` (like ``$or[1].price[0].numeric``) is not valid filter policy syntax."""


#: SNS's leaf grammar: no wildcard, anything-but holds only prefix or suffix, a smaller number range than EventBridge's.
SNS = Dialect(
    service="SNS",
    error=FilterPolicyError,
    operators=("prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists", "cidr"),
    # "The JSON of the filter policy can contain ... the keywords true, false, and null" (SNS filter policy
    # constraints, https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html).
    booleans=True,
    prefix_ignore_case=False,
    anything_but_operators=("prefix", "suffix"),
    #: Numeric matching: -10^9 to 10^9, five digits after the decimal point.
    number_limit=1_000_000_000,
    number_limit_text="1e9",
)


def validate_filter_policy(policy: Any, scope: Scope = "MessageAttributes") -> int:
    """Raise :class:`FilterPolicyError` unless ``policy`` is valid; return its number of combinations."""
    if not isinstance(policy, Mapping) or not policy:
        raise FilterPolicyError("", policy, "must be a non-empty mapping of keys to lists of conditions")
    keys: list[str] = []
    combinations = _object(policy, "", scope, keys)
    if len(set(keys)) > MAX_KEYS:
        raise FilterPolicyError("", sorted(set(keys)), f"uses {len(set(keys))} keys; SNS allows at most {MAX_KEYS}")
    if combinations > MAX_COMBINATIONS:
        raise FilterPolicyError(
            "", combinations, f"has {combinations} combinations; SNS allows at most {MAX_COMBINATIONS}"
        )
    return combinations


def _object(node: Mapping[str, Any], path: str, scope: Scope, keys: list[str]) -> int:
    combinations = 1
    for key, value in node.items():
        here = join(path, str(key))
        if not isinstance(key, str) or not key:
            raise FilterPolicyError(here, key, "keys must be non-empty strings")
        if key == "$or":
            combinations *= _or(value, here, scope, keys)
            continue
        if key.startswith("$"):
            raise FilterPolicyError(here, key, "keys starting with '$' are reserved ($or is the only operator key)")
        if isinstance(value, Mapping):
            if scope != "MessageBody":
                raise FilterPolicyError(here, value, "nested keys need filterPolicyScope MessageBody")
            if not value:
                raise FilterPolicyError(here, value, "a nested key must hold conditions")
            combinations *= _object(value, here, scope, keys)
            continue
        keys.append(here)
        combinations *= check_conditions(value, here, SNS)
    return combinations


def _or(value: Any, path: str, scope: Scope, keys: list[str]) -> int:
    if not isinstance(value, list) or len(value) < 2 or not all(isinstance(v, Mapping) and v for v in value):
        raise FilterPolicyError(path, value, "$or must be a list of at least two non-empty mappings")
    return sum(_object(branch, f"{path}[{i}]", scope, keys) for i, branch in enumerate(value))
