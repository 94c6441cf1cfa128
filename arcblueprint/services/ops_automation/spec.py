"""Config of an operations automation service (``pattern: ops-automation``). Pure: no Pulumi here."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

from arcblueprint.config.schema import ConfigError, setting
from arcblueprint.services.event_wiring import EventSubscriber, check_subscriptions

__all__ = ["JOB_ACTIONS", "TARGETS", "AlarmResponderSpec", "JobSpec", "OpsAutomationSpec"]

#: What a periodic job can do (the jobs function's actions).
JOB_ACTIONS = ("cleanup",)
#: Where subscribed domain events go: the audit function (records each) or the workflow (records, then notifies).
TARGETS = ("audit", "workflow")
_NAME = re.compile(r"[a-z][a-z0-9-]{0,22}[a-z0-9]")
#: EventBridge Scheduler expressions: rate(value unit), cron(six fields), at(yyyy-mm-ddThh:mm:ss).
_SCHEDULE = re.compile(
    r"rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\((\S+ ){5}\S+\)"
    r"|at\(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\)"
)


@dataclass(frozen=True, kw_only=True)
class JobSpec:
    """A periodic job: an EventBridge Scheduler schedule that invokes the jobs function with one action."""

    #: ``rate(1 day)``, ``cron(0 3 * * ? *)`` or ``at(2030-01-01T00:00:00)``.
    schedule: str = setting("rate(1 day)", doc="an EventBridge Scheduler expression")
    timezone: str = setting("UTC", pattern=r"UTC|[A-Z][A-Za-z_]+(/[A-Za-z_+-]+){1,2}", doc="an IANA time zone")
    #: Scheduler may start the job any time within this window after the scheduled time, spreading load.
    flexible_window_minutes: int = setting(15, minimum=1, maximum=1440)
    action: Literal["cleanup"] = "cleanup"
    #: cleanup: operations records older than this are deleted.
    retention_days: int = setting(30, minimum=1, maximum=3650)
    #: Scheduler retries an invocation that failed this often, within the event age, before the DLQ.
    maximum_retry_attempts: int = setting(3, minimum=0, maximum=185)
    maximum_event_age_seconds: int = setting(3600, minimum=60, maximum=86400)

    def __post_init__(self) -> None:
        if not _SCHEDULE.fullmatch(self.schedule):
            raise ConfigError(
                "schedule",
                self.schedule,
                "must be rate(<n> minutes|hours|days), cron(<6 fields>) or at(yyyy-mm-ddThh:mm:ss)",
            )
        if self.schedule.startswith("rate(") and int(self.schedule[5:].split()[0]) < 1:
            raise ConfigError("schedule", self.schedule, "a rate must be at least 1")


@dataclass(frozen=True, kw_only=True)
class AlarmResponderSpec:
    """Responds to this stack's CloudWatch alarms (state changes on the default bus): records each, notifies some."""

    #: States whose transitions are notified (with the runbook and the alarm's recent history); all are recorded.
    notify_states: tuple[Literal["ALARM", "OK", "INSUFFICIENT_DATA"], ...] = setting(default_factory=lambda: ("ALARM",))
    #: Linked in every notification; default: none.
    runbook_url: str | None = setting(None, pattern=r"https://[A-Za-z0-9.-]+(:\d{1,5})?(/\S*)?")


@dataclass(frozen=True, kw_only=True)
class OpsAutomationSpec(EventSubscriber):
    """Periodic jobs, an alarm responder, and event-triggered audit and workflows, each with a kill switch."""

    #: The functions ``functions.<name>`` can point at the team's own code.
    FUNCTION_NAMES: ClassVar[tuple[str, ...]] = ("audit", "alarms", "jobs")

    def function_names(self) -> tuple[str, ...]:
        return ("audit", "alarms", "jobs") if self.alarm_responder is not None else ("audit", "jobs")

    #: Job name -> its schedule; default: a daily cleanup of old operations records.
    jobs: Mapping[str, JobSpec] = setting(default_factory=lambda: {"cleanup": JobSpec()})
    #: default: on (notify on ALARM). ``null`` turns it off.
    alarm_responder: AlarmResponderSpec | None = setting(default_factory=AlarmResponderSpec)
    #: Days an operations record (alarm change, audited event) is kept before DynamoDB's TTL removes it.
    record_retention_days: int = setting(90, minimum=1, maximum=3650)
    workflow_type: Literal["STANDARD", "EXPRESS"] = "STANDARD"

    def __post_init__(self) -> None:
        for name in self.jobs:
            if not _NAME.fullmatch(name):
                raise ConfigError(f"jobs.{name}", name, "job names are 2-24 lowercase letters, digits or -")
        check_subscriptions(self.subscribe, targets=TARGETS, default_target="audit", what="target")
