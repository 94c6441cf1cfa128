"""Read the rollback alarms of a release from CloudWatch (boto3; moto in the tests)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["firing_alarms"]


def firing_alarms(alarm_names: Sequence[str], *, client: Any = None, region: str | None = None) -> list[str]:
    """The alarms among ``alarm_names`` that are in ALARM state (INSUFFICIENT_DATA is not a failure:
    a canary with little traffic has no data yet, and CodeDeploy treats it the same way).

    An alarm name that does not exist is reported as firing: a rollback signal that cannot be read
    must stop a promotion, not let it through.
    """
    if not alarm_names:
        return []
    if client is None:
        import boto3

        client = boto3.client("cloudwatch", region_name=region)
    found: dict[str, str] = {}
    names = list(dict.fromkeys(alarm_names))
    for start in range(0, len(names), 100):  # DescribeAlarms takes at most 100 names
        paginator = client.get_paginator("describe_alarms")
        for page in paginator.paginate(
            AlarmNames=names[start : start + 100], AlarmTypes=["MetricAlarm", "CompositeAlarm"]
        ):
            for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
                found[alarm["AlarmName"]] = alarm["StateValue"]
    return [name for name in names if found.get(name, "MISSING") in ("ALARM", "MISSING")]
