"""Validate EventBridge event patterns before deploying them, and build the pattern of a subscription.

A pattern EventBridge rejects fails ``PutRule`` half-way through ``pulumi up``; one it accepts but
that means something else (``"numeric": [">", "5"]``, a bare string instead of a list) silently
matches nothing. Checked here, with the rigour of Big Fan's SNS filter policy validator: every
leaf is a non-empty list of values (strings, numbers, ``null``, booleans) or one operator
(``prefix``, ``suffix``, ``equals-ignore-case``, ``anything-but``, ``numeric``, ``exists``,
``cidr``, ``wildcard``), nested objects hold conditions, ``$or`` holds two or more patterns,
numbers are within EventBridge's range, and the whole pattern fits the default size quota.
Pure: no Pulumi here.
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["MAX_PATTERN_CHARACTERS", "EventPatternError", "subscription_pattern", "validate_event_pattern"]

#: The default quota for an event pattern's size (adjustable to 4096 by a quota increase).
MAX_PATTERN_CHARACTERS = 2048
#: EventBridge numeric matching: values from -5.0e9 to +5.0e9, 15 digits of precision.
_NUMBER_LIMIT = 5_000_000_000
_LOWER = (">", ">=")
_UPPER = ("<", "<=")
_OPERATORS = ("prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists", "cidr", "wildcard")


class EventPatternError(ValueError):
    """``path`` (like ``detail.$or[1].price[0].numeric``) is not valid event pattern syntax."""

    def __init__(self, path: str, value: Any, message: str) -> None:
        self.path, self.value, self.message = path, value, message
        super().__init__(f"{path or '(pattern)'}: {message}")


def validate_event_pattern(pattern: Any) -> None:
    """Raise :class:`EventPatternError` unless ``pattern`` is a pattern EventBridge accepts as meant."""
    if not isinstance(pattern, Mapping) or not pattern:
        raise EventPatternError("", pattern, "must be a non-empty object of fields to lists of conditions")
    _object(pattern, "")
    size = len(json.dumps(pattern, separators=(",", ":")))
    if size > MAX_PATTERN_CHARACTERS:
        raise EventPatternError(
            "", size, f"is {size} characters; EventBridge's default quota is {MAX_PATTERN_CHARACTERS}"
        )


def subscription_pattern(
    source: str, detail_types: Sequence[str], detail_filter: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The rule pattern of a subscription: ``source`` matched exactly, then detail types, then the filter.

    ``source`` is always one exact value, never a prefix: with each producer limited to its own
    source by the bus policy, a rule can then only receive events its producer sent.
    """
    pattern: dict[str, Any] = {"source": [source]}
    if detail_types:
        pattern["detail-type"] = sorted(set(detail_types))
    if detail_filter:
        pattern["detail"] = _plain(detail_filter)
    validate_event_pattern(pattern)
    return pattern


