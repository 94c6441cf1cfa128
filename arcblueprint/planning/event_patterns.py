"""The matching conditions EventBridge event patterns and SNS filter policies share, checked once.

Both services take the same leaf grammar: a field maps to a non-empty list of values or of
one-operator objects (``prefix``, ``suffix``, ``equals-ignore-case``, ``anything-but``,
``numeric``, ``exists``, ``cidr``). A leaf either service rejects fails ``pulumi up`` half-way;
one it accepts but that means something else (``"numeric": [">", "5"]``, a bare value instead of
a list) silently matches nothing. The dialects differ, and each :class:`Dialect` spells out how:

* EventBridge adds ``wildcard``, ``prefix``/``suffix`` holding ``{"equals-ignore-case": ...}``,
  and ``anything-but`` with ``equals-ignore-case`` (a string or a list) or ``wildcard``; booleans
  match as values; numbers range over -5e9..5e9 (Amazon EventBridge User Guide, "Comparison
  operators for use in event patterns" and "Content filtering in event patterns").
* SNS's ``anything-but`` takes ``prefix`` or ``suffix`` only, there is no ``wildcard``, and numbers
  range over -1e9..1e9 (Amazon SNS Developer Guide, "String value matching" and "Filter policy
  constraints").

What surrounds the leaves stays with each caller: a pattern's size quota and subscription shape
(:mod:`arcblueprint.events.patterns`), a policy's key and combination limits and its scope
(:mod:`arcblueprint.services.big_fan.filter_policy`). Pure: no Pulumi here.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Dialect", "PatternError", "check_conditions", "is_number", "join", "plain"]

_LOWER = (">", ">=")
_UPPER = ("<", "<=")


class PatternError(ValueError):
    """``path`` (like ``detail.$or[1].price[0].numeric``) is not valid syntax of a pattern dialect."""

    #: What the message names when the whole document is at fault (``path`` empty).
    root = ""

    def __init__(self, path: str, value: Any, message: str) -> None:
        self.path, self.value, self.message = path, value, message
        super().__init__(f"{path or self.root}: {message}")


@dataclass(frozen=True, kw_only=True)
class Dialect:
    """One service's leaf grammar: what it accepts beyond the shared operators, and its number range."""

    #: The service, as messages name it.
    service: str
    #: The error the dialect raises (its callers catch their own type).
    error: type[PatternError]
    #: Every operator a condition may use.
    operators: tuple[str, ...]
    #: Whether ``true``/``false`` match as values.
    booleans: bool
    #: Whether ``prefix``/``suffix`` may hold ``{"equals-ignore-case": text}``.
    prefix_ignore_case: bool
    #: The operators an ``anything-but`` object may hold.
    anything_but_operators: tuple[str, ...]
    #: The largest magnitude of a number the service compares.
    number_limit: int
    #: ``number_limit`` as the service's documentation writes it (``5e9``).
    number_limit_text: str


def join(path: str, part: str) -> str:
    return f"{path}.{part}" if path else part


def plain(value: Any) -> Any:
    """Config mappings are read-only proxies and lists arrive as tuples; json and the services want plain JSON."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_conditions(values: Any, path: str, dialect: Dialect) -> int:
    """Check one field's list of values and conditions; return how many it holds (SNS counts combinations)."""
    if not isinstance(values, list | tuple):
        raise dialect.error(
            path, values, "must be a list of values or conditions (a bare value matches nothing: write [value])"
        )
    if not values:
        raise dialect.error(path, values, "must be a non-empty list (an empty list matches nothing)")
    for i, condition in enumerate(values):
        _condition(condition, f"{path}[{i}]", dialect)
    return len(values)


def _number(value: Any, path: str, dialect: Dialect) -> None:
    if not is_number(value):
        raise dialect.error(path, value, "must be a number")
    if abs(value) > dialect.number_limit:
        limit = dialect.number_limit_text
        raise dialect.error(path, value, f"must be between -{limit} and {limit} ({dialect.service}'s numeric range)")


def _text(value: Any, path: str, dialect: Dialect) -> None:
    if not isinstance(value, str) or not value:
        raise dialect.error(path, value, "must be a non-empty string")


