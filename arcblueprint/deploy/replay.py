"""Replay archived events onto the shared bus: ``blueprint replay --stack S --from T --to T [--rule R]``.

The archive, the bus and the rules come from the stack's outputs (``eventArchiveArn``,
``eventBusArn``, ``eventRules``); ``StartReplay`` re-sends the events the archive holds for the
window to the bus, to every rule or only to the named ones (``Destination.FilterArns``). The
command waits for the replay to finish, printing how far through the window it is
(``EventLastReplayedTime``).

What it reports, it knows: EventBridge does not say how many events a replay sent (neither
``DescribeReplay`` nor any metric of the replay has a count), so the summary gives the archive's
own ``EventCount`` and ``SizeBytes`` (the whole archive, every time) and the replay's timestamps and
state, and says so; to count deliveries, look at the targets (their queues, the function's
invocations) or the rule's ``MatchedEvents`` metric for the replay's period.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from arcblueprint.deploy.errors import DeployError, ExitCode

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

__all__ = ["ReplayResult", "parse_time", "replay", "resolve_rules"]

_DONE = {"COMPLETED", "CANCELLED", "FAILED"}
#: What EventBridge cannot report, said once in every summary rather than guessed.
NO_COUNT = (
    "EventBridge does not report how many events a replay sent; count deliveries at the targets "
    "(or the rules' MatchedEvents metric for the replay's period)"
)


@dataclass
class ReplayResult:
    name: str
    archive_arn: str
    bus_arn: str
    start: datetime
    end: datetime
    rule_arns: list[str]
    state: str = "STARTING"
    state_reason: str = ""
    replay_started: datetime | None = None
    replay_ended: datetime | None = None
    last_replayed: datetime | None = None
    archive_event_count: int | None = None
    archive_size_bytes: int | None = None
    progress: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        def stamp(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "name": self.name,
            "archiveArn": self.archive_arn,
            "busArn": self.bus_arn,
            "from": stamp(self.start),
            "to": stamp(self.end),
            "rules": self.rule_arns,
            "state": self.state,
            "stateReason": self.state_reason,
            "replayStarted": stamp(self.replay_started),
            "replayEnded": stamp(self.replay_ended),
            "lastReplayedEventTime": stamp(self.last_replayed),
            "archiveEventCount": self.archive_event_count,
            "archiveSizeBytes": self.archive_size_bytes,
            "replayedEventCount": None,
            "replayedEventCountNote": NO_COUNT,
        }


def parse_time(value: str, option: str) -> datetime:
    """An ISO 8601 time (``2026-01-31T10:00:00Z``, ``2026-01-31``); without a zone it is UTC."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise DeployError(
            f"{option} {value!r} is not an ISO 8601 time such as 2026-01-31T10:00:00Z", ExitCode.CONFIG
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def resolve_rules(requested: Sequence[str], outputs: Mapping[str, Any], bus_arn: str) -> list[str]:
    """Rule ARNs for ``--rule`` values: a key of the ``eventRules`` output, a rule's name, or its ARN.

    A replay sends events to rules of the archive's bus only, so a rule elsewhere (the default bus)
    is refused here rather than by ``StartReplay``.
    """
    rules: Mapping[str, str] = outputs.get("eventRules") or {}
    bus_name = bus_arn.rsplit("/", 1)[-1]
    found: list[str] = []
    for value in requested:
        arn = rules.get(value) or next((a for a in rules.values() if a.rsplit("/", 1)[-1] == value), None)
        if arn is None and value.startswith("arn:"):
            arn = value
        if arn is None:
            known = ", ".join(sorted(rules)) or "none"
            raise DeployError(f"--rule {value!r} is not a rule of the stack (eventRules: {known})", ExitCode.CONFIG)
        if f":rule/{bus_name}/" not in arn:
            raise DeployError(
                f"--rule {value!r} ({arn}) is not on the archived bus {bus_name}; a replay reaches only "
                "that bus's rules",
                ExitCode.CONFIG,
            )
        found.append(arn)
    return found


