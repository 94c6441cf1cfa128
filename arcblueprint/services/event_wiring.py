"""Config every service shares for the event bus: its triggers' kill switch and its subscriptions.

Pure: no Pulumi here. Every pattern's spec derives from :class:`ServiceTriggers` (the
``triggersDisabled`` kill switch); the patterns that can receive events from the bus (a Big Fan
consumer's queue, the Streamer's stream, an operations workflow) derive from :class:`EventSubscriber`
(``subscribe``). Whether a subscription's source is published in the stack, and its detail types
are in that source's schema catalog, is checked with the whole stack (:func:`check_event_routes`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from arcblueprint.config.schema import ConfigError, setting
from arcblueprint.events import PROJECT_NAMESPACE, event_types, service_of, source_of
from arcblueprint.events.patterns import EventPatternError, subscription_pattern
from arcblueprint.services.service_settings import ServiceSettings

__all__ = [
    "PUBLISHING_PATTERNS",
    "EventSubscriber",
    "ServiceTriggers",
    "SubscriptionSpec",
    "check_event_routes",
    "check_subscriptions",
    "published_sources",
    "subscription_rules",
]

#: Patterns whose services publish domain events (the catalog folder named after the service).
PUBLISHING_PATTERNS = frozenset({"comfortable-rest", "cherry-pick", "call-me-maybe"})
_NAME = r"[a-z][a-z0-9-]{0,30}[a-z0-9]"
_DETAIL_TYPE = re.compile(r"[A-Z][A-Za-z0-9]{2,127}")


@dataclass(frozen=True, kw_only=True)
class SubscriptionSpec:
    """One route from the bus into this service: events of ``source`` (and ``detailType``) matching ``filter``."""

    #: The publishing service's source, ``arcblueprint.<service>``; matched exactly (never a prefix).
    source: str = setting(
        pattern=PROJECT_NAMESPACE.replace(".", r"\.") + r"\.[a-z][a-z0-9-]{0,22}[a-z0-9]", doc="arcblueprint.<service>"
    )
    #: Detail types to receive (one or a list); default: every type the source publishes.
    detail_type: tuple[str, ...] | str = setting(default_factory=tuple)
    #: An EventBridge event pattern for the event's ``detail`` (content filtering), validated before deploy.
    detail_filter: Mapping[str, Any] | None = setting(None, key="filter")
    #: Which of the service's targets receives the events (a Big Fan consumer, a Streamer domain, an
    #: operations target); default: the pattern's default target, if it has one.
    target: str | None = setting(None, pattern=_NAME)
    #: The route's name (its rule is ``<prefix>-<service>-<name>``); default: ``<source service>-<target>``.
    name: str | None = setting(None, pattern=_NAME)

    def __post_init__(self) -> None:
        for i, detail_type in enumerate(self.detail_types):
            if not isinstance(detail_type, str) or not _DETAIL_TYPE.fullmatch(detail_type):
                key = f"detailType[{i}]" if isinstance(self.detail_type, tuple) else "detailType"
                raise ConfigError(key, detail_type, "must be an event's detail type in PascalCase, like OrderCreated")
        try:
            self.pattern()
        except EventPatternError as error:
            path = error.path.removeprefix("detail").removeprefix(".")
            raise ConfigError(
                f"filter.{path}" if path else "filter",
                error.value,
                f"is not a valid EventBridge event pattern: {error.message}",
            ) from None

    @property
    def detail_types(self) -> tuple[str, ...]:
        return (self.detail_type,) if isinstance(self.detail_type, str) else tuple(self.detail_type)

    @property
    def source_service(self) -> str:
        service = service_of(self.source)
        assert service is not None  # the pattern of ``source`` guarantees it
        return service

    def pattern(self) -> dict[str, Any]:
        """The rule's event pattern: the source exactly, the detail types, the content filter."""
        return subscription_pattern(self.source, self.detail_types, self.detail_filter)

    def key(self, default_target: str | None = None) -> str:
        return self.name or f"{self.source_service}-{self.target or default_target or 'events'}"


