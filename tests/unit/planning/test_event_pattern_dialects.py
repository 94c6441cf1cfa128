"""One operand grammar, two dialects: what EventBridge accepts and SNS refuses stays explicit."""

from __future__ import annotations

import pytest

from arcblueprint.events.patterns import EventPatternError, validate_event_pattern
from arcblueprint.services.big_fan.filter_policy import FilterPolicyError, validate_filter_policy


@pytest.mark.parametrize(
    ("conditions", "path"),
    [
        ([{"wildcard": "a*b"}], "a[0].wildcard"),  # EventBridge only
        ([{"prefix": {"equals-ignore-case": "ab"}}], "a[0].prefix"),  # case-insensitive prefix: EventBridge only
        ([{"anything-but": {"equals-ignore-case": ["x", "y"]}}], "a[0].anything-but"),
        ([{"anything-but": {"wildcard": "*/lib/*"}}], "a[0].anything-but"),
        ([{"numeric": ["<", 2e9]}], "a[0].numeric[1]"),  # beyond SNS's 1e9, within EventBridge's 5e9
        ([{"anything-but": 2e9}], "a[0].anything-but"),
    ],
)
def test_what_eventbridge_accepts_and_sns_refuses(conditions, path):
    validate_event_pattern({"a": conditions})
    with pytest.raises(FilterPolicyError) as caught:
        validate_filter_policy({"a": conditions})
    assert caught.value.path == path


@pytest.mark.parametrize(
    ("conditions", "path", "words"),
    [
        ([{"numeric": ["=", 6e9]}], "a[0].numeric[1]", "-5e9 and 5e9 (EventBridge's"),
        ([{"anything-but": [1, "x"]}], "a[0].anything-but", "all strings or all numbers"),
        ([{"contains": "x"}], "a[0].contains", "unknown operator"),
        ([], "a", "empty list matches nothing"),
        ([{"cidr": 10}], "a[0].cidr", "IP prefix"),  # ipaddress would read the number as 0.0.0.10/32
    ],
)
def test_both_dialects_refuse_the_shared_mistakes(conditions, path, words):
    with pytest.raises(EventPatternError) as pattern:
        validate_event_pattern({"a": conditions})
    with pytest.raises(FilterPolicyError) as policy:
        validate_filter_policy({"a": conditions})
    assert pattern.value.path == policy.value.path == path
    assert words in str(pattern.value)
    assert str(policy.value).startswith(f"{path}: ") and "\n" not in str(policy.value)


def test_both_dialects_take_true_false_and_null_as_values():
    """SNS: "The JSON of the filter policy can contain ... the keywords true, false, and null" (filter policy
    constraints); EventBridge matches JSON booleans and null as values too."""
    conditions = {"flag": [True, False, None]}
    validate_event_pattern(conditions)
    validate_filter_policy(conditions)
