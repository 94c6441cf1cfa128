"""Comfortable REST: a regional REST API, one Lambda function and an on-demand DynamoDB table."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pulumi_aws as aws

from arcblueprint.platform.constructs.rest_stage import MethodThrottle, RestStage, RestStageArgs
from arcblueprint.platform.constructs.user_pool import ApiUserPool, ApiUserPoolArgs
from arcblueprint.platform.functions import FunctionArgs, ServerlessFunction
from arcblueprint.services.base import Service, ServiceArgs
from arcblueprint.services.comfortable_rest.outbox import TableOutbox, TableOutboxArgs
from arcblueprint.services.comfortable_rest.spec import BODY_OPERATIONS, ComfortableRestSpec, route_table

__all__ = ["ComfortableRestService"]

HANDLERS = Path(__file__).resolve().parent / "handlers"
STAGE_NAME = "v1"
OWNER_INDEX = "byOwner"


class ComfortableRestService(Service[ComfortableRestSpec]):
    """API Gateway (REST) -> Lambda (``live`` alias) -> DynamoDB, for one resource.

    Every method is authorized (Cognito user pool or IAM) unless the spec lists it as public,
    validated (request models and parameters) before Lambda runs, throttled (stage and per method;
    per API key too when the spec names ``apiClients``: then every non-public method requires the
    client's key and a usage plan meters each key) and logged (JSON access logs, X-Ray, Lambda JSON
    logs and EMF metrics). The function times out 1 s before the integration does.

    Attributes
    ----------
    table : aws.dynamodb.Table
    function : ServerlessFunction
    rest_api : aws.apigateway.RestApi
    stage : RestStage
    outputs : dict[str, pulumi.Input]
        ``url``, ``tableName``, ``functionName``, ``userPoolId``, ``userPoolClientId``, and with
        ``apiClients`` ``apiKeyIds`` (client -> key id; the key values are never exported).
    """

    TYPE = "arcblueprint:services:ComfortableRestService"

    def __init__(
        self, name: str, args: ServiceArgs[ComfortableRestSpec], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        spec, platform = args.spec, args.platform
        ctx = platform.context
        super().__init__(name, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = ctx.tags(name)
        # With a platform bus, every change of an item is published (OrderCreated/OrderUpdated) by a
        # transactional outbox on the table's stream: the API handler only writes the item.
        publishes = platform.event_rules is not None

        self.table = aws.dynamodb.Table(
            f"{name}-table",
            name=ctx.name(name, spec.resource_name),
            billing_mode="PAY_PER_REQUEST",  # on-demand: no capacity planning, scales with the API
            # Keyed per owner: an id names an item in its owner's namespace only, so no request can
            # learn (409) or claim an id another owner uses. The index lists an owner's newest first.
            hash_key="owner",
            range_key="id",
            attributes=[
                {"name": "id", "type": "S"},
                {"name": "owner", "type": "S"},
                {"name": "createdAt", "type": "S"},
            ],
            global_secondary_indexes=[
                {"name": OWNER_INDEX, "hash_key": "owner", "range_key": "createdAt", "projection_type": "ALL"}
            ],
            point_in_time_recovery={"enabled": True},
            server_side_encryption={"enabled": True, "kms_key_arn": platform.kms_key_arn},
            deletion_protection_enabled=ctx.stack.protect_stateful_resources,
            # The outbox: each write is recorded, before and after, for the publisher of domain events.
            stream_enabled=publishes or None,
            stream_view_type="NEW_AND_OLD_IMAGES" if publishes else None,
            tags=tags,
            opts=ctx.stateful(child),
        )
        self.outbox: TableOutbox | None = None
        if publishes:
            self.outbox = TableOutbox(
                f"{name}-outbox",
                TableOutboxArgs(
                    platform=platform,
                    service=name,
                    table=self.table,
                    code=spec.code("outbox-publisher"),
                ),
                opts=child,
            )

        environment: dict[str, pulumi.Input[str]] = {
            "TABLE_NAME": self.table.name,
            "OWNER_INDEX": OWNER_INDEX,
            "RESOURCE_NAME": spec.resource_name,
            "DEFAULT_PAGE_SIZE": str(spec.default_page_size),
            "MAX_PAGE_SIZE": str(spec.max_page_size),
        }
        if spec.cors_allow_origin:
            environment["CORS_ALLOW_ORIGIN"] = spec.cors_allow_origin
        self.function = ServerlessFunction(
            f"{name}-api",
            FunctionArgs(
                platform=platform,
                service=name,
                **ctx.code(spec.code("api"), HANDLERS / "api", key=f"services.{name}.functions.api"),
                description=f"{name}: CRUD on /{spec.resource_name}",
                memory_mib=spec.memory_mib,
                reserved_concurrency=spec.reserved_concurrency,
                timeout_seconds=spec.function_timeout_seconds,
                snap_start=spec.snap_start,
                environment=environment,
            ),
            opts=child,
        )
        self.function.grant_table_read_write(self.table.arn)

        self.rest_api = aws.apigateway.RestApi(
            f"{name}-rest-api",
            name=ctx.name(name),
            description=f"{name}: /{spec.resource_name} CRUD",
            endpoint_configuration={"types": "REGIONAL"},  # clients in-region; HTTP/2 and no CloudFront hop
            api_key_source="HEADER",  # keyed clients send X-API-Key (only methods that require a key read it)
            tags=tags,
            opts=child,
        )
        api_id = self.rest_api.id

        user_pool_id: pulumi.Input[str] | None = None
        client_id: pulumi.Input[str] | None = None
        authorizer = None
        if spec.authorizer == "cognito":
            pool_arn: pulumi.Input[str]
            if spec.user_pool_arn:
                pool_arn = spec.user_pool_arn
            else:
                pool = ApiUserPool(f"{name}-users", ApiUserPoolArgs(context=ctx, service=name), opts=child)
                pool_arn, user_pool_id, client_id = pool.arn, pool.user_pool.id, pool.client.id
            authorizer = aws.apigateway.Authorizer(
                f"{name}-authorizer",
                rest_api=api_id,
                name=ctx.name(name, "cognito"),
                type="COGNITO_USER_POOLS",
                provider_arns=[pool_arn],
                identity_source="method.request.header.Authorization",
                opts=child,
            )

        validators = {
            "body": aws.apigateway.RequestValidator(
                f"{name}-validate-body",
                rest_api=api_id,
                name="body-and-parameters",
                validate_request_body=True,
                validate_request_parameters=True,
                opts=child,
            ),
            "params": aws.apigateway.RequestValidator(
                f"{name}-validate-params",
                rest_api=api_id,
                name="parameters-only",
                validate_request_body=False,
                validate_request_parameters=True,
                opts=child,
            ),
        }
        schemas = json.loads((HANDLERS / "api" / "schemas.json").read_text())
        models = {
            op: aws.apigateway.Model(
                f"{name}-model-{op}",
                rest_api=api_id,
                name=schemas[op]["title"],
                content_type="application/json",
                schema=json.dumps(schemas[op]),
                opts=child,
            )
            for op in sorted(BODY_OPERATIONS)
        }

        routes = route_table(spec.resource_name)
        resources = self._resources(name, routes.values())
        created: list[pulumi.Resource] = []
        throttles: list[MethodThrottle] = []
        for op, (http_method, path) in routes.items():
            public = spec.is_public(op)
            params: dict[str, bool] = {}
            if "{id}" in path:
                params["method.request.path.id"] = True
            if op == "list":
                params.update(
                    {"method.request.querystring.limit": False, "method.request.querystring.nextToken": False}
                )
            method = aws.apigateway.Method(
                f"{name}-{op}",
                rest_api=api_id,
                resource_id=resources[path],
                http_method=http_method,
                authorization="NONE" if public else ("COGNITO_USER_POOLS" if authorizer else "AWS_IAM"),
                authorizer_id=None if public or authorizer is None else authorizer.id,
                request_validator_id=(validators["body"] if op in BODY_OPERATIONS else validators["params"]).id,
                request_models={"application/json": models[op].name} if op in BODY_OPERATIONS else None,
                request_parameters=params or None,
                api_key_required=spec.requires_api_key(op),
                operation_name=f"{op}{spec.resource_name.title().replace('-', '')}",
                opts=child,
            )
            created += [method, self._integration(name, op, method, resources[path], spec)]
            throttle = spec.throttle_for(op)
            throttles.append(
                MethodThrottle(
                    resource_path=path,
                    http_method=http_method,
                    rate_limit=throttle.rate_limit,
                    burst_limit=throttle.burst_limit,
                    api_key_required=spec.requires_api_key(op),
                )
            )
        if spec.cors_allow_origin:  # preflight carries no credentials, so OPTIONS cannot be authorized
            for path in sorted({path for _, path in routes.values()} - {"/health"}):
                suffix = "options-" + "-".join(p.strip("{}") for p in path.split("/") if p)
                method = aws.apigateway.Method(
                    f"{name}-{suffix}",
                    rest_api=api_id,
                    resource_id=resources[path],
                    http_method="OPTIONS",
                    authorization="NONE",
                    opts=child,
                )
                created += [method, self._integration(name, suffix, method, resources[path], spec)]

        self.stage = RestStage(
            f"{name}-stage",
            RestStageArgs(
                platform=platform,
                service=name,
                waf_inspects_sql=spec.waf_inspects_sql,
                waf_large_bodies=spec.waf_large_bodies,
                rest_api=self.rest_api,
                stage_name=STAGE_NAME,
                rate_limit=spec.throttle.rate_limit,
                burst_limit=spec.throttle.burst_limit,
                method_throttles=throttles,
                deployment_triggers={
                    "routes": json.dumps(sorted(routes.items())),
                    "public": ",".join(spec.public_operations),
                    "authorizer": spec.authorizer,
                    "schemas": json.dumps(schemas),
                    "cors": spec.cors_allow_origin or "",
                    "apiKeyRequired": str(bool(spec.api_clients)),
                },
                depends_on=created,
                execution_logging_level="ERROR" if ctx.stack.is_production else "INFO",
                api_clients=spec.api_clients,
                quota_limit=spec.quota.limit if spec.quota else None,
                quota_period=spec.quota.period if spec.quota else "DAY",
            ),
            opts=child,
        )
        # Only this API's stage may invoke the alias (any method/path of the stage).
        self.function.allow_invoke(
            "apigw",
            principal="apigateway.amazonaws.com",
            source_arn=self.stage.execution_arn.apply(lambda arn: f"{arn}/*/*"),
        )

        self.outputs = {
            "url": self.stage.invoke_url,
            "tableName": self.table.name,
            "functionName": self.function.function_name,
        }
        if user_pool_id is not None:
            self.outputs.update(userPoolId=user_pool_id, userPoolClientId=client_id)
        if self.outbox is not None:
            self.outputs["outboxFunctionName"] = self.outbox.publisher.function_name
        if self.stage.api_keys:
            self.outputs["apiKeyIds"] = {client: key.id for client, key in self.stage.api_keys.items()}
        self.finish(self.outputs)

    def _resources(self, name: str, routes) -> dict[str, pulumi.Input[str]]:
        """API Gateway resources for every path segment, parents first; ``/`` is the API root."""
        ids: dict[str, pulumi.Input[str]] = {"": self.rest_api.root_resource_id}
        for _, path in sorted(routes, key=lambda r: r[1].count("/")):
            parts = path.strip("/").split("/")
            for depth in range(1, len(parts) + 1):
                sub = "/" + "/".join(parts[:depth])
                if sub in ids:
                    continue
                parent = "/" + "/".join(parts[: depth - 1]) if depth > 1 else ""
                suffix = "-".join(p.strip("{}") for p in parts[:depth])
                ids[sub] = aws.apigateway.Resource(
                    f"{name}-path-{suffix}",
                    rest_api=self.rest_api.id,
                    parent_id=ids[parent],
                    path_part=parts[depth - 1],
                    opts=pulumi.ResourceOptions(parent=self),
                ).id
        return ids

    def _integration(
        self,
        name: str,
        suffix: str,
        method: aws.apigateway.Method,
        resource_id: pulumi.Input[str],
        spec: ComfortableRestSpec,
    ) -> aws.apigateway.Integration:
        return aws.apigateway.Integration(
            f"{name}-{suffix}-integration",
            rest_api=self.rest_api.id,
            resource_id=resource_id,
            http_method=method.http_method,
            type="AWS_PROXY",
            integration_http_method="POST",  # Lambda is always invoked with POST
            uri=self.function.alias_invoke_arn,
            timeout_milliseconds=spec.integration_timeout_ms,
            opts=pulumi.ResourceOptions(parent=self),
        )
