"""``blueprint cost`` on the shipped stacks: every resource accounted for, dev cheaper than prod while idle."""

from __future__ import annotations

import json

import pytest

from arcblueprint.cost import Workload, cost_profile, diff_lines, render

HOURS = 730


@pytest.fixture(scope="module")
def profiles(synthesized):
    return {stack: cost_profile(synthesized(stack)) for stack in ("dev", "prod")}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_resource_type_is_priced_billed_per_use_or_free(profiles, synthesized, stack):
    profile = profiles[stack]
    assert profile.unpriced == ()
    assert profile.idle_monthly == pytest.approx(sum(p.monthly for p in profile.pieces))
    assert [path.service for path in profile.paths] == list(synthesized(stack).config.services)
    assert all(path.per_million > 0 and path.steps for path in profile.paths)


def test_dev_idles_for_a_fraction_of_prod(profiles):
    dev, prod = profiles["dev"], profiles["prod"]
    assert dev.idle_monthly < prod.idle_monthly / 4
    # dev keeps its on-prem path (one zone) but no application VPC endpoint: no dev function is in the VPC.
    assert dev.piece("network") is None
    endpoints = [line for line in dev.piece("on-prem").lines if "interface endpoint" in line.item]
    assert endpoints and all(" in 1 AZ" in line.item for line in endpoints)


def test_prod_lines_computed_by_hand(profiles, synthesized):
    prod = profiles["prod"]
    lines = {(line.resource, line.price.name): line for piece in prod.pieces for line in piece.lines}
    # 4 provisioned shards, kept 168 h: shard-hours plus extended retention, and one enhanced fan-out consumer.
    assert lines["lake-stream", "kinesis_shard_hour"].monthly == pytest.approx(4 * HOURS * 0.017)
    assert lines["lake-stream", "kinesis_extended_retention_shard_hour"].monthly == pytest.approx(4 * HOURS * 0.022)
    assert lines["lake-efo", "kinesis_efo_consumer_shard_hour"].monthly == pytest.approx(4 * HOURS * 0.0165)
    # Each application VPC endpoint in the three zones; proxies: minSize 2 t4g.small with 8 GB gp3 each.
    assert lines["network-sqs-endpoint", "privatelink_endpoint_az_hour"].monthly == pytest.approx(3 * HOURS * 0.011)
    assert lines["onprem-proxy-asg", "ec2_hour_t4g_small"].monthly == pytest.approx(2 * HOURS * 0.0184)
    assert lines["onprem-proxy-asg", "ebs_gp3_gb_month"].monthly == pytest.approx(2 * 8 * 0.088)
    # SnapStart on the synchronous functions: each 512 MB live version cached all month.
    snap = [line for line in lines.values() if line.price.name == "lambda_snapstart_cache_gb_second"]
    assert len(snap) == 5 and all(line.monthly == pytest.approx(0.5 * HOURS * 3600 * 0.0000015046) for line in snap)
    alarms = synthesized("prod").by_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    alarm_total = sum(line.monthly for line in lines.values() if line.price.name == "cloudwatch_alarm_metric_month")
    assert alarm_total == pytest.approx(len(alarms) * 0.1)


def test_orders_path_per_million_computed_by_hand(profiles):
    [orders] = [p for p in profiles["prod"].paths if p.service == "orders"]
    lam = 0.2 + 0.5 * 0.1 * 13.3334  # a 512 MB arm64 invocation of 100 ms, per million: request + GB-seconds
    expected = (
        3.5  # REST API request
        + lam  # api function
        + 2 * 0.70675  # the item and its one index (1 KB: one write unit each)
        + lam  # outbox publisher
        + 2 * 0.70675  # outbox claim and completion
        + 1.0  # one EventBridge event
    )
    assert orders.per_million == pytest.approx(expected)


def test_standard_saga_transitions_dominate_a_booking(profiles):
    [bookings] = [p for p in profiles["prod"].paths if p.service == "bookings"]
    transitions = [s for s in bookings.steps if s.price.name == "stepfunctions_standard_transition"]
    assert transitions and transitions[0].count == 4  # ReserveFlight, CollectPayment, ConfirmBooking, BookingSucceeded
    assert transitions[0].usd * 1e6 == pytest.approx(4 * 25.0)


def test_a_longer_duration_costs_more_per_request(synthesized):
    quick = cost_profile(synthesized("dev"), workload=Workload(duration_ms=50))
    slow = cost_profile(synthesized("dev"), workload=Workload(duration_ms=500))
    pairs = zip(quick.paths, slow.paths, strict=True)
    assert all(a.per_million <= b.per_million for a, b in pairs)
    assert quick.idle_monthly == slow.idle_monthly


def test_text_json_and_diff(profiles):
    dev, prod = profiles["dev"], profiles["prod"]
    text = "\n".join(render(dev))
    assert f"${dev.idle_monthly:,.2f} a month" in text and "Per 1M requests" in text and "NOT PRICED" not in text
    document = json.loads(json.dumps(dev.as_json()))
    assert document["idle"]["monthly"] == round(dev.idle_monthly, 2)
    assert [p["service"] for p in document["perMillionRequests"]] == [p.service for p in dev.paths]
    diff = diff_lines(dev, prod)
    assert diff[0].startswith(f"Idle ${dev.idle_monthly:,.2f} (dev) -> ${prod.idle_monthly:,.2f} (prod): +$")
    assert any("lake-efo: enhanced fan-out on 4 shards" in line for line in diff)
    same = diff_lines(dev, dev)
    assert "+$0.00 a month" in same[0]
    assert not any(line.startswith("      ") or "(+" in line or "(-" in line for line in same)


def test_the_command_prints_the_profile_and_the_comparison(synthesized, monkeypatch, capsys):
    from arcblueprint.cli import main
    from arcblueprint.preview import harness

    monkeypatch.setattr(harness, "synthesize", lambda stack, **_: synthesized(stack))
    assert main(["cost", "--stack", "dev", "--compare", "prod", "--summary"]) == 0
    out = capsys.readouterr().out
    assert "Stack 'dev' (eu-west-1): fixed cost while idle" in out and "--- dev -> prod ---" in out
    assert main(["cost", "--stack", "prod", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stack"] == "prod"
