"""Mutate one guarded property of a compliant resource: exactly the policy guarding it fires.

Every resource policy of the pack runs on every mutated resource, so this also shows that no
other policy reacts to the change (no overlapping or accidental rules).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pulumi_policy import ResourceValidationPolicy

from arcblueprint.policy.config import policy_parameters
from arcblueprint.policy.pack import all_policies
from arcblueprint.policy.tagging import DEFAULT_REQUIRED_TAGS
from arcblueprint.policy.testing import COMPLIANT_PROPS, run_resource

RESOURCE_POLICIES = [p for p in all_policies() if isinstance(p, ResourceValidationPolicy)]
CONFIG = {"stateful-protected": {"environment": "prod"}, "tags-required": {"requiredTags": list(DEFAULT_REQUIRED_TAGS)}}


def fired(resource_type: str, props: dict[str, Any], *, protect: bool = True) -> set[str]:
    return {
        p.name
        for p in RESOURCE_POLICIES
        if run_resource(p, resource_type, props, name="subject", protect=protect, config=CONFIG.get(p.name)).messages
    }


@pytest.mark.parametrize("resource_type", sorted(COMPLIANT_PROPS))
def test_compliant_props_pass_every_resource_policy(resource_type):
    assert fired(resource_type, copy.deepcopy(COMPLIANT_PROPS[resource_type])) == set()


def set_path(props: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    target = props
    for step in path[:-1]:
        target = target.setdefault(step, {})
    if value is _DROP:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value


_DROP = object()
UNSUPPORTED_RUNTIMES = st.sampled_from(
    ["python3.8", "python3.9", "python2.7", "nodejs16.x", "go1.x", "java8", "ruby2.7"]
)
FALSY = st.sampled_from([False, "false", _DROP])


def _unqualified_function(draw_name: str) -> str:
    return f"arn:aws:lambda:eu-west-1:222222222222:function:{draw_name}"


names = st.from_regex(r"[a-z][a-z0-9-]{2,20}", fullmatch=True)
secret_vars = st.tuples(
    st.sampled_from(["DB_PASSWORD", "API_KEY", "AUTH_TOKEN", "CLIENT_SECRET"]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=30),
)


def _add_secret(props: dict[str, Any], pair: tuple[str, str]) -> None:
    props["environment"]["variables"][pair[0]] = pair[1]


def _drop_tag(props: dict[str, Any], tag: str) -> None:
    props["tags"] = {k: v for k, v in props["tags"].items() if k != tag}


def _open_ingress(props: dict[str, Any], cidr: str) -> None:
    props["ingress"].append(
        {
            "protocol": "tcp",
            "fromPort": 443.0,
            "toPort": 443.0,
            "cidrBlocks": [],
            "ipv6CidrBlocks": [],
            **({"cidrBlocks": [cidr]} if "." in cidr else {"ipv6CidrBlocks": [cidr]}),
        }
    )


def _statement(props: dict[str, Any], change: dict[str, Any]) -> None:
    document = json.loads(props["policy"])
    document["Statement"][0].update(change)
    props["policy"] = json.dumps(document)


#: (resource type, policy expected to fire, strategy of bad values, how to apply one).
Mutation = tuple[str, str, st.SearchStrategy[Any], Callable[[dict[str, Any], Any], None]]
MUTATIONS: list[Mutation] = [
    (
        "aws:lambda/function:Function",
        "lambda-tracing-active",
        st.sampled_from(["PassThrough", _DROP]),
        lambda p, v: set_path(p, ("tracingConfig", "mode"), v),
    ),
    (
        "aws:lambda/function:Function",
        "lambda-runtime-supported",
        UNSUPPORTED_RUNTIMES,
        lambda p, v: set_path(p, ("runtime",), v),
    ),
    ("aws:lambda/function:Function", "lambda-no-plaintext-secrets", secret_vars, _add_secret),
    ("aws:lambda/function:Function", "tags-required", st.sampled_from(DEFAULT_REQUIRED_TAGS), _drop_tag),
    (
        "aws:cloudwatch/logGroup:LogGroup",
        "log-group-retention",
        st.sampled_from([0.0, _DROP]),
        lambda p, v: set_path(p, ("retentionInDays",), v),
    ),
    (
        "aws:lambda/eventSourceMapping:EventSourceMapping",
        "lambda-no-latest-invocation",
        names.map(_unqualified_function),
        lambda p, v: set_path(p, ("functionName",), v),
    ),
    (
        "aws:lambda/permission:Permission",
        "lambda-no-latest-invocation",
        st.sampled_from(["$LATEST", _DROP]),
        lambda p, v: set_path(p, ("qualifier",), v),
    ),
    (
        "aws:apigateway/method:Method",
        "api-method-authorized",
        st.sampled_from(["NONE", _DROP]),
        lambda p, v: set_path(p, ("authorization",), v),
    ),
    (
        "aws:apigatewayv2/route:Route",
        "api-method-authorized",
        st.sampled_from(["NONE", _DROP]),
        lambda p, v: set_path(p, ("authorizationType",), v),
    ),
    (
        "aws:apigateway/stage:Stage",
        "api-stage-logged-traced",
        FALSY,
        lambda p, v: set_path(p, ("xrayTracingEnabled",), v),
    ),
    (
        "aws:apigateway/methodSettings:MethodSettings",
        "api-cache-encrypted",
        FALSY,
        lambda p, v: set_path(p, ("settings", "cacheDataEncrypted"), v),
    ),
    (
        "aws:appsync/graphQLApi:GraphQLApi",
        "appsync-logged-traced",
        FALSY,
        lambda p, v: set_path(p, ("xrayEnabled",), v),
    ),
    (
        "aws:appsync/graphQLApi:GraphQLApi",
        "appsync-authorized",
        st.just("API_KEY"),
        lambda p, v: p.update(authenticationType=v, additionalAuthenticationProviders=[]),
    ),
    (
        "aws:appsync/apiCache:ApiCache",
        "appsync-cache-encrypted",
        FALSY,
        lambda p, v: set_path(p, ("atRestEncryptionEnabled",), v),
    ),
    (
        "aws:sqs/queue:Queue",
        "sqs-redrive-policy",
        st.sampled_from([_DROP, "{}", '{"maxReceiveCount": 5}']),
        lambda p, v: set_path(p, ("redrivePolicy",), v),
    ),
    ("aws:sqs/queue:Queue", "sqs-encrypted", st.just(_DROP), lambda p, v: set_path(p, ("kmsMasterKeyId",), v)),
    ("aws:sqs/queue:Queue", "tags-required", st.sampled_from(DEFAULT_REQUIRED_TAGS), _drop_tag),
    (
        "aws:sns/topic:Topic",
        "sns-encrypted",
        st.sampled_from([_DROP, ""]),
        lambda p, v: set_path(p, ("kmsMasterKeyId",), v),
    ),
    (
        "aws:sns/topicSubscription:TopicSubscription",
        "sns-subscription-dlq",
        st.sampled_from([_DROP, "{}"]),
        lambda p, v: set_path(p, ("redrivePolicy",), v),
    ),
    (
        "aws:kinesis/stream:Stream",
        "kinesis-encrypted",
        st.sampled_from(["NONE", _DROP]),
        lambda p, v: set_path(p, ("encryptionType",), v),
    ),
    (
        "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream",
        "firehose-encrypted-backed-up",
        st.sampled_from(["Disabled", _DROP]),
        lambda p, v: set_path(p, ("extendedS3Configuration", "s3BackupMode"), v),
    ),
    (
        "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream",
        "firehose-encrypted-backed-up",
        FALSY,
        lambda p, v: set_path(p, ("serverSideEncryption", "enabled"), v),
    ),
    (
        "aws:dynamodb/table:Table",
        "dynamodb-pitr-encrypted",
        FALSY,
        lambda p, v: set_path(p, ("pointInTimeRecovery", "enabled"), v),
    ),
    (
        "aws:dynamodb/table:Table",
        "dynamodb-pitr-encrypted",
        FALSY,
        lambda p, v: set_path(p, ("serverSideEncryption", "enabled"), v),
    ),
    (
        "aws:ec2/securityGroup:SecurityGroup",
        "sg-no-public-ingress",
        st.sampled_from(["0.0.0.0/0", "::/0"]),
        _open_ingress,
    ),
    (
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "sg-no-public-ingress",
        st.just("0.0.0.0/0"),
        lambda p, v: set_path(p, ("cidrIpv4",), v),
    ),
    (
        "aws:iam/rolePolicy:RolePolicy",
        "iam-no-star-action",
        st.sampled_from(["*", "dynamodb:*", ["s3:*"]]),
        lambda p, v: _statement(p, {"Action": v}),
    ),
    (
        "aws:iam/rolePolicy:RolePolicy",
        "iam-star-resource-allowlisted",
        st.sampled_from(["*", ["*"]]),
        lambda p, v: _statement(p, {"Resource": v}),
    ),
]


@given(st.data())
def test_one_mutation_fires_exactly_its_policy(data):
    resource_type, policy, values, apply = data.draw(st.sampled_from(MUTATIONS), label="mutation")
    props = copy.deepcopy(COMPLIANT_PROPS[resource_type])
    apply(props, data.draw(values, label="bad value"))
    assert fired(resource_type, props) == {policy}


@given(
    st.sampled_from(
        [
            "aws:dynamodb/table:Table",
            "aws:sqs/queue:Queue",
            "aws:kinesis/stream:Stream",
            "aws:cloudwatch/logGroup:LogGroup",
        ]
    )
)
def test_unprotecting_a_stateful_resource_fires_only_stateful_protected(resource_type):
    assert fired(resource_type, copy.deepcopy(COMPLIANT_PROPS[resource_type]), protect=False) == {"stateful-protected"}


@given(st.dictionaries(st.from_regex(r"x-[a-z]{1,10}", fullmatch=True), st.text(max_size=20), max_size=5))
def test_extra_tags_change_nothing(extra):
    for resource_type, props in COMPLIANT_PROPS.items():
        mutated = copy.deepcopy(props)
        if "tags" in mutated:
            mutated["tags"].update(extra)
        assert fired(resource_type, mutated) == set()


def test_config_parameters_only_name_real_policies():
    from arcblueprint.config import load
    from arcblueprint.preview.harness import REPO_ROOT

    names = {p.name for p in all_policies()}
    assert set(policy_parameters(load(REPO_ROOT, "dev"))) <= names
