"""API Gateway (REST): logging after the account role, usage plans that meter keys, functions inside their integration.

Three ways a REST API deploys but fails, found only against AWS:

* a stage with access logs (or method settings with a logging level) created before the
  account-level CloudWatch role is set: ``CreateStage``/``UpdateStage`` fails with "CloudWatch Logs
  role ARN must be set in account settings to enable logging" on the first deploy in a fresh
  account or region, because nothing orders the stage after ``aws.apigateway.Account``; and the
  Account itself is rejected ("The role ARN does not have required permissions") when it is set
  before the role's policy is attached;
* a usage plan with no API key, or on APIs where no method requires one: its quota and throttles
  apply to no request;
* a Lambda function allowed to run longer than its integration waits: API Gateway answers 504
  while the function still works, and the caller retries work that then completes twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from arcblueprint.policy.base import (
    FUNCTION,
    UNKNOWN,
    functions_behind,
    is_mapping,
    known,
    known_list,
    number,
    stack_policy,
    truthy,
)
from arcblueprint.policy.graph import StackGraph

if TYPE_CHECKING:
    from pulumi_policy import PolicyResource, StackValidationArgs

    from arcblueprint.policy.base import ReportViolation

__all__ = ["FUNCTION_WITHIN_INTEGRATION", "LOGGING_AFTER_ACCOUNT", "POLICIES", "USAGE_PLAN_KEYED"]

ACCOUNT = "aws:apigateway/account:Account"
STAGE = "aws:apigateway/stage:Stage"
METHOD_SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
METHOD = "aws:apigateway/method:Method"
REST_API = "aws:apigateway/restApi:RestApi"
INTEGRATION = "aws:apigateway/integration:Integration"
USAGE_PLAN = "aws:apigateway/usagePlan:UsagePlan"
USAGE_PLAN_KEY = "aws:apigateway/usagePlanKey:UsagePlanKey"
RESOURCE = "aws:apigateway/resource:Resource"
ROLE = "aws:iam/role:Role"
ROLE_POLICIES = ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/rolePolicy:RolePolicy")

#: What API Gateway waits for an integration when ``timeoutInMillis`` is not set (REST APIs).
DEFAULT_INTEGRATION_TIMEOUT_MS = 29000
#: Lambda's timeout when a function does not set one.
DEFAULT_FUNCTION_TIMEOUT_SECONDS = 3


# --- apigateway-logging-after-account ------------------------------------------------------------


def _writes_logs(resource: PolicyResource) -> bool:
    """A stage with access logs, or method settings whose execution logging is not OFF (OFF is the default)."""
    if resource.resource_type == STAGE:
        return is_mapping(known(resource.props, "accessLogSettings"))
    settings = known(resource.props, "settings")
    level = UNKNOWN if settings is UNKNOWN else known(settings, "loggingLevel")
    return level is UNKNOWN or (isinstance(level, str) and level.upper() != "OFF")


def _account_roles(graph: StackGraph, account: PolicyResource) -> list[PolicyResource] | None:
    """The roles an Account's ``cloudwatchRoleArn`` was computed from; ``None`` when it sets no role at all."""
    roles = graph.refs(account, "cloudwatchRoleArn", ROLE)
    if roles:
        return roles
    value = known(account.props, "cloudwatchRoleArn")
    return [] if value is UNKNOWN or (isinstance(value, str) and value) else None  # a role outside the stack


