"""Check every input key of a synthesized stack against the AWS provider's own input types.

The mock runtime accepts any key, but the provider rejects (or silently drops) a key its schema
does not have: a setting spelled the CloudFormation way (``retryOptions`` where the provider
says ``retryDuration``) deploys fine offline and fails ``pulumi up``. The schema is read from
the installed ``pulumi_aws`` package, the same Python SDK the program imports: the engine names
of each resource's ``XxxArgs`` properties (what ``@pulumi.getter(name=...)`` declares) and, for
a nested block, the ``XxxArgs`` class of that block, followed recursively.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import sys
import typing
from collections import abc
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pulumi import _types as pulumi_types
from pulumi.runtime import rpc

if TYPE_CHECKING:
    from arcblueprint.preview.harness import GraphResource, SynthesizedStack

__all__ = ["UnknownInput", "check_resource", "check_stack", "input_properties"]

#: The package whose resource types are checked; component resources (``arcblueprint:...``) have no schema.
PACKAGE = "aws"


@dataclass(frozen=True)
class UnknownInput:
    """An input key the provider's schema does not have, at ``path`` (``a/b/0/c``) of one resource."""

    urn: str
    resource_type: str
    path: str
    allowed: tuple[str, ...]

    def line(self) -> str:
        name = self.urn.rsplit("::", 1)[-1]
        key = self.path.rsplit("/", 1)[-1]
        # The provider's spelling is usually the camelCase of a near miss (retry_options -> retryOptions ~ ...).
        close = difflib.get_close_matches(_camel(key), self.allowed, n=3, cutoff=0.5)
        hint = (
            f"did you mean {' or '.join(close)}?"
            if close
            else f"it takes {', '.join(self.allowed[:12])}" + (", ..." if len(self.allowed) > 12 else "")
        )
        return f"{self.resource_type} '{name}': input {self.path} is not in pulumi-aws's schema ({hint})"


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def _args_class(resource_type: str) -> type | None:
    """The ``XxxArgs`` class of a provider resource type token (``aws:lambda/function:Function``)."""
    package, module, _ = resource_type.split(":", 2)
    importlib.import_module(f"pulumi_{package}")  # importing the SDK registers its resource modules
    registered = rpc.get_resource_module(package, module, "")
    info = getattr(registered, "mod_info", None)
    if not info or resource_type not in info.get("classes", {}):
        return None
    resource_class = getattr(importlib.import_module(info["fqn"]), info["classes"][resource_type])
    defined_in = sys.modules[resource_class.__module__]
    # The generator names the args ``XxxInitArgs`` when ``XxxArgs`` is taken by a nested type.
    name = resource_class.__name__
    return getattr(defined_in, f"{name}InitArgs", None) or getattr(defined_in, f"{name}Args", None)


#: A property's shape: a scalar (``None``), one block, a list of blocks or a map of blocks, and the block's type.
Shape = tuple[str, type] | None


def _shape(hint: Any) -> Shape:
    """Where the input type is in ``hint`` (``XArgs``, ``Sequence[Input[XArgs]]``, ``Mapping[str, XArgs]``)."""
    origin = typing.get_origin(hint)
    container = "list" if origin in (list, abc.Sequence) else "map" if origin in (dict, abc.Mapping) else "one"
    pending = [hint]
    while pending:
        current = pending.pop()
        if isinstance(current, type) and pulumi_types.is_input_type(current):
            return container, current
        pending.extend(typing.get_args(current))
    return None


@functools.cache
def _properties(args_class: type) -> dict[str, Shape]:
    return {name: _shape(hint) for name, hint in pulumi_types.input_type_types(args_class).items()}


@functools.cache
def input_properties(resource_type: str) -> dict[str, Shape] | None:
    """Engine name -> shape of each input of a resource type; ``None`` if it is not a provider type."""
    if not resource_type.startswith(f"{PACKAGE}:"):
        return None
    args_class = _args_class(resource_type)
    return _properties(args_class) if args_class is not None else None


def _walk(value: Any, properties: Mapping[str, Shape], path: str) -> Iterator[tuple[str, tuple[str, ...]]]:
    if not isinstance(value, Mapping):
        return  # unknown offline, or not a block: the provider checks the value, not the key
    for key, item in value.items():
        where = f"{path}/{key}" if path else str(key)
        if key not in properties:
            yield where, tuple(sorted(properties))
            continue
        shape = properties[key]
        if shape is None:
            continue
        container, block = shape
        if container == "list" and isinstance(item, list):
            elements = [(f"{where}/{i}", element) for i, element in enumerate(item)]
        elif container == "map" and isinstance(item, Mapping):
            elements = [(f"{where}/{name}", element) for name, element in item.items()]
        else:
            elements = [(where, item)]
        for at, element in elements:
            yield from _walk(element, _properties(block), at)


def check_resource(resource: GraphResource) -> list[UnknownInput]:
    """The input keys of ``resource`` its provider resource type does not declare (``[]`` for components)."""
    if not resource.custom:
        return []
    properties = input_properties(resource.type)
    if properties is None:
        if resource.type.startswith(f"{PACKAGE}:"):
            return [UnknownInput(resource.urn, resource.type, "(type)", ())]
        return []
    return [
        UnknownInput(resource.urn, resource.type, path, allowed)
        for path, allowed in _walk(resource.inputs, properties, "")
    ]


def check_stack(graph: SynthesizedStack) -> list[UnknownInput]:
    """Every input key of every provider resource in ``graph`` that its schema does not declare."""
    return [problem for resource in graph.resources for problem in check_resource(resource)]
