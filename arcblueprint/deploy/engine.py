"""What the driver needs from a Pulumi engine, and what it reads out of the engine's event stream.

:class:`Engine` is implemented by :class:`arcblueprint.deploy.automation.AutomationEngine` (the
real CLI through ``pulumi.automation``) and by in-memory fakes in the tests. :class:`EventLog`
turns ``pulumi.automation.events.EngineEvent`` objects into the facts the gates decide on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pulumi.automation.events import EngineEvent

__all__ = ["Change", "Engine", "EnginePolicyViolation", "EventLog", "OnEvent", "Outcome"]

OnEvent = Callable[["EngineEvent"], None]

#: Steps that replace a resource (a new one is created, the old one deleted).
REPLACING_OPS = frozenset({"replace", "create-replacement", "delete-replaced"})


@dataclass(frozen=True)
class Change:
    op: str
    urn: str
    type: str
    protected: bool = False


@dataclass(frozen=True)
class EnginePolicyViolation:
    policy: str
    enforcement_level: str
    urn: str | None
    message: str


@dataclass
class Outcome:
    """The result of one engine operation (preview, up, refresh, destroy)."""

    succeeded: bool
    #: op -> count, as the engine's summary reports it.
    change_summary: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    message: str = ""


class Engine(Protocol):
    """One stack's operations; every method raises ``DeployError`` for environment problems."""

    def preview(self, stack: str, *, on_event: OnEvent) -> Outcome: ...
    def up(self, stack: str, *, on_event: OnEvent, targets: Sequence[str] | None = None) -> Outcome:
        """``pulumi up`` (only ``targets``, URNs, when given: ``--target``)."""
        ...

    def refresh(self, stack: str, *, on_event: OnEvent) -> Outcome: ...
    def destroy(self, stack: str, *, on_event: OnEvent) -> Outcome: ...
    def outputs(self, stack: str) -> dict[str, Any]: ...
    def set_config(self, stack: str, key: str, value: str) -> None:
        """Set a config value by path (``arcblueprint:releases.canaryWeightPercent``) in Pulumi.<stack>.yaml."""
        ...

    def with_config(self, stack: str, values: Mapping[str, Any]) -> None:
        """Config for this run's operations on ``stack`` only (never written to Pulumi.<stack>.yaml): namespaced
        keys to values, merged into the stack file's (mappings key by key)."""
        ...


@dataclass
class EventLog:
    """The steps, failures and policy results seen in one operation's event stream."""

    changes: list[Change] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    policy_violations: list[EnginePolicyViolation] = field(default_factory=list)
    diagnostics: list[str] = field(default_factory=list)

    def __call__(self, event: EngineEvent) -> None:
        if event.resource_pre_event is not None:
            meta = event.resource_pre_event.metadata
            op = str(getattr(meta.op, "value", meta.op))
            if op != "same":
                protected = bool((meta.old and meta.old.protect) or (meta.new and meta.new.protect))
                self.changes.append(Change(op=op, urn=meta.urn, type=meta.type, protected=protected))
        if event.res_op_failed_event is not None:
            meta = event.res_op_failed_event.metadata
            self.failures.append(f"{getattr(meta.op, 'value', meta.op)} {meta.urn}")
        if event.policy_event is not None:
            p = event.policy_event
            self.policy_violations.append(
                EnginePolicyViolation(
                    policy=p.policy_name,
                    enforcement_level=p.enforcement_level,
                    urn=p.resource_urn,
                    message=" ".join(p.message.split()),
                )
            )
        if event.diagnostic_event is not None and event.diagnostic_event.severity == "error":
            self.diagnostics.append(" ".join(event.diagnostic_event.message.split()))

    @property
    def replacements(self) -> list[Change]:
        seen: dict[str, Change] = {}
        for change in self.changes:
            if change.op in REPLACING_OPS:
                previous = seen.get(change.urn)
                seen[change.urn] = Change(
                    change.op, change.urn, change.type, change.protected or bool(previous and previous.protected)
                )
        return list(seen.values())

    @property
    def mandatory_violations(self) -> list[EnginePolicyViolation]:
        return [v for v in self.policy_violations if v.enforcement_level == "mandatory"]

    def changes_by_type(self) -> dict[str, dict[str, int]]:
        by_type: dict[str, Counter[str]] = {}
        for change in self.changes:
            by_type.setdefault(change.type, Counter())[change.op] += 1
        return {t: dict(c) for t, c in sorted(by_type.items())}


def total_steps(change_summary: Mapping[str, int]) -> int:
    """How many resource steps an update will run (everything but unchanged resources)."""
    return sum(count for op, count in change_summary.items() if op != "same")
