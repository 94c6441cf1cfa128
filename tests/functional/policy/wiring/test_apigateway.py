"""API Gateway correctness rules: logging after the account role, keyed usage plans, functions inside
their integration."""

from __future__ import annotations

import dataclasses

import pytest

from arcblueprint.policy.testing import mutated, violations_of

LOGGING = "apigateway-logging-after-account"
USAGE_PLAN = "apigateway-usage-plan-keyed"
TIMEOUT = "function-within-integration-timeout"
ACCOUNT = "logging-apigateway-account"


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("policy", [LOGGING, USAGE_PLAN, TIMEOUT])
def test_shipped_stacks_pass(synthesized, stack, policy):
    assert violations_of(synthesized(stack), policy) == []


def test_dev_cannot_weaken_the_rules(synthesized):
    from arcblueprint.policy.config import pack_config_for

    config = pack_config_for(synthesized("dev").config)
    assert {config[p]["enforcementLevel"] for p in (LOGGING, USAGE_PLAN, TIMEOUT)} == {"mandatory"}
    assert config[LOGGING]["manageApiGatewayAccount"] is True


# --- apigateway-logging-after-account ------------------------------------------------------------


def _forget_the_account(resource):
    """The defect as shipped before: nothing orders the stage (or method settings) after the Account."""
    resource.dependencies = [u for u in resource.dependencies if not u.endswith(f"::{ACCOUNT}")]


def test_every_rest_stage_waits_for_the_account_setting(synthesized):
    graph = synthesized("prod")
    stages = [r for r in graph.by_type("aws:apigateway/stage:Stage") if r.inputs.get("accessLogSettings")]
    assert {s.name for s in stages} == {
        "orders-stage-stage",
        "facade-stage-stage",
        "hooks-stage-stage",
        "fan-stage-stage",
    }
    assert all(any(u.endswith(f"::{ACCOUNT}") for u in s.dependencies) for s in stages)


def test_a_logging_stage_created_before_the_account_setting_is_reported_with_the_fix(synthesized):
    broken = mutated(synthesized("prod"), "hooks-stage-stage", _forget_the_account)
    [violation] = violations_of(broken, LOGGING)
    assert violation.urn.endswith("::hooks-stage-stage") and violation.level == "mandatory"
    assert "CloudWatch Logs role ARN must be set in account settings" in violation.message
    assert ACCOUNT in violation.message and "api_logging_depends_on" in violation.message


def test_method_settings_with_a_logging_level_are_reported_too(synthesized):
    broken = mutated(synthesized("dev"), "hooks-stage-all-methods", _forget_the_account)
    settings = next(r for r in broken.resources if r.name == "hooks-stage-all-methods")
    assert settings.inputs["settings"]["loggingLevel"] == "INFO"
    assert violations_of(broken, LOGGING) == []  # still after the stage, which waits for the Account
    settings.dependencies = [u for u in settings.dependencies if not u.endswith("::hooks-stage-stage")]
    settings.property_dependencies["stageName"] = []
    [violation] = violations_of(broken, LOGGING)
    assert violation.urn.endswith("::hooks-stage-all-methods") and "execution logging level" in violation.message
    settings.inputs["settings"]["loggingLevel"] = "OFF"  # logs nothing: nothing to wait for
    assert violations_of(broken, LOGGING) == []


def test_the_account_set_before_its_role_policy_is_reported(synthesized):
    def before_the_policy(account):
        account.dependencies = [u for u in account.dependencies if "rolePolicyAttachment" not in u]

    broken = mutated(synthesized("prod"), ACCOUNT, before_the_policy)
    [violation] = violations_of(broken, LOGGING)
    assert violation.urn.endswith(f"::{ACCOUNT}")
    assert "logging-apigateway-logs" in violation.message and "does not have required permissions" in violation.message


def test_a_stack_that_leaves_the_setting_to_another_owner_is_not_judged(synthesized):
    graph = mutated(synthesized("prod"), "orders-stage-stage", _forget_the_account)
    stack = graph.config
    elsewhere = dataclasses.replace(
        graph,
        config=dataclasses.replace(stack, logging=dataclasses.replace(stack.logging, manage_api_gateway_account=False)),
    )
    assert len(violations_of(graph, LOGGING)) == 1
    assert violations_of(elsewhere, LOGGING) == []


# --- apigateway-usage-plan-keyed -----------------------------------------------------------------


def test_usage_plans_exist_only_for_keyed_clients(synthesized):
    assert synthesized("dev").by_type("aws:apigateway/usagePlan:UsagePlan") == []  # no apiClients in dev
    prod = synthesized("prod")
    [plan] = prod.by_type("aws:apigateway/usagePlan:UsagePlan")
    assert plan.inputs["quotaSettings"] == {"limit": 1000000, "period": "DAY"}
    assert len(prod.by_type("aws:apigateway/usagePlanKey:UsagePlanKey")) == 2


def test_a_plan_without_keys_is_reported(synthesized):
    def unkeyed(link):
        link.property_dependencies["usagePlanId"] = []

    broken = mutated(synthesized("prod"), "orders-stage-key-web-app-plan", unkeyed)
    assert violations_of(broken, USAGE_PLAN) == []  # the other client's key still uses the plan
    unkeyed(next(r for r in broken.resources if r.name == "orders-stage-key-fulfilment-partner-plan"))
    [violation] = violations_of(broken, USAGE_PLAN)
    assert violation.urn.endswith("::orders-stage-usage-plan") and "has no API key" in violation.message


