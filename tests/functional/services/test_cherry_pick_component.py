"""Cherry-pick under the mock runtime: auth, logging ALL + tracing, direct resolvers, caching per env,
the saga state machine logged/traced/encrypted, the table protected in prod."""

from __future__ import annotations

import json

import pytest

from arcblueprint.services.cherry_pick.saga import validate_saga

SPECS = {
    "dev": {},
    "prod": {
        "caching": {
            "ttlSeconds": 300,
            "instanceType": "SMALL",
            "resolvers": ["Query.getBooking", "Query.listBookings"],
        },
        "sagaRetry": {"maxAttempts": 4, "intervalSeconds": 1, "backoffRate": 2.0},
    },
}


@pytest.fixture(scope="module", params=["dev", "prod"])
def graph(request, run_component, service_program):
    program = service_program("bookings", "cherry-pick", SPECS[request.param])
    return run_component(program, stack=request.param, preview=False)


def test_the_api_uses_cognito_plus_iam_and_logs_all_with_tracing(graph):
    (api,) = graph.by_type("aws:appsync/graphQLApi:GraphQLApi")
    assert api.inputs["authenticationType"] == "AMAZON_COGNITO_USER_POOLS"
    assert api.inputs["additionalAuthenticationProviders"] == [{"authenticationType": "AWS_IAM"}]
    assert api.inputs["logConfig"]["fieldLogLevel"] == "ALL" and api.inputs["xrayEnabled"] is True
    assert '@aws_cognito_user_pools(cognito_groups: ["admins"])' in api.inputs["schema"]
    groups = [g.inputs["name"] for g in graph.by_type("aws:cloudwatch/logGroup:LogGroup")]
    assert any(name.startswith("/aws/appsync/apis/") for name in groups)
    assert any(name.startswith("/aws/vendedlogs/states/") for name in groups)


def test_reads_are_direct_dynamodb_js_resolvers_and_the_mutation_is_lambda(graph):
    resolvers = {r.inputs["field"]: r.inputs for r in graph.by_type("aws:appsync/resolver:Resolver")}
    sources = {s.inputs["name"]: s.inputs for s in graph.by_type("aws:appsync/dataSource:DataSource")}
    for field in ("getBooking", "listBookings"):
        assert resolvers[field]["runtime"] == {"name": "APPSYNC_JS", "runtimeVersion": "1.0.0"}
        assert sources[resolvers[field]["dataSource"]]["type"] == "AMAZON_DYNAMODB"
        assert "projection" in resolvers[field]["code"]
    assert sources[resolvers["createBooking"]["dataSource"]]["type"] == "AWS_LAMBDA"
    assert sources[resolvers["createBooking"]["dataSource"]]["lambdaConfig"]["functionArn"].endswith(":live")


def test_caching_follows_the_environment(graph):
    caches = graph.by_type("aws:appsync/apiCache:ApiCache")
    resolvers = {r.inputs["field"]: r.inputs for r in graph.by_type("aws:appsync/resolver:Resolver")}
    if graph.stack == "dev":
        assert not caches and all(r.get("cachingConfig") is None for r in resolvers.values())
        return
    (cache,) = caches
    assert cache.inputs["ttl"] == 300 and cache.inputs["apiCachingBehavior"] == "PER_RESOLVER_CACHING"
    assert cache.inputs["atRestEncryptionEnabled"] is True and cache.inputs["transitEncryptionEnabled"] is True
    for field in ("getBooking", "listBookings"):
        config = resolvers[field]["cachingConfig"]
        assert config["ttl"] == 300 and config["cachingKeys"][0] == "$context.identity.sub"
    assert resolvers["createBooking"].get("cachingConfig") is None


def test_the_saga_is_logged_traced_encrypted_and_sound(graph):
    (machine,) = graph.by_type("aws:sfn/stateMachine:StateMachine")
    assert machine.inputs["loggingConfiguration"]["level"] == "ALL"
    assert machine.inputs["loggingConfiguration"]["logDestination"].endswith(":*")
    assert machine.inputs["tracingConfiguration"] == {"enabled": True}
    assert machine.inputs["encryptionConfiguration"]["type"] == "CUSTOMER_MANAGED_KMS_KEY"
    definition = json.loads(machine.inputs["definition"])
    assert validate_saga(definition) == []
    attempts = 4 if graph.stack == "prod" else 3
    assert definition["States"]["ReserveFlight"]["Retry"][0]["MaxAttempts"] == attempts


def test_the_table_is_protected_in_prod(graph):
    (table,) = graph.by_type("aws:dynamodb/table:Table")
    prod = graph.stack == "prod"
    assert table.inputs["deletionProtectionEnabled"] is prod and table.protect is prod
    assert table.inputs["pointInTimeRecovery"]["enabled"] is True and table.inputs["serverSideEncryption"]["enabled"]


def test_data_source_roles_are_least_privilege(graph):
    policies = {p.name: json.loads(p.inputs["policy"]) for p in graph.by_type("aws:iam/rolePolicy:RolePolicy")}
    ddb = policies["bookings-ddb-source-policy"]["Statement"][0]
    assert ddb["Action"] == ["dynamodb:GetItem", "dynamodb:Query"]
    for name, document in policies.items():
        for statement in document["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any(a == "*" or a.endswith(":*") for a in actions), name


def test_outputs(graph):
    outputs = graph.outputs["outputs"]
    assert outputs["graphqlUrl"].endswith("/graphql") and outputs["stateMachineArn"].startswith("arn:aws:states:")
