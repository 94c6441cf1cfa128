"""Read a stack's config the way the Pulumi CLI hands it to the program, then validate it.

The CLI passes config to a Python program as a flat map of ``namespace:key`` to *string*
(structured values as JSON). :func:`engine_config` turns ``Pulumi.<stack>.yaml`` into exactly
that map, the offline preview sets it with ``pulumi.runtime.set_all_config``, and the program
reads it back through :func:`from_runtime` and :func:`stack_config`, so the offline run and
``pulumi up`` go through the same parsing and validation.
"""

from __future__ import annotations

import dataclasses
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

__all__ = ["PROJECT", "check_function_code", "engine_config", "from_runtime", "read_stack_file", "stack_config"]

#: The Pulumi project name; also the config namespace.
PROJECT = "arcblueprint"

#: Keys of other namespaces that the program reads (the AWS provider's), and the key each becomes.
_FOREIGN_KEYS = {"aws:region": "region", "aws:allowedAccountIds": "allowedAccountIds"}


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
        document = yaml.safe_load(text)
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
    from arcblueprint.services.function_code import resolve_code

    for name, service in config.services.items():
        for key, code in service.function_code():
            try:
                resolve_code(code, default_dir=root, root=root, key=f"services.{name}.{key}")
            except ConfigError as error:
                raise ConfigError(
                    _namespaced(error.key), error.value, error.allowed, stack=stack, source=source
                ) from None
