"""Read a stack's config the way the Pulumi CLI hands it to the program, then validate it.

The CLI passes config to a Python program as a flat map of ``namespace:key`` to *string*
(structured values as JSON). :func:`engine_config` turns ``Pulumi.<stack>.yaml`` into exactly
that map, the offline preview sets it with ``pulumi.runtime.set_all_config``, and the program
reads it back through :func:`from_runtime` and :func:`stack_config`, so the offline run and
``pulumi up`` go through the same parsing and validation.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from collections.abc import Mapping
from typing import Any, get_type_hints

import yaml

from arcblueprint.config.model import StackConfig
from arcblueprint.config.schema import ConfigError, config_key, parse

if typing.TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "NAMESPACES",
    "PROJECT",
    "check_function_code",
    "engine_config",
    "from_runtime",
    "read_stack_file",
    "stack_config",
]

#: The Pulumi project name; also the config namespace.
PROJECT = "arcblueprint"

#: Keys of other namespaces that the program reads (the AWS provider's), and the key each becomes.
_FOREIGN_KEYS = {"aws:region": "region", "aws:allowedAccountIds": "allowedAccountIds"}

#: Namespaces a stack file may use: the project's, the engine's own (``pulumi:``) and the providers' the
#: program uses. A key under any other (``arcbluprint:policy``) would be ignored by everything, so it is an
#: error; a team that adds a provider adds its namespace here.
NAMESPACES = (PROJECT, "aws", "pulumi")

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"


class DuplicateKeyError(yaml.YAMLError):
    """A mapping repeats a key: ``path`` is the key's place in the document, ``line``/``first`` 1-based lines."""

    def __init__(self, path: tuple[str | int, ...], line: int, first: int) -> None:
        self.path, self.line, self.first = path, line, first
        super().__init__(f"duplicate key at line {line} (first at line {first})")


