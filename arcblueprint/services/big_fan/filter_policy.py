"""Validate an SNS subscription filter policy against the grammar SNS accepts, before deploying it.

A policy SNS rejects fails ``pulumi up`` half-way; a policy SNS accepts but that means something
else (``"numeric": [">", "5"]``) silently drops messages. Checked here: exact values (strings,
numbers, ``null``), ``prefix``, ``suffix``, ``equals-ignore-case``, ``anything-but`` (a value, a
list of strings or of numbers, or a ``prefix``/``suffix``), ``numeric`` (``=`` or one/two bounds),
``exists``, ``cidr``, nested keys (body scope only), ``$or``, at most 5 keys and 150 combinations.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

__all__ = ["FilterPolicyError", "MAX_COMBINATIONS", "MAX_KEYS", "validate_filter_policy"]

MAX_KEYS = 5
MAX_COMBINATIONS = 150
_NUMBER_LIMIT = 1_000_000_000
_LOWER = (">", ">=")
_UPPER = ("<", "<=")
Scope = Literal["MessageAttributes", "MessageBody"]


class FilterPolicyError(ValueError):
    """``path`` (like ``$or[1].price[0].numeric``) is not valid filter policy syntax."""

    def __init__(self, path: str, value: Any, message: str) -> None:
        self.path, self.value, self.message = path, value, message
        super().__init__(f"{path}: {message}")


def validate_filter_policy(policy: Any, scope: Scope = "MessageAttributes") -> int:
    """Raise :class:`FilterPolicyError` unless ``policy`` is valid; return its number of combinations."""
    if not isinstance(policy, Mapping) or not policy:
        raise FilterPolicyError("", policy, "must be a non-empty mapping of keys to lists of conditions")
    keys: list[str] = []
    combinations = _object(policy, "", scope, keys, depth=0)
    if len(set(keys)) > MAX_KEYS:
        raise FilterPolicyError("", sorted(set(keys)), f"uses {len(set(keys))} keys; SNS allows at most {MAX_KEYS}")
    if combinations > MAX_COMBINATIONS:
        raise FilterPolicyError(
            "", combinations, f"has {combinations} combinations; SNS allows at most {MAX_COMBINATIONS}"
        )
    return combinations


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path else part


def _object(node: Mapping[str, Any], path: str, scope: Scope, keys: list[str], depth: int) -> int:
    combinations = 1
    for key, value in node.items():
        here = _join(path, str(key))
        if not isinstance(key, str) or not key:
            raise FilterPolicyError(here, key, "keys must be non-empty strings")
        if key == "$or":
            combinations *= _or(value, here, scope, keys, depth)
            continue
        if key.startswith("$"):
            raise FilterPolicyError(here, key, "keys starting with '$' are reserved ($or is the only operator key)")
        if isinstance(value, Mapping):
            if scope != "MessageBody":
                raise FilterPolicyError(here, value, "nested keys need filterPolicyScope MessageBody")
            if not value:
                raise FilterPolicyError(here, value, "a nested key must hold conditions")
            combinations *= _object(value, here, scope, keys, depth + 1)
            continue
        keys.append(here)
        combinations *= _conditions(value, here)
    return combinations


def _or(value: Any, path: str, scope: Scope, keys: list[str], depth: int) -> int:
    if not isinstance(value, list) or len(value) < 2 or not all(isinstance(v, Mapping) and v for v in value):
        raise FilterPolicyError(path, value, "$or must be a list of at least two non-empty mappings")
    return sum(_object(branch, f"{path}[{i}]", scope, keys, depth) for i, branch in enumerate(value))


def _conditions(value: Any, path: str) -> int:
    if not isinstance(value, list) or not value:
        raise FilterPolicyError(path, value, "must be a non-empty list of values or conditions")
    for i, condition in enumerate(value):
        _condition(condition, f"{path}[{i}]")
    return len(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_number(value: Any, path: str) -> None:
    if not _is_number(value):
        raise FilterPolicyError(path, value, "must be a number")
    if abs(value) > _NUMBER_LIMIT:
        raise FilterPolicyError(path, value, "must be between -1e9 and 1e9")


def _text(value: Any, path: str) -> None:
    if not isinstance(value, str) or not value:
        raise FilterPolicyError(path, value, "must be a non-empty string")


def _condition(condition: Any, path: str) -> None:
    if condition is None or isinstance(condition, str):
        return
    if _is_number(condition):
        _check_number(condition, path)
        return
    if not isinstance(condition, Mapping) or len(condition) != 1:
        raise FilterPolicyError(
            path,
            condition,
            "must be a string, a number, null or one operator "
            "(prefix, suffix, equals-ignore-case, anything-but, numeric, exists, cidr)",
        )
    [(operator, operand)] = condition.items()
    here = _join(path, str(operator))
    if operator in ("prefix", "suffix", "equals-ignore-case"):
        _text(operand, here)
    elif operator == "exists":
        if not isinstance(operand, bool):
            raise FilterPolicyError(here, operand, "must be true or false")
    elif operator == "anything-but":
        _anything_but(operand, here)
    elif operator == "numeric":
        _numeric(operand, here)
    elif operator == "cidr":
        try:
            ipaddress.ip_network(operand, strict=False)
        except (TypeError, ValueError):
            raise FilterPolicyError(here, operand, "must be an IP prefix like 10.0.0.0/24") from None
    else:
        raise FilterPolicyError(
            here, operator, "unknown operator (prefix, suffix, equals-ignore-case, anything-but, numeric, exists, cidr)"
        )


def _anything_but(operand: Any, path: str) -> None:
    if isinstance(operand, str) or _is_number(operand):
        return
    if isinstance(operand, Mapping):
        if len(operand) != 1 or next(iter(operand)) not in ("prefix", "suffix"):
            raise FilterPolicyError(path, operand, "an anything-but mapping must hold only prefix or suffix")
        [(operator, text)] = operand.items()
        _text(text, _join(path, operator))
        return
    if isinstance(operand, list) and operand:
        if all(isinstance(v, str) for v in operand):
            return
        if all(_is_number(v) for v in operand):
            for i, v in enumerate(operand):
                _check_number(v, f"{path}[{i}]")
            return
        raise FilterPolicyError(path, operand, "an anything-but list must be all strings or all numbers")
    raise FilterPolicyError(path, operand, "must be a string, a number, a list of them, or {prefix|suffix: ...}")


def _numeric(operand: Any, path: str) -> None:
    if not isinstance(operand, Sequence) or isinstance(operand, str) or len(operand) not in (2, 4):
        raise FilterPolicyError(path, operand, 'must be ["=", n], [op, n] or [">"|">=", low, "<"|"<=", high]')
    operators = operand[0::2]
    for i, number in enumerate(operand[1::2]):
        _check_number(number, f"{path}[{2 * i + 1}]")
    if len(operand) == 2:
        if operators[0] not in ("=", *_LOWER, *_UPPER):
            raise FilterPolicyError(f"{path}[0]", operators[0], "must be one of =, <, <=, >, >=")
        return
    if operators[0] not in _LOWER or operators[1] not in _UPPER:
        raise FilterPolicyError(path, operand, 'a range is [">"|">=", low, "<"|"<=", high]')
    if not operand[1] < operand[3]:
        raise FilterPolicyError(path, operand, "the lower bound must be below the upper bound")
