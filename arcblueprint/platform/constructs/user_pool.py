"""A Cognito user pool and app client for an API whose callers sign in (used when none is given)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

if TYPE_CHECKING:
    from arcblueprint.platform.context import StackContext

__all__ = ["ApiUserPool", "ApiUserPoolArgs"]


@dataclass(frozen=True, kw_only=True)
class ApiUserPoolArgs:
    context: StackContext
    service: str


class ApiUserPool(pulumi.ComponentResource):
    """Admin-created users, strong passwords, TOTP MFA available, no user-existence leaks.

    Attributes
    ----------
    user_pool : aws.cognito.UserPool
        Protected like every stateful resource; deletion protection on in protected stacks.
    client : aws.cognito.UserPoolClient
        Public client (no secret, SRP sign-in), for single-page and mobile apps.
    """

    def __init__(self, name: str, args: ApiUserPoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("arcblueprint:services:ApiUserPool", name, None, opts)
        ctx = args.context
        protected = ctx.stack.protect_stateful_resources
        self.user_pool = aws.cognito.UserPool(
            f"{name}-pool",
            name=ctx.name(args.service, "users"),
            deletion_protection="ACTIVE" if protected else "INACTIVE",
            admin_create_user_config={"allow_admin_create_user_only": True},
            password_policy={
                "minimum_length": 12,
                "require_lowercase": True,
                "require_uppercase": True,
                "require_numbers": True,
                "require_symbols": True,
                "temporary_password_validity_days": 3,
            },
            mfa_configuration="OPTIONAL",
            software_token_mfa_configuration={"enabled": True},
            account_recovery_setting={"recovery_mechanisms": [{"name": "verified_email", "priority": 1}]},
            auto_verified_attributes=["email"],
            username_attributes=["email"],
            tags=ctx.tags(args.service),
            opts=ctx.stateful(pulumi.ResourceOptions(parent=self)),
        )
        self.client = aws.cognito.UserPoolClient(
            f"{name}-client",
            name=ctx.name(args.service, "app"),
            user_pool_id=self.user_pool.id,
            generate_secret=False,
            explicit_auth_flows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            access_token_validity=60,
            id_token_validity=60,
            refresh_token_validity=30,
            token_validity_units={"access_token": "minutes", "id_token": "minutes", "refresh_token": "days"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn: pulumi.Output[str] = self.user_pool.arn
        self.register_outputs({"userPoolId": self.user_pool.id, "clientId": self.client.id})
