"""Hypothesis: every generated bad stack config fails with one line naming the broken key and the stack.

Bad values are derived from the schema itself (types, ranges, choices, patterns of each field),
applied one at a time to the shipped dev config.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from arcblueprint.config import ConfigError, stack_config
from tests.strategies.config import bad_configs


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(bad_configs())
def test_every_bad_config_fails_with_one_line_naming_key_and_stack(case):
    config, expected_key = case
    try:
        stack_config(config, "dev", source="Pulumi.dev.yaml")  # as `blueprint preview` reads YAML
    except ConfigError as error:
        message = str(error)
        assert "\n" not in message
        assert "stack 'dev'" in message
        assert message.startswith(f"Pulumi.dev.yaml: {expected_key}"), message
    else:
        raise AssertionError(f"accepted a bad value for {expected_key}")