def _condition(condition: Any, path: str, dialect: Dialect) -> None:
    if condition is None or isinstance(condition, str) or (dialect.booleans and isinstance(condition, bool)):
        return
    if is_number(condition):
        _number(condition, path, dialect)
        return
    operators = ", ".join(dialect.operators)
    if not isinstance(condition, Mapping) or len(condition) != 1:
        values = "string, number, boolean, null" if dialect.booleans else "string, number, null"
        raise dialect.error(path, condition, f"must be a value ({values}) or one operator ({operators})")
    [(operator, operand)] = condition.items()
    here = join(path, str(operator))
    if operator not in dialect.operators:
        raise dialect.error(here, operator, f"unknown operator ({operators})")
    if operator in ("prefix", "suffix"):
        _affix(operand, here, dialect)
    elif operator == "equals-ignore-case":
        _text(operand, here, dialect)
    elif operator == "wildcard":
        _wildcard(operand, here, dialect)
    elif operator == "exists":
        if not isinstance(operand, bool):
            raise dialect.error(here, operand, "must be true or false")
    elif operator == "anything-but":
        _anything_but(operand, here, dialect)
    elif operator == "numeric":
        _numeric(operand, here, dialect)
    elif operator == "cidr":
        try:
            if not isinstance(operand, str):
                raise TypeError(operand)  # ip_network also takes numbers and tuples; the services take text only
            ipaddress.ip_network(operand, strict=False)
        except (TypeError, ValueError):
            raise dialect.error(here, operand, "must be an IP prefix like 10.0.0.0/24") from None


def _affix(operand: Any, path: str, dialect: Dialect) -> None:
    """``prefix``/``suffix``: a string, or (EventBridge) ``{"equals-ignore-case": string}``."""
    if dialect.prefix_ignore_case and isinstance(operand, Mapping):
        if set(operand) != {"equals-ignore-case"}:
            raise dialect.error(path, operand, "a mapping here may only hold equals-ignore-case")
        _text(operand["equals-ignore-case"], join(path, "equals-ignore-case"), dialect)
        return
    _text(operand, path, dialect)


def _wildcard(operand: Any, path: str, dialect: Dialect) -> None:
    _text(operand, path, dialect)
    if "**" in operand:
        raise dialect.error(path, operand, "consecutive wildcard characters are not allowed")


def _anything_but(operand: Any, path: str, dialect: Dialect) -> None:
    if isinstance(operand, str):
        return
    if is_number(operand):
        _number(operand, path, dialect)
        return
    allowed = dialect.anything_but_operators
    if isinstance(operand, Mapping):
        if len(operand) != 1 or next(iter(operand)) not in allowed:
            raise dialect.error(path, operand, f"an anything-but mapping holds one of {', '.join(allowed)}")
        [(operator, value)] = operand.items()
        here = join(path, operator)
        if operator == "wildcard":
            _wildcard(value, here, dialect)
        elif operator == "equals-ignore-case" and isinstance(value, list | tuple):
            if not value:
                raise dialect.error(here, value, "must not be empty")
            for i, item in enumerate(value):
                _text(item, f"{here}[{i}]", dialect)
        else:
            _text(value, here, dialect)
        return
    if isinstance(operand, list | tuple) and operand:
        if all(isinstance(v, str) for v in operand):
            return
        if all(is_number(v) for v in operand):
            for i, v in enumerate(operand):
                _number(v, f"{path}[{i}]", dialect)
            return
        raise dialect.error(path, operand, "an anything-but list must be all strings or all numbers")
    raise dialect.error(
        path, operand, f"must be a string, a number, a list of them, or one operator ({', '.join(allowed)})"
    )


def _numeric(operand: Any, path: str, dialect: Dialect) -> None:
    if not isinstance(operand, Sequence) or isinstance(operand, str) or len(operand) not in (2, 4):
        raise dialect.error(path, operand, 'must be ["=", n], [op, n] or [">"|">=", low, "<"|"<=", high]')
    operators = operand[0::2]
    for i, number in enumerate(operand[1::2]):
        _number(number, f"{path}[{2 * i + 1}]", dialect)
    if len(operand) == 2:
        if operators[0] not in ("=", *_LOWER, *_UPPER):
            raise dialect.error(f"{path}[0]", operators[0], "must be one of =, <, <=, >, >=")
        return
    if operators[0] not in _LOWER or operators[1] not in _UPPER:
        raise dialect.error(path, operand, 'a range is [">"|">=", low, "<"|"<=", high]')
    if not operand[1] < operand[3]:
        raise dialect.error(path, operand, "the lower bound must be below the upper bound")