def _plain(value: Any) -> Any:
    """Config mappings are read-only proxies; json wants plain dicts and lists."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path else part


def _object(node: Mapping[str, Any], path: str) -> None:
    for key, value in node.items():
        here = _join(path, str(key))
        if not isinstance(key, str) or not key:
            raise EventPatternError(here, key, "field names must be non-empty strings")
        if key == "$or":
            _or(value, here)
        elif isinstance(value, Mapping):
            if not value:
                raise EventPatternError(here, value, "a nested field must hold conditions")
            _object(value, here)
        elif isinstance(value, list | tuple):
            _conditions(value, here)
        else:
            raise EventPatternError(
                here, value, "must be a list of values or conditions (a bare value matches nothing: write [value])"
            )


def _or(value: Any, path: str) -> None:
    if not isinstance(value, list | tuple) or len(value) < 2 or not all(isinstance(v, Mapping) and v for v in value):
        raise EventPatternError(path, value, "$or must be a list of at least two non-empty patterns")
    for i, branch in enumerate(value):
        _object(branch, f"{path}[{i}]")


def _conditions(values: Sequence[Any], path: str) -> None:
    if not values:
        raise EventPatternError(path, values, "must be a non-empty list (an empty list matches nothing)")
    for i, condition in enumerate(values):
        _condition(condition, f"{path}[{i}]")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number(value: Any, path: str) -> None:
    if not _is_number(value):
        raise EventPatternError(path, value, "must be a number")
    if abs(value) > _NUMBER_LIMIT:
        raise EventPatternError(path, value, "must be between -5e9 and 5e9 (EventBridge's numeric range)")


def _text(value: Any, path: str) -> None:
    if not isinstance(value, str) or not value:
        raise EventPatternError(path, value, "must be a non-empty string")


def _condition(condition: Any, path: str) -> None:
    if condition is None or isinstance(condition, str | bool):
        return
    if _is_number(condition):
        _number(condition, path)
        return
    if not isinstance(condition, Mapping) or len(condition) != 1:
        raise EventPatternError(
            path,
            condition,
            f"must be a value (string, number, boolean, null) or one operator ({', '.join(_OPERATORS)})",
        )
    [(operator, operand)] = condition.items()
    here = _join(path, str(operator))
    if operator in ("prefix", "suffix"):
        _text_or_ignore_case(operand, here)
    elif operator == "equals-ignore-case":
        _text(operand, here)
    elif operator == "wildcard":
        _wildcard(operand, here)
    elif operator == "exists":
        if not isinstance(operand, bool):
            raise EventPatternError(here, operand, "must be true or false")
    elif operator == "anything-but":
        _anything_but(operand, here)
    elif operator == "numeric":
        _numeric(operand, here)
    elif operator == "cidr":
        try:
            ipaddress.ip_network(operand, strict=False)
        except (TypeError, ValueError):
            raise EventPatternError(here, operand, "must be an IP prefix like 10.0.0.0/24") from None
    else:
        raise EventPatternError(here, operator, f"unknown operator ({', '.join(_OPERATORS)})")


def _text_or_ignore_case(operand: Any, path: str) -> None:
    if isinstance(operand, Mapping):
        if set(operand) != {"equals-ignore-case"}:
            raise EventPatternError(path, operand, "a mapping here may only hold equals-ignore-case")
        _text(operand["equals-ignore-case"], _join(path, "equals-ignore-case"))
        return
    _text(operand, path)


def _wildcard(operand: Any, path: str) -> None:
    _text(operand, path)
    if "**" in operand:
        raise EventPatternError(path, operand, "consecutive wildcard characters are not allowed")


def _anything_but(operand: Any, path: str) -> None:
    if isinstance(operand, str) or _is_number(operand):
        if _is_number(operand):
            _number(operand, path)
        return
    if isinstance(operand, Mapping):
        if len(operand) != 1 or next(iter(operand)) not in ("prefix", "suffix", "equals-ignore-case", "wildcard"):
            raise EventPatternError(
                path, operand, "an anything-but mapping holds one of prefix, suffix, equals-ignore-case or wildcard"
            )
        [(operator, value)] = operand.items()
        here = _join(path, operator)
        if operator == "wildcard":
            _wildcard(value, here)
        elif operator == "equals-ignore-case" and isinstance(value, list | tuple):
            if not value:
                raise EventPatternError(here, value, "must not be empty")
            for i, item in enumerate(value):
                _text(item, f"{here}[{i}]")
        else:
            _text(value, here)
        return
    if isinstance(operand, list | tuple) and operand:
        if all(isinstance(v, str) for v in operand):
            return
        if all(_is_number(v) for v in operand):
            for i, v in enumerate(operand):
                _number(v, f"{path}[{i}]")
            return
        raise EventPatternError(path, operand, "an anything-but list must be all strings or all numbers")
    raise EventPatternError(path, operand, "must be a string, a number, a list of them, or one operator")


def _numeric(operand: Any, path: str) -> None:
    if not isinstance(operand, list | tuple) or len(operand) not in (2, 4):
        raise EventPatternError(path, operand, 'must be ["=", n], [op, n] or [">"|">=", low, "<"|"<=", high]')
    operators = operand[0::2]
    for i, number in enumerate(operand[1::2]):
        _number(number, f"{path}[{2 * i + 1}]")
    if len(operand) == 2:
        if operators[0] not in ("=", *_LOWER, *_UPPER):
            raise EventPatternError(f"{path}[0]", operators[0], "must be one of =, <, <=, >, >=")
        return
    if operators[0] not in _LOWER or operators[1] not in _UPPER:
        raise EventPatternError(path, operand, 'a range is [">"|">=", low, "<"|"<=", high]')
    if not operand[1] < operand[3]:
        raise EventPatternError(path, operand, "the lower bound must be below the upper bound")
