"""The one error type of config validation and of the planners it runs: :class:`ConfigError`.

It lives below :mod:`arcblueprint.config` because the planners raise it too (a CIDR that does not
fit, a release strategy that cannot be planned) and the config model imports the planners; every
message quotes the value as the stack file writes it (:func:`yaml_text`). Pure: no Pulumi here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["ConfigError", "yaml_text"]

_MAX_SHOWN_VALUE = 60


def yaml_text(value: Any) -> str:
    """``value`` as it reads in a YAML stack file: ``false``, ``null``, ``1000000``, ``['a', 'b']``, ``{'k': 1}``.

    Config errors quote what the user wrote, so they show it in the file's language, not Python's
    (``False``, ``None``, ``1e+06``, ``MappingProxyType(...)``). Strings are single-quoted, as YAML
    writes a quoted scalar, so ``'8080'`` (a string) and ``8080`` (a number) stay distinct.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        if value.is_integer() and abs(value) < 1e16:
            return f"{int(value)}.0"
        text = repr(value)
        # YAML 1.1 reads an exponent as a float only with a dot in the mantissa (PyYAML writes 1.0e+20).
        return text.replace("e", ".0e", 1) if "e" in text and "." not in text.split("e")[0] else text
    if isinstance(value, str):
        if not value.isprintable():  # a line break or control character: YAML's escaped (double-quoted) form
            return json.dumps(value)
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{yaml_text(str(k))}: {yaml_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return "[" + ", ".join(yaml_text(v) for v in items) + "]"
    if hasattr(value, "isoformat"):  # a date or time
        return str(value.isoformat())
    return str(value)


def _show(value: Any) -> str:
    text = yaml_text(value)
    return text if len(text) <= _MAX_SHOWN_VALUE else text[: _MAX_SHOWN_VALUE - 3] + "..."


class ConfigError(ValueError):
    """A config value is invalid. ``str()`` is a single line suitable for a CLI.

    ``key`` is the dotted path of the offending key (``network.peakConcurrentExecutions``);
    it is prefixed with its parents as the error bubbles up through :func:`parse`.
    """

    def __init__(
        self,
        key: str,
        value: Any,
        allowed: str,
        *,
        stack: str | None = None,
        source: str | None = None,
        show_value: bool = True,
    ) -> None:
        self.key = key
        self.value = value
        self.allowed = allowed
        self.stack = stack
        self.source = source
        self.show_value = show_value
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        stack = f" in stack '{self.stack}'" if self.stack else ""
        value = f" = {_show(self.value)}" if self.show_value else ""
        return f"{where}{self.key}{value} is invalid{stack}: {self.allowed}"

    def under(self, prefix: str) -> ConfigError:
        """The same error, with its key placed under ``prefix``."""
        key = f"{prefix}.{self.key}" if self.key else prefix
        return ConfigError(
            key, self.value, self.allowed, stack=self.stack, source=self.source, show_value=self.show_value
        )

    def in_stack(self, stack: str, source: str | None = None) -> ConfigError:
        """The same error, naming the stack (and file) it came from."""
        return ConfigError(self.key, self.value, self.allowed, stack=stack, source=source, show_value=self.show_value)