class StackFileLoader(yaml.SafeLoader):
    """PyYAML's safe loader, stricter: a repeated key is an error, and dates stay text.

    PyYAML keeps the last of two equal keys without a word, so a second ``memoryMib`` (or a second
    ``arcblueprint:policy``) would silently replace the first. An unquoted ``2026-03-31`` stays the
    string the config model validates, instead of becoming a ``datetime.date``.
    """

    yaml_implicit_resolvers = {  # PyYAML reads the resolver table from the class
        first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        _check_unique_keys(node, ())
        return self.construct_document(node)


def _check_unique_keys(node: yaml.Node, path: tuple[str | int, ...]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:  # '<<: *defaults' then a key of its own is an override, not a repeat
                continue
            name = str(key_node.value)
            if path == ("config",) and ":" not in name:
                name = f"{PROJECT}:{name}"  # 'environment' and 'arcblueprint:environment' are one key
            identity = (key_node.tag, name)
            line = key_node.start_mark.line + 1
            if identity in seen:
                raise DuplicateKeyError((*path, str(key_node.value)), line, seen[identity])
            seen[identity] = line
            _check_unique_keys(value_node, (*path, str(key_node.value)))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_unique_keys(item, (*path, i))


def _config_path(path: tuple[str | int, ...]) -> str:
    """``('config', 'arcblueprint:services', 'orders', 'memoryMib')`` -> ``arcblueprint:services.orders.memoryMib``."""
    if len(path) < 2 or path[0] != "config":
        return ".".join(str(p) for p in path) or "(document)"
    head = str(path[1]) if ":" in str(path[1]) else f"{PROJECT}:{path[1]}"
    return head + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path[2:])


def check_namespace(full_key: str, value: Any, *, stack: str | None, source: str | None) -> None:
    """A key under a namespace nobody reads is an error that names the closest known namespace."""
    namespace, _, key = full_key.partition(":")
    if namespace in NAMESPACES:
        return
    close = difflib.get_close_matches(namespace, NAMESPACES, n=1, cutoff=0.6)
    hint = (
        f"did you mean '{close[0]}:{key}'?"
        if close
        else f"keys belong to this project ('{PROJECT}:') or to a provider ({', '.join(NAMESPACES[1:])})"
    )
    raise ConfigError(
        full_key,
        value,
        f"'{namespace}' is not a namespace this program or its providers read, so the key would be ignored ({hint})",
        stack=stack,
        source=source,
        show_value=False,
    )


def stack_file(project_dir: Path, stack: str) -> Path:
    return project_dir / f"Pulumi.{stack}.yaml"


def read_stack_file(project_dir: Path, stack: str) -> dict[str, Any]:
    """The ``config:`` map of ``Pulumi.<stack>.yaml`` with namespaced keys, as YAML values."""
    path = stack_file(project_dir, stack)
    source = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            source,
            None,
            f"no such stack file (create it with 'pulumi stack init {stack}')",
            stack=stack,
            show_value=False,
        ) from None
    try:
        document = yaml.load(text, Loader=StackFileLoader)  # a SafeLoader subclass: no arbitrary objects
    except DuplicateKeyError as error:
        raise ConfigError(
            _config_path(error.path),
            None,
            f"appears twice, at lines {error.first} and {error.line}: YAML keeps only the last value without "
            "a word, so remove one",
            stack=stack,
            source=source,
            show_value=False,
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = getattr(error, "problem", None) or "malformed YAML"
        raise ConfigError(
            source, None, f"YAML syntax error at {where}: {problem}", stack=stack, show_value=False
        ) from None
    if document is None:
        document = {}
    if not isinstance(document, Mapping):
        raise ConfigError(source, document, "the file must be a YAML mapping with a 'config' key", stack=stack)
    unknown = set(document) - {"config", "encryptionsalt", "secretsprovider", "encryptedkey", "environment"}
    if unknown:
        raise ConfigError(
            sorted(unknown)[0],
            None,
            "unknown top-level key in a stack file",
            stack=stack,
            source=source,
            show_value=False,
        )
    config = document.get("config") or {}
    if not isinstance(config, Mapping):
        raise ConfigError("config", config, "must be a mapping of namespaced keys", stack=stack, source=source)
    result: dict[str, Any] = {}
    for key, value in config.items():
        key_text = str(key)
        full = key_text if ":" in key_text else f"{PROJECT}:{key_text}"
        if isinstance(value, Mapping) and "secure" in value and len(value) == 1:
            raise ConfigError(
                full,
                None,
                "encrypted values are not used by this project: keep secret values "
                "in Secrets Manager, not in stack config",
                stack=stack,
                source=source,
                show_value=False,
            )
        result[full] = value
    return result


def engine_config(config: Mapping[str, Any]) -> dict[str, str]:
    """The flat string map the Pulumi CLI passes to the program (``PULUMI_CONFIG``)."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}


def from_runtime() -> dict[str, str]:
    """All config the engine gave this program run (inside ``pulumi up`` or the offline preview)."""
    from pulumi.runtime import config as runtime_config  # imported here: pure callers need no pulumi

    values = dict(runtime_config.get_config_env())
    values.update(runtime_config.CONFIG.get())
    return values


def _decode(value: str, hint: Any) -> Any:
    """Undo the CLI's stringification: JSON for non-string settings, the raw text for strings."""
    if hint is str or (typing.get_origin(hint) in (typing.Union, types.UnionType) and str in typing.get_args(hint)):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def stack_config(values: Mapping[str, Any], stack: str, source: str | None = None) -> StackConfig:
    """Validate config values into a :class:`StackConfig`.

    ``values`` are either engine strings (inside a program run) or YAML values (offline).

    Raises :class:`ConfigError` naming the namespaced key (``arcblueprint:network.availabilityZones``).
    """
    hints = get_type_hints(StackConfig)
    fields = {config_key(f): f for f in dataclasses.fields(StackConfig)}
    data: dict[str, Any] = {}
    for full_key, raw in values.items():
        check_namespace(full_key, raw, stack=stack, source=source)
        namespace, _, key = full_key.partition(":")
        if full_key in _FOREIGN_KEYS:
            key = _FOREIGN_KEYS[full_key]
        elif namespace != PROJECT:
            continue  # provider settings (aws:*) and other namespaces belong to their owners
        elif f"aws:{key}" in _FOREIGN_KEYS:
            raise ConfigError(
                full_key, raw, f"set it as 'aws:{key}' (the AWS provider reads it)", stack=stack, source=source
            )
        field = fields.get(key)
        data[key] = _decode(raw, hints[field.name]) if field and isinstance(raw, str) else raw
    try:
        return parse(StackConfig, data)
    except ConfigError as error:
        raise ConfigError(
            _namespaced(error.key), error.value, error.allowed, stack=stack, source=source, show_value=error.show_value
        ) from None


def _namespaced(key: str) -> str:
    head = key.split(".", 1)[0].split("[", 1)[0]
    if f"aws:{head}" in _FOREIGN_KEYS:
        return f"aws:{head}" + key[len(head) :]
    return f"{PROJECT}:{key}"


def load(project_dir: Path, stack: str) -> StackConfig:
    """Read and validate ``Pulumi.<stack>.yaml`` (what the offline commands start with), including the
    team code folders its services name (``codeDir``, relative to ``project_dir``)."""
    values = read_stack_file(project_dir, stack)  # YAML types kept: stricter than the engine's strings
    source = stack_file(project_dir, stack).name
    config = stack_config(values, stack, source=source)
    check_function_code(config, project_dir, stack=stack, source=source)
    return config


def check_function_code(config: StackConfig, root: Path, *, stack: str, source: str | None = None) -> None:
    """Every ``codeDir`` the services name is a folder under ``root`` that packages with its handler."""
    from arcblueprint.platform.function_code import resolve_code

    for name, service in config.services.items():
        for key, code in service.function_code():
            try:
                resolve_code(code, default_dir=root, root=root, key=f"services.{name}.{key}")
            except ConfigError as error:
                raise ConfigError(
                    _namespaced(error.key), error.value, error.allowed, stack=stack, source=source
                ) from None
