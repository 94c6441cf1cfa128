"""Rollback alarms are read from CloudWatch (moto's, here) exactly as the promotion needs them."""

from __future__ import annotations

import boto3
from moto import mock_aws

from arcblueprint.deploy.alarms import firing_alarms


def put_alarm(client, name: str) -> None:
    client.put_metric_alarm(
        AlarmName=name,
        MetricName="Errors",
        Namespace="AWS/Lambda",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        Dimensions=[{"Name": "FunctionName", "Value": "orders"}, {"Name": "Resource", "Value": "orders:live"}],
    )


@mock_aws
def test_only_alarms_in_alarm_state_fire():
    client = boto3.client("cloudwatch", region_name="eu-west-1")
    for name in ("orders-errors", "orders-throttles", "orders-p99"):
        put_alarm(client, name)
    client.set_alarm_state(AlarmName="orders-errors", StateValue="ALARM", StateReason="canary errors")
    client.set_alarm_state(AlarmName="orders-throttles", StateValue="OK", StateReason="fine")
    # orders-p99 stays INSUFFICIENT_DATA: a quiet canary is not a failing one.
    assert firing_alarms(["orders-errors", "orders-throttles", "orders-p99"], region="eu-west-1") == ["orders-errors"]


@mock_aws
def test_an_alarm_that_cannot_be_read_stops_the_promotion():
    client = boto3.client("cloudwatch", region_name="eu-west-1")
    put_alarm(client, "orders-errors")
    assert firing_alarms(["orders-errors", "deleted-alarm"], region="eu-west-1") == ["deleted-alarm"]


@mock_aws
def test_more_than_one_page_of_names():
    client = boto3.client("cloudwatch", region_name="eu-west-1")
    names = [f"fn-{i:03d}-errors" for i in range(120)]
    for name in names:
        put_alarm(client, name)
    client.set_alarm_state(AlarmName="fn-117-errors", StateValue="ALARM", StateReason="x")
    assert firing_alarms(names, client=client) == ["fn-117-errors"]


def test_no_alarms_means_nothing_to_read():
    assert firing_alarms([], client=object()) == []
