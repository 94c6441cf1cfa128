"""What every pattern's component shares: its args (the platform's handles and its parsed spec) and outputs.

A pattern's component derives from ``Service[ItsSpec]``, sets :attr:`Service.TYPE`, and ends its constructor
with :meth:`Service.finish`. ``opts`` reaches ``ComponentResource`` unchanged, so a stack can give a service
``transforms``, ``aliases``, a ``provider`` or ``protect`` like any Pulumi component.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

import pulumi

from arcblueprint.services.service_settings import ServiceSettings

if TYPE_CHECKING:
    from collections.abc import Mapping

    from arcblueprint.platform.handles import Platform

__all__ = ["Service", "ServiceArgs", "ServiceFactory"]

SpecT = TypeVar("SpecT", bound=ServiceSettings)


@dataclass(frozen=True, kw_only=True)
class ServiceArgs(Generic[SpecT]):
    """The inputs of every service component."""

    platform: Platform
    spec: SpecT


class Service(pulumi.ComponentResource, Generic[SpecT]):
    """A pattern's component: registered under :attr:`TYPE`; :attr:`outputs` are what the stack exports
    (``<service>:<key>``)."""

    #: The component's Pulumi type token (part of every child's URN: changing it replaces the service).
    TYPE: ClassVar[str]

    outputs: dict[str, pulumi.Input[Any]]

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.TYPE, name, None, opts)
        self.outputs = {}

    def finish(self, outputs: Mapping[str, pulumi.Input[Any]]) -> None:
        """Record and register the service's outputs (the last step of a pattern's constructor)."""
        self.outputs = dict(outputs)
        self.register_outputs(self.outputs)


class ServiceFactory(Protocol):
    """How the stack program calls a pattern's component class (what the registry hands out)."""

    def __call__(
        self, name: str, args: ServiceArgs[Any], opts: pulumi.ResourceOptions | None = None
    ) -> Service[Any]: ...