def validate_logging_after_account(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Logging stages and method settings wait for the account's CloudWatch role; the Account waits for its policy."""
    if (args.get_config() or {}).get("manageApiGatewayAccount", True) is False:
        return  # the role is set by another owner before this stack deploys (docs: logging.manageApiGatewayAccount)
    graph = StackGraph(args.resources)
    accounts = [a for a in graph.of_type(ACCOUNT) if _account_roles(graph, a) is not None]
    for account in accounts:
        account_roles = _account_roles(graph, account) or []
        roles = {r.urn for r in account_roles}
        if not roles:
            continue  # the role lives outside the stack: its policy is not this stack's to order
        if any(known_list(r.props, "inlinePolicies") for r in account_roles):
            continue  # the role carries its policy (inlinePolicies): created with it, and the Account waits for it
        policies = [p for p in graph.of_type(*ROLE_POLICIES) if {r.urn for r in graph.refs(p, "role", ROLE)} & roles]
        if not any(graph.waits_for(account, p) for p in policies):
            report_violation(
                f"API Gateway account setting '{account.name}' does not wait for a policy of its CloudWatch role "
                f"({', '.join(sorted(p.name for p in policies)) or 'none in the stack'}); UpdateAccount checks that "
                'API Gateway can write logs with the role and fails with "The role ARN does not have required '
                "permissions\" when the policy is attached later. Add the role's policy attachment to the Account's "
                "depends_on.",
                account.urn,
            )
    for resource in graph.of_type(STAGE, METHOD_SETTINGS):
        if not _writes_logs(resource) or any(graph.waits_for(resource, a) for a in accounts):
            continue
        kind = "REST stage" if resource.resource_type == STAGE else "MethodSettings"
        what = "writes access logs" if resource.resource_type == STAGE else "sets an execution logging level"
        target = (
            f"the API Gateway account setting ({', '.join(sorted(a.name for a in accounts))})"
            if accounts
            else "an API Gateway account setting (aws.apigateway.Account with a cloudwatchRoleArn; none in the stack)"
        )
        report_violation(
            f"{kind} '{resource.name}' {what} but does not wait for {target}; in an account or region where the "
            'role is not yet set, the deploy fails with "CloudWatch Logs role ARN must be set in account settings '
            "to enable logging\". Add the platform's api_logging_depends_on to its depends_on (or set "
            "logging.manageApiGatewayAccount: false where another owner has set the role).",
            resource.urn,
        )


LOGGING_AFTER_ACCOUNT = stack_policy(
    "apigateway-logging-after-account",
    "REST stages with access logs and method settings with a logging level wait for the API Gateway account's "
    "CloudWatch role setting, which waits for the role's policy.",
    validate_logging_after_account,
    parameters={
        "manageApiGatewayAccount": {
            "type": "boolean",
            "default": True,
            "description": "false: the stack leaves the account setting to another owner (the role must pre-exist)",
        }
    },
    remediation_steps="Pass Platform.api_logging_depends_on to every logging Stage and MethodSettings (RestStage "
    "does); CentralLogging orders the Account after the role's policy attachment.",
)


# --- apigateway-usage-plan-keyed -----------------------------------------------------------------


def _resource_path(graph: StackGraph, method: PolicyResource) -> str | None:
    """A method's resource path as a usage plan names it (``/orders/{id}``), from the resources' path parts."""
    parts: list[str] = []
    current = graph.ref(method, "resourceId", RESOURCE, REST_API)
    for _ in range(64):  # a resource tree is never deeper; guards against a cycle in a broken graph
        if current is None:
            return None
        if current.resource_type == REST_API:
            return "/" + "/".join(reversed(parts))
        part = known(current.props, "pathPart")
        if not isinstance(part, str):
            return None
        parts.append(part)
        current = graph.ref(current, "parentId", RESOURCE, REST_API)
    return None


def _methods_by_path(graph: StackGraph, apis: list[PolicyResource]) -> dict[str, PolicyResource]:
    """``/orders/{id}/GET`` -> the Method, for the methods of ``apis`` whose path the stack shows."""
    found: dict[str, PolicyResource] = {}
    for api in apis:
        for method in graph.referrers(api, METHOD, prop="restApi"):
            path, verb = _resource_path(graph, method), known(method.props, "httpMethod")
            if path is not None and isinstance(verb, str):
                found[f"{path}/{verb.upper()}"] = method  # as a usage plan names it: /orders/{id}/GET
    return found


def validate_usage_plan_keyed(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every usage plan has an API key, covers a stage, and throttles per method only methods that require a key."""
    graph = StackGraph(args.resources)
    for plan in graph.of_type(USAGE_PLAN):
        if not graph.referrers(plan, USAGE_PLAN_KEY, prop="usagePlanId"):
            report_violation(
                f"Usage plan '{plan.name}' has no API key (no UsagePlanKey refers to it), so its quota and throttles "
                "apply to no request. Add an aws.apigateway.ApiKey and a UsagePlanKey per client, or drop the plan "
                "and rely on the stage throttles.",
                plan.urn,
            )
            continue
        stages = known_list(plan.props, "apiStages")
        if stages == []:
            report_violation(
                f"Usage plan '{plan.name}' has API keys but no apiStages: a plan applies only to the API stages it "
                "lists, so its keys open nothing and its quota and throttles meter nothing. Add the API's stage "
                "(apiId and stage) to apiStages.",
                plan.urn,
            )
            continue
        apis = graph.refs(plan, "apiStages", REST_API)
        if not apis:
            continue  # APIs outside the stack: their methods cannot be judged here
        keyed = [
            m
            for api in apis
            for m in graph.referrers(api, METHOD, prop="restApi")
            if truthy(known(m.props, "apiKeyRequired"))
        ]
        if not keyed:
            report_violation(
                f"Usage plan '{plan.name}' covers {', '.join(sorted(a.name for a in apis))}, where no method requires "
                "an API key (apiKeyRequired), so API Gateway never reads a key and the plan meters nothing. Set "
                "api_key_required on the methods its clients call, or drop the plan.",
                plan.urn,
            )
            continue
        methods = _methods_by_path(graph, apis)
        unkeyed: list[str] = []
        for stage in stages if stages is not UNKNOWN else ():
            throttles = known_list(stage, "throttles")
            for throttle in throttles if throttles is not UNKNOWN else ():
                path = known(throttle, "path")
                method = methods.get(path) if isinstance(path, str) else None
                if method is not None and not truthy(known(method.props, "apiKeyRequired")):
                    unkeyed.append(f"{path} ('{method.name}')")
        if unkeyed:
            report_violation(
                f"Usage plan '{plan.name}' throttles {', '.join(unkeyed)}, which require no API key: a plan meters "
                "only requests that carry one of its keys to a method that requires a key, so these throttles "
                "never apply (the stage's method settings throttle those methods). Drop them from the plan or "
                "set api_key_required on the methods.",
                plan.urn,
            )


USAGE_PLAN_KEYED = stack_policy(
    "apigateway-usage-plan-keyed",
    "Every usage plan has at least one API key, lists an API stage with at least one method that requires a key, "
    "and throttles per method only methods that require a key.",
    validate_usage_plan_keyed,
    remediation_steps="Declare usage plans only for metered clients (comfortable-rest apiClients): keys, usage "
    "plan keys and api_key_required on the non-public methods.",
)


# --- function-within-integration-timeout ---------------------------------------------------------


def validate_function_within_integration(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Each Lambda behind an AWS/AWS_PROXY integration times out before the integration stops waiting."""
    graph = StackGraph(args.resources)
    everything = graph.resources
    for integration in graph.of_type(INTEGRATION):
        if known(integration.props, "type") not in ("AWS_PROXY", "AWS"):
            continue
        waiting = known(integration.props, "timeoutMilliseconds")
        if waiting is UNKNOWN:
            continue
        waits_ms = number(waiting) or DEFAULT_INTEGRATION_TIMEOUT_MS
        for function in _unique(functions_behind(integration, "uri", everything)):
            running = known(function.props, "timeout")
            if running is UNKNOWN:
                continue
            runs_s = number(running) or DEFAULT_FUNCTION_TIMEOUT_SECONDS
            if runs_s * 1000 < waits_ms:
                continue
            suggested = max(1, int((waits_ms - 1000) // 1000))
            report_violation(
                f"Function '{function.name}' may run {runs_s:g} s but integration '{integration.name}' waits "
                f"{waits_ms:g} ms for it: API Gateway answers 504 while the function still works (a cold start "
                f"counts against the integration too) and the caller retries. Give the function a timeout shorter "
                f"than the integration's, e.g. {suggested} s, or the integration a longer one (REST: up to "
                f"{DEFAULT_INTEGRATION_TIMEOUT_MS} ms).",
                integration.urn,
            )


def _unique(resources: list[Any]) -> list[Any]:
    return list({r.urn: r for r in resources if r.resource_type == FUNCTION}.values())


FUNCTION_WITHIN_INTEGRATION = stack_policy(
    "function-within-integration-timeout",
    "Each Lambda function behind an API Gateway AWS/AWS_PROXY integration has a timeout shorter than the "
    "integration's (29 s when unset).",
    validate_function_within_integration,
    remediation_steps="Derive the function's timeout from the integration's "
    "(rest_conventions.function_timeout_seconds: 1 s shorter, whole seconds).",
)

POLICIES = [LOGGING_AFTER_ACCOUNT, USAGE_PLAN_KEYED, FUNCTION_WITHIN_INTEGRATION]
