"""Hypothesis strategies for bad stack configs, derived from the schema itself (types, ranges, choices,
patterns of each field) and applied one at a time to the shipped dev config.

``bad_configs()`` draws ``(config values, the key the error must name)``; the unit test checks the
schema's error, the hardening fuzz sends the same configs through ``blueprint preview``'s path.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, get_args, get_origin, get_type_hints

from hypothesis import strategies as st

from arcblueprint.config import read_stack_file
from arcblueprint.config.model import StackConfig
from arcblueprint.config.schema import camel_case
from arcblueprint.preview.harness import REPO_ROOT

BASE = read_stack_file(REPO_ROOT, "dev")


def _leaves(cls: type, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any, Mapping[str, Any]]]:
    """(path of camelCase keys, type hint, field metadata) for every scalar setting."""
    found = []
    hints = get_type_hints(cls)
    for field in dataclasses.fields(cls):
        key = field.metadata.get("key") or camel_case(field.name)
        hint = hints[field.name]
        if dataclasses.is_dataclass(hint):
            found.extend(_leaves(hint, (*prefix, key)))
        elif get_origin(hint) in (Mapping, dict) or get_origin(hint) in (tuple, list) or hasattr(hint, "parse_config"):
            continue
        else:
            found.append(((*prefix, key), hint, field.metadata))
    return found


LEAVES = _leaves(StackConfig)


def _bad_values(hint: Any, meta: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Values that cannot be valid for a field of this type and metadata."""
    options = (
        [a for a in get_args(hint) if a is not type(None)]
        if get_origin(hint) in (typing.Union, types.UnionType)
        else [hint]
    )
    base = options[0]
    wrong_type = st.one_of(
        st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=1)
    )
    if get_origin(base) is Literal:
        allowed = set(get_args(base))
        return st.one_of(wrong_type, st.text(max_size=12).filter(lambda v: v not in allowed), st.integers())
    if base is bool:
        return st.one_of(wrong_type, st.integers(), st.sampled_from(["yes", "no", "True"]))
    if base is int:
        low, high = meta.get("minimum"), meta.get("maximum")
        out = [
            wrong_type,
            st.text(min_size=1, max_size=5).filter(lambda s: not s.strip().lstrip("-").isdigit()),
            st.floats(allow_nan=False).filter(lambda f: not float(f).is_integer()),
        ]
        if low is not None:
            out.append(st.integers(max_value=int(low) - 1))
        if high is not None:
            out.append(st.integers(min_value=int(high) + 1))
        choices = meta.get("choices")
        if choices is not None:
            out.append(st.integers(min_value=-10, max_value=5000).filter(lambda v: v not in choices))
        return st.one_of(*out)
    if base is str:
        out = [wrong_type, st.booleans()]
        pattern = meta.get("pattern")
        if pattern is not None:
            out.append(st.text(max_size=20).filter(lambda v: not pattern.fullmatch(v)))
        return st.one_of(*out)
    raise AssertionError(f"no bad-value strategy for {hint!r}")


def _set(config: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    config = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in config.items()}
    top = "aws:region" if path == ("region",) else f"arcblueprint:{path[0]}"
    if len(path) == 1:
        config[top] = value
        return config
    node = config.setdefault(top, {})
    for key in path[1:-1]:
        node[key] = dict(node.get(key, {}))
        node = node[key]
    node[path[-1]] = value
    return config


def _expected_key(path: tuple[str, ...]) -> str:
    return "aws:region" if path == ("region",) else "arcblueprint:" + ".".join(path)


@st.composite
def bad_configs(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    kind = draw(st.sampled_from(["value", "value", "value", "unknown-key"]))
    if kind == "unknown-key":
        section = draw(st.sampled_from(["", "network", "logging", "releases", "functions", "eventBus", "onPrem"]))
        name = draw(st.from_regex(r"[a-z][a-zA-Z]{2,12}", fullmatch=True))
        known = {camel_case(f.name) for f in dataclasses.fields(StackConfig)} | {"region"}
        if section:
            hint = get_type_hints(StackConfig)[re.sub(r"(?<!^)(?=[A-Z])", "_", section).lower()]
            known = {camel_case(f.name) for f in dataclasses.fields(hint)}
        if name in known:
            name += "Typo"
        path = (section, name) if section else (name,)
        return _set(dict(BASE), path, 1), _expected_key(path)
    path, hint, meta = draw(st.sampled_from(LEAVES))
    value = draw(_bad_values(hint, meta))
    return _set(dict(BASE), path, value), _expected_key(path)