def test_a_plan_on_an_api_where_no_method_requires_a_key_is_reported(synthesized):
    def keyless(method):
        method.inputs["apiKeyRequired"] = False

    broken = mutated(synthesized("prod"), "orders-list", keyless)
    # Other methods still require the key; only the plan's throttle on the now keyless method is dead.
    [violation] = violations_of(broken, USAGE_PLAN)
    assert "/orders/GET ('orders-list')" in violation.message
    for op in ("create", "get", "update", "delete"):
        keyless(next(r for r in broken.resources if r.name == f"orders-{op}"))
    [violation] = violations_of(broken, USAGE_PLAN)
    assert violation.urn.endswith("::orders-stage-usage-plan")
    assert "orders-rest-api" in violation.message and "apiKeyRequired" in violation.message


# --- function-within-integration-timeout ---------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "seconds", "integration", "stack"),
    [
        ("hooks-receiver-function", 10, "hooks-post-integration", "prod"),  # 10 s behind a 5 s webhook integration
        ("orders-api-function", 10, "orders-list-integration", "prod"),  # prod: integrationTimeoutMs 10000
        ("facade-router-function", 29, "facade-any-api-notifications-integration", "prod"),
        ("facade-notifications-function", 30, "facade-any-api-notifications-integration", "dev"),  # a moved route
    ],
)
def test_a_function_that_outlives_its_integration_is_reported(synthesized, function, seconds, integration, stack):
    def slower(fn):
        fn.inputs["timeout"] = seconds
        fn.outputs["timeout"] = seconds

    broken = mutated(synthesized(stack), function, slower)
    violations = violations_of(broken, TIMEOUT)
    assert violations and all(function in v.message and "504" in v.message for v in violations)
    assert any(v.urn.endswith(f"::{integration}") for v in violations)


def test_an_integration_without_a_timeout_waits_29_seconds(synthesized):
    def default_wait(integration):
        integration.inputs.pop("timeoutMilliseconds")
        integration.outputs.pop("timeoutMilliseconds", None)

    broken = mutated(synthesized("prod"), "hooks-post-integration", default_wait)
    assert violations_of(broken, TIMEOUT) == []  # 4 s inside 29 s
    fn = next(r for r in broken.resources if r.name == "hooks-receiver-function")
    fn.inputs["timeout"] = fn.outputs["timeout"] = 29
    [violation] = violations_of(broken, TIMEOUT)
    assert violation.urn.endswith("::hooks-post-integration") and "29000 ms" in violation.message


def test_a_plan_with_keys_but_no_stage_is_reported(synthesized):
    def stageless(plan):
        plan.inputs["apiStages"] = []
        plan.outputs.pop("apiStages", None)
        plan.property_dependencies["apiStages"] = []

    [violation] = violations_of(mutated(synthesized("prod"), "orders-stage-usage-plan", stageless), USAGE_PLAN)
    assert violation.urn.endswith("::orders-stage-usage-plan")
    assert "no apiStages" in violation.message and "Add the API's stage" in violation.message


def test_plan_throttles_name_only_methods_that_require_a_key(synthesized):
    prod = synthesized("prod")
    [plan] = prod.by_type("aws:apigateway/usagePlan:UsagePlan")
    paths = {t["path"] for t in plan.inputs["apiStages"][0]["throttles"]}
    assert "/health/GET" not in paths and "/orders/{id}/DELETE" in paths  # the public health check is not metered

    def throttle_health(plan):
        plan.inputs["apiStages"][0]["throttles"].append({"path": "/health/GET", "rateLimit": 100, "burstLimit": 200})
        plan.outputs.pop("apiStages", None)

    [violation] = violations_of(mutated(prod, "orders-stage-usage-plan", throttle_health), USAGE_PLAN)
    assert violation.urn.endswith("::orders-stage-usage-plan")
    assert "/health/GET ('orders-health')" in violation.message and "never apply" in violation.message

    def keyless(method):  # paths of nested resources resolve too: /orders/{id} is orders -> {id}
        method.inputs["apiKeyRequired"] = False

    [violation] = violations_of(mutated(prod, "orders-delete", keyless), USAGE_PLAN)
    assert "/orders/{id}/DELETE ('orders-delete')" in violation.message


ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOGS_POLICY = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": "*"}]}'
)


@pytest.mark.parametrize("form", ["inline", "role-policy", None])
def test_the_role_may_carry_its_logging_policy_inline_or_as_a_role_policy(synthesized, form):
    prod = synthesized("prod")
    role = next(r for r in prod.resources if r.name == "logging-apigateway-role")
    attachment = next(r for r in prod.resources if r.name == "logging-apigateway-logs")
    resources = [r for r in prod.resources if r is not attachment]
    if form == "inline":
        inline = [{"name": "logs", "policy": LOGS_POLICY}]
        role = dataclasses.replace(role, inputs={**role.inputs, "inlinePolicies": inline})
        resources = [role if r.name == role.name else r for r in resources]
    elif form == "role-policy":
        resources.append(
            dataclasses.replace(
                attachment,
                type=ROLE_POLICY,
                urn=attachment.urn.replace("aws:iam/rolePolicyAttachment:RolePolicyAttachment", ROLE_POLICY),
                inputs={"role": role.inputs["name"], "policy": LOGS_POLICY},
                outputs={},
            )
        )
    account = next(r for r in resources if r.name == ACCOUNT)
    resources = [
        dataclasses.replace(
            account,
            dependencies=[
                u.replace("aws:iam/rolePolicyAttachment:RolePolicyAttachment", ROLE_POLICY)
                for u in account.dependencies
            ],
        )
        if r is account
        else r
        for r in resources
    ]
    violations = violations_of(dataclasses.replace(prod, resources=resources), LOGGING)
    if form is None:  # no policy at all: the Account is set before the role may write logs
        [violation] = violations
        assert violation.urn.endswith(f"::{ACCOUNT}") and "none in the stack" in violation.message
    else:
        assert violations == []
