"""Hardening: generated stack configs, valid and invalid, through the same path as ``blueprint preview``.

Invalid configs (150 generated: one bad value, an unknown key, or two settings that contradict
each other) must stop before any resource with one line naming the key; valid ones (fewer: each
synthesizes the whole stack) must synthesize and pass every mandatory policy. Nothing may raise
anything else.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arcblueprint.config import ConfigError, read_stack_file
from arcblueprint.config.model import LOG_RETENTION_DAYS
from arcblueprint.preview.harness import REPO_ROOT, synthesize
from tests.strategies.config import bad_configs  # the schema-derived bad-value strategies

NS = "arcblueprint:"


def merged(stack: str, sections: dict[str, dict[str, Any]]) -> dict[str, Any]:
    values = read_stack_file(REPO_ROOT, stack)
    for section, changes in sections.items():
        values[NS + section] = {**values.get(NS + section, {}), **changes}
    return values


@st.composite
def contradictions(draw: st.DrawFn) -> tuple[dict[str, Any], str, str]:
    stack = draw(st.sampled_from(["dev", "prod"]))
    case = draw(st.sampled_from(["expiry", "steps", "secret-rotation", "retention", "demand"]))
    if case == "demand":  # legacy ENIs: one address per execution, far beyond a /16
        values = merged(
            stack,
            {"network": {"eniModel": "legacy", "peakConcurrentExecutions": draw(st.integers(200_000, 1_000_000))}},
        )
        return values, stack, "network.peakConcurrentExecutions"
    if case == "expiry":
        archive = draw(st.integers(2, 3000))
        values = merged(
            stack, {"logging": {"archiveAfterDays": archive, "expireAfterDays": draw(st.integers(1, archive))}}
        )
        return values, stack, "expireAfterDays"
    if case == "steps":
        steps = draw(
            st.lists(st.integers(1, 100), min_size=1, max_size=5).filter(
                lambda s: s[-1] != 100 or any(b <= a for a, b in zip(s, s[1:], strict=False))
            )
        )
        return merged(stack, {"releases": {"weightedSteps": steps}}), stack, "weightedSteps"
    if case == "secret-rotation":
        values = read_stack_file(REPO_ROOT, stack)
        values[NS + "secrets"] = {"db-password": {"description": "database password", "rotationDays": 30}}
        return values, stack, "rotationDays"
    days = draw(st.integers(-5, 5000).filter(lambda d: d not in LOG_RETENTION_DAYS))
    return merged(stack, {"logging": {"retentionDays": days}}), stack, "retentionDays"


@st.composite
def invalid_configs(draw: st.DrawFn) -> tuple[dict[str, Any], str, str]:
    if draw(st.integers(0, 4)) == 0:
        return draw(contradictions())
    config, key = draw(bad_configs())
    return config, "dev", key


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
@given(invalid_configs())
def test_invalid_configs_stop_before_any_resource_with_one_line(case):
    values, stack, key = case
    try:
        synthesize(stack, overrides={k: v for k, v in values.items()})
    except ConfigError as error:
        message = str(error)
        assert "\n" not in message and f"stack '{stack}'" in message
        assert key in message, message
    else:
        raise AssertionError(f"accepted an invalid value for {key}")


@st.composite
def valid_configs(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    stack = draw(st.sampled_from(["dev", "prod"]))
    archive = draw(st.integers(1, 400))
    sections = {
        "functions": {
            "memoryMib": draw(st.integers(128, 10240)),
            "timeoutSeconds": draw(st.integers(1, 900)),
            "architecture": draw(st.sampled_from(["arm64", "x86_64"])),
            "logLevel": draw(st.sampled_from(["DEBUG", "INFO", "WARNING", "ERROR"])),
        },
        "logging": {
            "retentionDays": draw(st.sampled_from(sorted(LOG_RETENTION_DAYS))),
            "archiveAfterDays": archive,
            "expireAfterDays": draw(st.integers(archive + 1, 4000)),
        },
        # Legacy ENIs need an address per execution: keep that demand inside a /16 (4,000 x 4 + extras).
        "network": {
            "eniModel": (eni := draw(st.sampled_from(["hyperplane", "legacy"]))),
            "peakConcurrentExecutions": draw(st.integers(0, 20000 if eni == "hyperplane" else 4000)),
            # eu-west-1 has three zones (so do the mocks); more is a config error, tested elsewhere.
            "availabilityZones": draw(st.integers(2, 3)),
            "headroomPercent": draw(st.integers(0, 300)),
            "publicSubnets": draw(st.booleans()),
            "isolatedSubnets": draw(st.booleans()),
        },
        # Prod keeps a proxy in each of its two zones; the VPC is sized for the maximum.
        # Prod's Strangler reaches legacy through the proxy, so prod keeps it (that it must is tested elsewhere).
        "onPrem": {
            "enabled": stack == "prod" or draw(st.booleans()),
            "proxies": {
                "minSize": (low := draw(st.integers(2, 4))),
                "desiredCapacity": low + draw(st.integers(0, 2)),
                "maxSize": low + draw(st.integers(2, 6)),
            },
        },
        "eventBus": {
            "archiveRetentionDays": draw(st.integers(1, 3650)),
            "targetMaximumRetryAttempts": draw(st.integers(0, 185)),
        },
        "releases": {
            "errorAlarmThreshold": draw(st.integers(1, 1000)),
            "p99DurationAlarmMs": draw(st.integers(10, 900000)),
        },
    }
    if stack == "dev":  # prod's release strategy stays a safe one; dev tries them all
        sections["releases"]["strategy"] = draw(st.sampled_from(["all-at-once", "blue-green", "canary", "linear"]))
    return merged(stack, sections), stack


# Each example synthesizes and evaluates a whole stack (~5 s): 4 cover the shapes (stack, ENI
# model, zones, tiers, on-prem, release strategy) at a cost CI can pay on every run;
# HYPOTHESIS_PROFILE=explore draws fresh ones.
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_configs())
def test_valid_configs_synthesize_and_pass_mandatory_policies(case):
    from arcblueprint.policy.offline import evaluate

    values, stack = case
    graph = synthesize(stack, overrides=values)
    assert graph.resources
    report = evaluate(graph)
    assert not report.mandatory, "\n".join(report.summary_lines())