def _as_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(value), tz=UTC)


def replay(
    client: Any,
    outputs: Mapping[str, Any],
    *,
    stack: str,
    start: datetime,
    end: datetime,
    rules: Sequence[str] = (),
    say: Callable[[str], None] = print,
    poll_seconds: float = 10.0,
    timeout_seconds: float = 3600.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] | None = None,
) -> ReplayResult:
    """Start a replay of ``[start, end)`` from the stack's archive and wait until EventBridge finishes it.

    Returns however it ended (``state`` COMPLETED, CANCELLED or FAILED); raises only for what stops it
    from starting (usage, missing outputs) and for a replay still running at ``timeout_seconds``.
    """
    archive_arn, bus_arn = outputs.get("eventArchiveArn"), outputs.get("eventBusArn")
    if not archive_arn or not bus_arn:
        raise DeployError(
            f"stack '{stack}' has no eventArchiveArn/eventBusArn output (deploy it first)", ExitCode.CONFIG
        )
    if not start < end:
        raise DeployError(f"--from {start.isoformat()} must be before --to {end.isoformat()}", ExitCode.CONFIG)
    rule_arns = resolve_rules(rules, outputs, bus_arn)
    stamp = (now or (lambda: datetime.now(UTC)))().strftime("%Y%m%dT%H%M%S")
    name = re.sub(r"[^.\-_A-Za-z0-9]", "-", f"{stack}-{stamp}")[:64]
    result = ReplayResult(
        name=name, archive_arn=archive_arn, bus_arn=bus_arn, start=start, end=end, rule_arns=rule_arns
    )
    archive = client.describe_archive(ArchiveName=archive_arn.rsplit("/", 1)[-1])
    result.archive_event_count = archive.get("EventCount")
    result.archive_size_bytes = archive.get("SizeBytes")
    destination: dict[str, Any] = {"Arn": bus_arn}
    if rule_arns:
        destination["FilterArns"] = rule_arns
    client.start_replay(
        ReplayName=name,
        EventSourceArn=archive_arn,
        EventStartTime=start,
        EventEndTime=end,
        Destination=destination,
        Description=f"blueprint replay of {stack} {start.isoformat()} .. {end.isoformat()}"[:512],
    )
    say(
        f"replay {name}: {start.isoformat()} .. {end.isoformat()} from {archive_arn} to "
        f"{', '.join(rule_arns) if rule_arns else 'every rule of ' + bus_arn}"
    )
    deadline = clock() + timeout_seconds
    window = (end - start).total_seconds()
    while True:
        described = client.describe_replay(ReplayName=name)
        result.state = described.get("State", "")
        result.state_reason = described.get("StateReason", "") or ""
        result.replay_started = _as_datetime(described.get("ReplayStartTime"))
        result.replay_ended = _as_datetime(described.get("ReplayEndTime"))
        result.last_replayed = _as_datetime(described.get("EventLastReplayedTime"))
        if result.last_replayed is not None:
            done = min(max((result.last_replayed - start).total_seconds() / window, 0.0), 1.0)
            line = f"{result.state}: replayed up to {result.last_replayed.isoformat()} ({done:.0%} of the window)"
        elif result.state in _DONE:
            line = f"{result.state}: EventBridge reported no replayed event time (the window may hold no event)"
        else:
            line = f"{result.state}: no event of the window replayed yet"
        if not result.progress or result.progress[-1] != line:
            result.progress.append(line)
            say(line)
        if result.state in _DONE:
            break
        if clock() >= deadline:
            raise DeployError(
                f"replay {name} still {result.state} after {timeout_seconds:.0f}s (it keeps running; "
                f"aws events describe-replay --replay-name {name})",
                ExitCode.UPDATE,
            )
        sleep(poll_seconds)
    say(
        f"replay {name} {result.state}{': ' + result.state_reason if result.state_reason else ''}. Archive: "
        f"{result.archive_event_count} events, {result.archive_size_bytes} bytes in all (not only this window). "
        f"{NO_COUNT}."
    )
    return result
