"""Turn plain mappings (a stack's ``config:`` values) into frozen, typed dataclasses.

Every component spec in the blueprint is a ``@dataclass(frozen=True, kw_only=True)`` whose
fields are declared with :func:`setting`. :func:`parse` walks the mapping, converts each
camelCase key to its snake_case field, checks type, range, choices and pattern, and rejects
unknown keys (usually typos). Any failure is a :class:`ConfigError` whose ``str()`` is one
line naming the key, the bad value and what is allowed, so the CLI never shows a traceback.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

# ConfigError is defined with the planners, which raise it too; config users import it from here or the package.
from arcblueprint.planning.errors import ConfigError, yaml_text

__all__ = ["ConfigError", "camel_case", "parse", "setting", "snake_case", "yaml_text"]

T = TypeVar("T")


def setting(
    default: Any = dataclasses.MISSING,
    *,
    default_factory: Any = dataclasses.MISSING,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: typing.Collection[Any] | None = None,
    pattern: str | None = None,
    key: str | None = None,
    doc: str = "",
) -> Any:
    """A dataclass field with the checks :func:`parse` applies.

    ``key`` overrides the config key (default: the field name in camelCase).
    """
    metadata = {
        "minimum": minimum,
        "maximum": maximum,
        "choices": choices,
        "pattern": re.compile(pattern) if pattern else None,
        "key": key,
        "doc": doc,
    }
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def config_key(field: dataclasses.Field[Any]) -> str:
    return field.metadata.get("key") or camel_case(field.name)


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = get_type_hints(cls)
    return _HINTS[cls]


def parse(cls: type[T], data: Any, key: str = "") -> T:
    """Build ``cls`` from ``data``; raise :class:`ConfigError` naming ``key`` on any problem."""
    if not isinstance(data, Mapping):
        raise ConfigError(key or "(root)", data, f"must be a mapping of {cls.__name__} settings")
    fields = {config_key(f): f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields), key=str)
    if unknown:
        name = str(unknown[0])
        close = difflib.get_close_matches(name, list(fields), n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(sorted(fields))}"
        raise ConfigError(_join(key, name), data[unknown[0]], f"unknown key ({hint})")
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for name, field in fields.items():
        field_key = _join(key, name)
        if name not in data:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise ConfigError(
                    field_key, None, f"is required ({field.metadata.get('doc') or 'no default'})", show_value=False
                )
            continue
        values[field.name] = _convert(hints[field.name], data[name], field_key, field.metadata)
    try:
        return cls(**values)
    except ConfigError as error:
        raise error.under(key) if key else error from None


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _convert(hint: Any, value: Any, key: str, meta: Mapping[str, Any]) -> Any:
    hook = getattr(hint, "parse_config", None)
    if hook is not None:  # a type that parses itself (e.g. a tagged union of service specs)
        return hook(value, key)
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        if value is None:
            return None
        if len(options) == 1:
            return _convert(options[0], value, key, meta)
        errors = []
        for option in options:
            try:
                return _convert(option, value, key, meta)
            except ConfigError as error:
                errors.append(error.allowed)
        raise ConfigError(key, value, " or ".join(errors))
    if origin is Literal:
        allowed = get_args(hint)
        if value not in allowed:
            raise ConfigError(key, value, "must be one of " + ", ".join(_plain_text(a) for a in allowed))
        return value
    if dataclasses.is_dataclass(hint):
        return parse(hint, value, key)  # type: ignore[arg-type]
    if origin in (list, tuple):
        item_hint = get_args(hint)[0]
        if not isinstance(value, list | tuple):
            raise ConfigError(key, value, "must be a list")
        items = tuple(_convert(item_hint, item, f"{key}[{i}]", {}) for i, item in enumerate(value))
        _check_choices(items, key, meta)
        return items
    if origin is dict or origin is Mapping or hint is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(key, value, "must be a mapping")
        value_hint = get_args(hint)[1] if get_args(hint) else Any
        result = {}
        for item_key, item in value.items():
            if not isinstance(item_key, str) or not item_key:
                raise ConfigError(key, item_key, "keys must be non-empty strings")
            result[item_key] = _convert(value_hint, item, f"{key}.{item_key}", {})
        return types.MappingProxyType(result)
    return _convert_scalar(hint, value, key, meta)


def _convert_scalar(hint: Any, value: Any, key: str, meta: Mapping[str, Any]) -> Any:
    if hint is Any:
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, value, "must be true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, value, "must be a whole number" + _range_text(meta))
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise ConfigError(key, value, "must be a number" + _range_text(meta))
        value = float(value)
    elif hint is str:
        if not isinstance(value, str):
            raise ConfigError(key, value, "must be a string" + _pattern_text(meta))
    else:  # pragma: no cover - a spec declared a type this parser does not know
        raise TypeError(f"unsupported config type {hint!r} for {key}")
    _check_range(value, key, meta)
    _check_choices((value,), key, meta)
    pattern = meta.get("pattern")
    if pattern is not None and not pattern.fullmatch(value):
        raise ConfigError(key, value, "must match " + pattern.pattern + _doc(meta))
    return value


def _plain_text(value: Any) -> str:
    """A choice as a list of choices names it: strings bare, other values as YAML writes them."""
    return value if isinstance(value, str) else yaml_text(value)


def _doc(meta: Mapping[str, Any]) -> str:
    return f" ({meta['doc']})" if meta.get("doc") else ""


def _pattern_text(meta: Mapping[str, Any]) -> str:
    return f" matching {meta['pattern'].pattern}" if meta.get("pattern") is not None else ""


def _range_text(meta: Mapping[str, Any]) -> str:
    low, high = meta.get("minimum"), meta.get("maximum")
    if low is not None and high is not None:
        return f" from {yaml_text(low)} to {yaml_text(high)}"
    if low is not None:
        return f" of at least {yaml_text(low)}"
    if high is not None:
        return f" of at most {yaml_text(high)}"
    return ""


def _check_range(value: float, key: str, meta: Mapping[str, Any]) -> None:
    low, high = meta.get("minimum"), meta.get("maximum")
    if isinstance(value, str):
        return
    if (low is not None and value < low) or (high is not None and value > high):
        kind = "a whole number" if isinstance(value, int) else "a number"
        raise ConfigError(key, value, f"must be {kind}{_range_text(meta)}")


def _check_choices(values: tuple[Any, ...], key: str, meta: Mapping[str, Any]) -> None:
    choices = meta.get("choices")
    if choices is None:
        return
    for value in values:
        if value not in choices:
            shown = ", ".join(_plain_text(c) for c in sorted(choices))
            raise ConfigError(key, value, f"must be one of {shown}")
