"""Cherry-pick: AppSync GraphQL over DynamoDB, a Lambda resolver and a Step Functions saga."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pulumi_aws as aws

from arcblueprint.platform.constructs.user_pool import ApiUserPool, ApiUserPoolArgs
from arcblueprint.platform.functions import FunctionArgs, ServerlessFunction
from arcblueprint.service_facts import service_trust_policy, state_machine_observability_statements
from arcblueprint.services.base import Service, ServiceArgs
from arcblueprint.services.cherry_pick.saga import SagaRetry, build_saga, validate_saga
from arcblueprint.services.cherry_pick.spec import CherryPickSpec

__all__ = ["CherryPickService"]

HERE = Path(__file__).resolve().parent
SCHEMA_FILE = HERE / "schema.graphql"
OWNER_INDEX = "byOwner"


class CherryPickService(Service[CherryPickSpec]):
    """Reads resolve straight from DynamoDB (JS resolvers, selected fields only, cached per caller);
    ``createBooking`` is a Lambda resolver that starts the booking saga in Step Functions.

    Attributes
    ----------
    api : aws.appsync.GraphQLApi
    firewall : pulumi.Resource | None
        The API's web ACL (``platform.firewall``), ``None`` where the stack's ``waf`` leaves it off.
    table : aws.dynamodb.Table
    state_machine : aws.sfn.StateMachine
    outputs : dict[str, pulumi.Input]
    """

    TYPE = "arcblueprint:services:CherryPickService"

    def __init__(
        self, name: str, args: ServiceArgs[CherryPickSpec], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        spec, platform = args.spec, args.platform
        ctx = platform.context
        # AppSync's roles carry no source conditions: no AWS document says AppSync sends aws:SourceArn or
        # aws:SourceAccount when it assumes them, and a condition on a key it does not send would deny every
        # resolver and log delivery (arcblueprint.service_facts.SOURCE_KEY_SERVICES).
        appsync_trust = service_trust_policy("appsync.amazonaws.com", account_id=ctx.stack.account_id)
        super().__init__(name, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = ctx.tags(name)
        region = ctx.stack.region

        self.table = aws.dynamodb.Table(
            f"{name}-table",
            name=ctx.name(name, "bookings"),
            billing_mode="PAY_PER_REQUEST",
            hash_key="id",
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
            tags=tags,
            opts=ctx.stateful(child),
        )

        # ------------------------------------------------------------------ saga
        self.steps = ServerlessFunction(
            f"{name}-saga-steps",
            FunctionArgs(
                platform=platform,
                service=name,
                **ctx.code(
                    spec.code("saga-steps"),
                    HERE / "handlers" / "saga_steps",
                    key=f"services.{name}.functions.saga-steps",
                ),
                description=f"{name}: booking saga steps and compensations",
                memory_mib=spec.memory_mib,
                environment={"TABLE_NAME": self.table.name},
                # The step that settles a booking publishes BookingConfirmed / BookingCancelled.
                publishes_domain_events=platform.event_rules is not None,
            ),
            opts=child,
        )
        self.steps.grant_table_read_write(self.table.arn)
        machine_name = ctx.name(name, "booking-saga")
        saga_logs = platform.log_groups.log_group(
            f"{name}-saga-logs", f"/aws/vendedlogs/states/{machine_name}", service=name, parent=self
        )
        # Only this account's state machines (Step Functions sends aws:SourceArn/aws:SourceAccount).
        sfn_role = aws.iam.Role(
            f"{name}-saga-role",
            assume_role_policy=service_trust_policy(
                "states.amazonaws.com",
                account_id=ctx.stack.account_id,
                source_arn=f"arn:{ctx.partition}:states:{ctx.stack.region}:{ctx.stack.account_id}:stateMachine:*",
            ),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-saga-policy",
            role=sfn_role.id,
            policy=pulumi.Output.all(self.steps.alias_arn, platform.kms_key_arn).apply(
                lambda v: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "InvokeSteps",
                                "Effect": "Allow",
                                "Action": ["lambda:InvokeFunction"],
                                "Resource": [v[0]],
                            },
                            {
                                "Sid": "UseKey",
                                "Effect": "Allow",
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                                "Resource": [v[1]],
                            },
                            *state_machine_observability_statements(),
                        ],
                    }
                )
            ),
            opts=child,
        )
        retry = SagaRetry(
            max_attempts=spec.saga_retry.max_attempts,
            interval_seconds=spec.saga_retry.interval_seconds,
            backoff_rate=spec.saga_retry.backoff_rate,
            max_delay_seconds=spec.saga_retry.max_delay_seconds,
        )

        def definition(function_arn: str) -> str:
            document = build_saga(function_arn, retry=retry)
            problems = validate_saga(document)
            if problems:  # pragma: no cover - the builder is tested; this guards future edits
                raise ValueError("; ".join(problems))
            return json.dumps(document)

        self.state_machine = aws.sfn.StateMachine(
            f"{name}-saga",
            name=machine_name,
            type=spec.saga_type,
            role_arn=sfn_role.arn,
            definition=self.steps.alias_arn.apply(definition),
            # Execution data holds payment tokens: log every event (ALL) but not the data itself.
            logging_configuration={
                "level": "ALL",
                "include_execution_data": False,
                "log_destination": saga_logs.arn.apply(lambda arn: f"{arn}:*"),
            },
            tracing_configuration={"enabled": True},
            encryption_configuration={
                "type": "CUSTOMER_MANAGED_KMS_KEY",
                "kms_key_id": platform.kms_key_arn,
                "kms_data_key_reuse_period_seconds": 300,
            },
            tags=tags,
            opts=child,
        )

        # ------------------------------------------------------------------ Lambda resolver
        self.bookings = ServerlessFunction(
            f"{name}-bookings",
            FunctionArgs(
                platform=platform,
                service=name,
                **ctx.code(
                    spec.code("bookings"), HERE / "handlers" / "bookings", key=f"services.{name}.functions.bookings"
                ),
                description=f"{name}: createBooking resolver",
                memory_mib=spec.memory_mib,
                environment={"TABLE_NAME": self.table.name, "STATE_MACHINE_ARN": self.state_machine.arn},
                snap_start=spec.snap_start,
            ),
            opts=child,
        )
        self.bookings.grant_table_read_write(self.table.arn)
        self.bookings.grant_start_execution(self.state_machine.arn)

        # ------------------------------------------------------------------ GraphQL API
        pool_id: pulumi.Input[str] | None = None
        client_id: pulumi.Input[str] | None = None
        if spec.authorizer == "cognito":
            if spec.user_pool_arn:
                pool_id = spec.user_pool_arn.rsplit("/", 1)[1]
            else:
                pool = ApiUserPool(f"{name}-users", ApiUserPoolArgs(context=ctx, service=name), opts=child)
                pool_id, client_id = pool.user_pool.id, pool.client.id
        api_log_role = aws.iam.Role(f"{name}-api-log-role", assume_role_policy=appsync_trust, tags=tags, opts=child)
        self.api = aws.appsync.GraphQLApi(
            f"{name}-api",
            name=ctx.name(name),
            schema=SCHEMA_FILE.read_text(),
            authentication_type="AMAZON_COGNITO_USER_POOLS" if pool_id else "AWS_IAM",
            user_pool_config={"user_pool_id": pool_id, "aws_region": region, "default_action": "ALLOW"}
            if pool_id
            else None,
            # IAM as a second mode: backends call @aws_iam fields (confirmBooking) with SigV4.
            additional_authentication_providers=[{"authentication_type": "AWS_IAM"}] if pool_id else None,
            log_config={
                "cloudwatch_logs_role_arn": api_log_role.arn,
                "field_log_level": spec.field_log_level,
                "exclude_verbose_content": True,
            },
            xray_enabled=True,
            introspection_config="ENABLED" if not ctx.stack.is_production else "DISABLED",
            query_depth_limit=8,
            tags=tags,
            opts=child,
        )
        self.firewall = (
            platform.firewall.protect(
                f"{name}-api",
                service=name,
                resource_arn=self.api.arn,
                parent=self,
                inspects_sql=spec.waf_inspects_sql,
                large_bodies=spec.waf_large_bodies,
            )
            if platform.firewall is not None
            else None
        )
        # AppSync writes to a log group named after the API id; created here so it has retention and KMS.
        api_logs = platform.log_groups.log_group(
            f"{name}-api-logs", self.api.id.apply(lambda i: f"/aws/appsync/apis/{i}"), service=name, parent=self
        )
        aws.iam.RolePolicy(
            f"{name}-api-log-policy",
            role=api_log_role.id,
            policy=api_logs.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                "Resource": [f"{arn}:*"],
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )

        ddb_role = aws.iam.Role(f"{name}-ddb-source-role", assume_role_policy=appsync_trust, tags=tags, opts=child)
        aws.iam.RolePolicy(
            f"{name}-ddb-source-policy",
            role=ddb_role.id,
            policy=pulumi.Output.all(self.table.arn, platform.kms_key_arn).apply(
                lambda v: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["dynamodb:GetItem", "dynamodb:Query"],
                                "Resource": [v[0], f"{v[0]}/index/{OWNER_INDEX}"],
                            },
                            {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [v[1]]},
                        ],
                    }
                )
            ),
            opts=child,
        )
        ddb_source = aws.appsync.DataSource(
            f"{name}-ddb-source",
            api_id=self.api.id,
            name="bookingsTable",
            type="AMAZON_DYNAMODB",
            service_role_arn=ddb_role.arn,
            dynamodb_config={"table_name": self.table.name, "region": region},
            opts=child,
        )
        lambda_role = aws.iam.Role(
            f"{name}-lambda-source-role", assume_role_policy=appsync_trust, tags=tags, opts=child
        )
        aws.iam.RolePolicy(
            f"{name}-lambda-source-policy",
            role=lambda_role.id,
            policy=self.bookings.alias_arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": [arn]}],
                    }
                )
            ),
            opts=child,
        )
        lambda_source = aws.appsync.DataSource(
            f"{name}-lambda-source",
            api_id=self.api.id,
            name="bookingsFunction",
            type="AWS_LAMBDA",
            service_role_arn=lambda_role.arn,
            lambda_config={"function_arn": self.bookings.alias_arn},
            opts=child,
        )

        resolvers = []
        for field, code in (("getBooking", "getBooking.js"), ("listBookings", "listBookings.js")):
            caching: aws.appsync.ResolverCachingConfigArgs | None = None
            if spec.caching is not None and f"Query.{field}" in spec.caching.resolvers:
                # Keyed by caller: one user's cached result is never served to another.
                keys = ["$context.identity.sub"] + (
                    ["$context.arguments.id"]
                    if field == "getBooking"
                    else ["$context.arguments.limit", "$context.arguments.nextToken"]
                )
                caching = aws.appsync.ResolverCachingConfigArgs(ttl=spec.caching.ttl_seconds, caching_keys=keys)
            resolvers.append(
                aws.appsync.Resolver(
                    f"{name}-query-{field}",
                    api_id=self.api.id,
                    type="Query",
                    field=field,
                    kind="UNIT",
                    data_source=ddb_source.name,
                    code=(HERE / "resolvers" / code).read_text(),
                    runtime={"name": "APPSYNC_JS", "runtime_version": "1.0.0"},
                    caching_config=caching,
                    opts=child,
                )
            )
        # Direct Lambda resolver: no mapping code, AppSync passes the full context to the function.
        for mutation in ("createBooking", "confirmBooking"):
            resolvers.append(
                aws.appsync.Resolver(
                    f"{name}-mutation-{mutation}",
                    api_id=self.api.id,
                    type="Mutation",
                    field=mutation,
                    kind="UNIT",
                    data_source=lambda_source.name,
                    opts=child,
                )
            )
        if spec.caching:
            aws.appsync.ApiCache(
                f"{name}-cache",
                api_id=self.api.id,
                api_caching_behavior="PER_RESOLVER_CACHING",
                type=spec.caching.instance_type,
                ttl=spec.caching.ttl_seconds,
                at_rest_encryption_enabled=True,
                transit_encryption_enabled=True,
                opts=child,
            )

        self.outputs = {
            "graphqlUrl": self.api.uris.apply(lambda uris: uris["GRAPHQL"]),
            "apiId": self.api.id,
            "tableName": self.table.name,
            "stateMachineArn": self.state_machine.arn,
        }
        if client_id is not None:
            self.outputs.update(userPoolId=pool_id, userPoolClientId=client_id)
        self.finish(self.outputs)
