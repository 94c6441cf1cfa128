"""Props reach every policy as the engine's analyzer builds them, and the helpers read them that way.

``pulumi_policy/policy.py`` (``Analyze``, ``AnalyzeStack``) wraps each resource's deserialized
props with ``pulumi_policy.proxy.unknown_checking_proxy``: an object is a ``Mapping`` but not a
``dict``, an array a ``Sequence`` but not a ``list``, and reading an unknown value raises
``UnknownValueError``. ``offline.engine_props`` and ``testing`` do the same, so a rule that
relies on ``dict``/``list`` fails in these tests exactly as it would under ``pulumi preview``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from arcblueprint.policy.base import (
    UNKNOWN,
    as_list,
    is_list,
    is_mapping,
    known,
    known_dig,
    known_list,
    resource_policy,
    tags_of,
)
from arcblueprint.policy.offline import engine_props
from arcblueprint.policy.testing import run_resource


def test_engine_props_have_the_engines_types():
    props = engine_props({"timeout": 10, "tags": {"a": "b"}, "layers": ["x"], "on": True, "arn": UNKNOWN_STRING_VALUE})
    assert isinstance(props, Mapping) and not isinstance(props, dict)
    assert isinstance(props["tags"], Mapping) and not isinstance(props["tags"], dict)
    assert isinstance(props["layers"], Sequence) and not isinstance(props["layers"], list)
    assert props["timeout"] == 10.0 and isinstance(props["timeout"], float)  # a protobuf Struct number
    assert props["on"] is True
    with pytest.raises(UnknownValueError):
        props.get("arn")


def test_a_resource_policy_sees_the_proxy_in_tests_too():
    seen = []
    policy = resource_policy(
        "shapes",
        "Records the shapes it is given.",
        lambda args, report: seen.append((type(args.props).__name__, type(args.props["tags"]).__name__)),
        types=None,
    )
    run_resource(policy, "aws:sqs/queue:Queue", {"tags": {"owner": "x"}})
    assert seen == [("_DictProxy", "_DictProxy")]


def test_the_helpers_read_proxied_values():
    props = engine_props(
        {
            "list": ["a", "b"],
            "one": "c",
            "nested": {"k": UNKNOWN_STRING_VALUE},
            "partly": ["a", UNKNOWN_STRING_VALUE],
            "arn": UNKNOWN_STRING_VALUE,
        }
    )
    assert as_list(props["list"]) == ["a", "b"] and as_list(props["one"]) == ["c"] and as_list(None) == []
    assert is_list(props["list"]) and not is_list("text") and is_mapping(props["nested"])
    assert known(props, "arn") is UNKNOWN and known(props, "missing") is None and known("not props", "x") is None
    assert known_dig(props, "nested", "k") is UNKNOWN and known_dig(props, "nested", "other") is None
    assert known_list(props, "partly") is UNKNOWN and known_list(props, "list") == ["a", "b"]
    assert bool(UNKNOWN)  # computed at deploy time means set


def test_tags_with_a_value_computed_at_deploy_time_are_still_set():
    props = engine_props(
        {"tags": {"owner": "platform-team", "release-strategy": UNKNOWN_STRING_VALUE}, "tagsAll": UNKNOWN_STRING_VALUE}
    )
    assert tags_of(props) == {"owner": "platform-team", "release-strategy": UNKNOWN}
