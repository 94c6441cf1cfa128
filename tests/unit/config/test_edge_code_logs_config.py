"""Config of the edge, code and logs controls: prod defaults on, dev off unless asked, one-line errors."""

from __future__ import annotations

import pytest

from arcblueprint.config import ConfigError, read_stack_file, stack_config
from arcblueprint.platform.waf import WebApplicationFirewallArgs
from arcblueprint.preview.harness import REPO_ROOT


def _config(stack_values, stack, **overrides):
    return stack_config(stack_values(stack, overrides or None), stack)


def test_prod_protects_every_api_and_enforces_signed_code(stack_values):
    prod = _config(stack_values, "prod")
    assert all(prod.waf_enabled(name) for name in prod.services)
    assert prod.waf_rate_limit("orders") == 2000 and prod.waf_rate_limit("hooks") == 20000  # per-service override
    assert prod.untrusted_artifacts == "Enforce"
    assert prod.resolver_query_logs and prod.logging.s3_access_logs


def test_dev_turns_on_only_what_it_asks_for(stack_values):
    dev = _config(stack_values, "dev")
    assert [name for name in dev.services if dev.waf_enabled(name)] == ["hooks"]
    assert dev.untrusted_artifacts == "Warn" and not dev.resolver_query_logs
    switched = _config(
        stack_values,
        "dev",
        **{"arcblueprint:waf": {"enabled": True}, "arcblueprint:logging": {"resolverQueryLogs": True}},
    )
    assert all(switched.waf_enabled(name) for name in switched.services) and switched.resolver_query_logs


def test_prod_can_turn_a_control_off_only_by_saying_so(stack_values):
    """The component default follows config; the pack (mandatory in prod) is what then fails the preview."""
    prod = _config(
        stack_values,
        "prod",
        **{
            "arcblueprint:waf": {"services": {"orders": {"enabled": False}}},
            "arcblueprint:codeSigning": {"untrustedArtifacts": "Warn"},
        },
    )
    assert not prod.waf_enabled("orders") and prod.waf_enabled("bookings")
    assert prod.untrusted_artifacts == "Warn"


@pytest.mark.parametrize(
    ("stack", "overrides", "key", "words"),
    [
        ("prod", {"arcblueprint:waf": {"services": {"hook": {"rateLimit": 100}}}}, "waf.services.hook", "must name a"),
        ("prod", {"arcblueprint:waf": {"rateLimit": 5}}, "waf.rateLimit", "from 10"),
        ("prod", {"arcblueprint:waf": {"evaluationWindowSeconds": 30}}, "waf.evaluationWindowSeconds", "60, 120"),
        (
            "prod",
            {"arcblueprint:codeSigning": {"untrustedArtifacts": "Allow"}},
            "codeSigning.untrustedArtifacts",
            "Enforce",
        ),
        ("dev", {"arcblueprint:waf": {}}, "services.hooks.allowedSenderRanges", "web ACL, which is off"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_key(stack_values, stack, overrides, key, words):
    with pytest.raises(ConfigError) as error:
        _config(stack_values, stack, **overrides)
    message = str(error.value)
    assert f"arcblueprint:{key}" in message and words in message and "\n" not in message


def test_sender_ranges_are_cidrs():
    values = read_stack_file(REPO_ROOT, "prod")
    services = dict(values["arcblueprint:services"])
    services["hooks"] = {**services["hooks"], "allowedSenderRanges": ["192.0.2.1/24"]}
    with pytest.raises(ConfigError) as error:
        stack_config({**values, "arcblueprint:services": services}, "prod")
    assert "services.hooks.allowedSenderRanges[0]" in str(error.value) and "host bits" in str(error.value)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [("rate_limit", 9, "minimum is 10"), ("evaluation_window_seconds", 90, "60, 120, 300 or 600")],
)
def test_the_component_refuses_what_waf_would(field, value, words):
    with pytest.raises(ValueError, match=words):
        WebApplicationFirewallArgs(context=None, service="s", resource_arn="a", log_group_arn="g", **{field: value})