@dataclass(frozen=True, kw_only=True)
class ServiceTriggers(ServiceSettings):
    """What every service's config can say about its triggers (and, from :class:`ServiceSettings`, its code and
    release strategy)."""

    #: The troubleshooting kill switch: ``true`` disables every trigger of the service (its EventBridge
    #: rules, schedules and event source mappings) and nothing else; APIs keep answering and queues and
    #: streams keep what arrives, so processing resumes where it stopped when set back to ``false``.
    triggers_disabled: bool = setting(False, doc="disable the service's rules, schedules and event source mappings")


@dataclass(frozen=True, kw_only=True)
class EventSubscriber(ServiceTriggers):
    """A service that can receive domain events from the shared bus."""

    #: Routes from the bus: each becomes a rule (source matched exactly) with one target, a DLQ and retries.
    subscribe: tuple[SubscriptionSpec, ...] = setting(default_factory=tuple)


def check_subscriptions(
    subscriptions: Sequence[SubscriptionSpec], *, targets: Collection[str], default_target: str | None, what: str
) -> None:
    """Each subscription names one of ``targets`` (``what`` says what they are) and has a unique key."""
    keys: dict[str, int] = {}
    for i, subscription in enumerate(subscriptions):
        target = subscription.target or default_target
        if target is None:
            raise ConfigError(
                f"subscribe[{i}].target",
                None,
                f"is required: name the {what} that receives the events "
                f"(one of {', '.join(sorted(targets)) or 'none'})",
                show_value=False,
            )
        if target not in targets:
            raise ConfigError(
                f"subscribe[{i}].target", target, f"must name a {what} (one of {', '.join(sorted(targets)) or 'none'})"
            )
        key = subscription.key(default_target)
        if key in keys:
            raise ConfigError(
                f"subscribe[{i}].name",
                subscription.name,
                f"two routes would be called {key!r} (subscribe[{keys[key]}] too); give one a name",
            )
        keys[key] = i


def published_sources(services: Mapping[str, Any], pattern_of: Any) -> dict[str, tuple[str, ...]]:
    """Source -> detail types, for every service of the stack whose pattern publishes domain events."""
    return {
        source_of(name): tuple(e.detail_type for e in event_types(name))
        for name, spec in services.items()
        if pattern_of(spec) in PUBLISHING_PATTERNS
    }


def check_event_routes(services: Mapping[str, Any], pattern_of: Any) -> None:
    """Every publisher has its schemas, and every subscription names a published source and detail types."""
    published = published_sources(services, pattern_of)
    for name, spec in services.items():
        source = source_of(name)
        if source in published and not published[source]:
            raise ConfigError(
                f"services.{name}",
                pattern_of(spec),
                f"publishes domain events as {source}, but arcblueprint/events/schemas/{name}/ holds no "
                "schema: write one JSON Schema per event type (the producer validates against it)",
            )
    for name, spec in services.items():
        for i, subscription in enumerate(getattr(spec, "subscribe", ())):
            key = f"services.{name}.subscribe[{i}]"
            if subscription.source not in published:
                known = ", ".join(sorted(published)) or "none"
                raise ConfigError(
                    f"{key}.source",
                    subscription.source,
                    f"no service of this stack publishes it (published sources: {known})",
                )
            for detail_type in subscription.detail_types:
                if detail_type not in published[subscription.source]:
                    raise ConfigError(
                        f"{key}.detailType",
                        detail_type,
                        f"{subscription.source} publishes {', '.join(published[subscription.source])}",
                    )


def subscription_rules(
    service: str, spec: EventSubscriber, platform: Any, default_target: str | None = None
) -> list[tuple[str, SubscriptionSpec]]:
    """(rule key, subscription) for each route of ``spec``, with its target filled in; an error without a bus."""
    if spec.subscribe and getattr(platform, "event_rules", None) is None:
        raise ConfigError(
            f"services.{service}.subscribe",
            len(spec.subscribe),
            "needs the platform's event bus, and this platform has none",
            show_value=False,
        )
    routes = []
    for subscription in spec.subscribe:
        routed = (
            _with_target(subscription, default_target)
            if subscription.target is None and default_target is not None
            else subscription
        )
        routes.append((routed.key(default_target), routed))
    return routes


def _with_target(subscription: SubscriptionSpec, target: str) -> SubscriptionSpec:
    import dataclasses

    return dataclasses.replace(subscription, target=target)
