"""Secrets Manager secrets declared from stack config: names, keys, rotation and who may read them.

Only the secret's *container* is declared here; its value is put out of band (console, CLI,
rotation function), so no value is ever in config, in a Pulumi input or in a stack output.
Handlers read values with powertools' parameters utility, which caches them between
invocations::

    from aws_lambda_powertools.utilities import parameters

    def db_password() -> str:
        # The ARN comes from the function's environment (a name, not a value); cached for 5 minutes.
        return parameters.get_secret(os.environ["DB_SECRET_ARN"], max_age=300)

Each secret's resource policy denies ``GetSecretValue`` to every principal except the roles
granted with :meth:`Secrets.allow_readers` and the rotation function's execution role
(``rotationRoleArn``), so an over-broad IAM policy elsewhere cannot read it while rotation still can.

Rotation is configured with ``rotate_immediately=False``: the secret has no value until one is
put out of band, and a first rotation against an empty secret fails (the function has no
AWSCURRENT to start from). Secrets Manager still tests the configuration (the function's
``testSecret`` step) when the rotation is set up; the first real rotation comes
``rotationDays`` later, or on demand once the value is set::

    aws secretsmanager put-secret-value --secret-id <arn> --secret-string file://value
    aws secretsmanager rotate-secret --secret-id <arn>     # optional: rotate now that a value exists
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

if TYPE_CHECKING:
    from collections.abc import Sequence

    from arcblueprint.platform.context import StackContext

__all__ = ["Secrets", "SecretsArgs", "SecretsSealedError"]

_SERVICE = "secrets"
#: Days a deleted secret can still be restored: the longest AWS allows where data matters, the shortest in dev.
_RECOVERY_WINDOW_PROTECTED = 30
_RECOVERY_WINDOW_UNPROTECTED = 7


class SecretsSealedError(RuntimeError):
    """Readers were granted after the resource policies were declared."""


@dataclass(frozen=True, kw_only=True)
class SecretsArgs:
    context: StackContext
    #: The platform key (customer managed, rotated yearly) that encrypts every secret.
    kms_key_arn: pulumi.Input[str]


class Secrets(pulumi.ComponentResource):
    """One secret per ``secrets`` entry of the stack config, with rotation and a reader-only policy.

    Call :meth:`allow_readers` while services are built, then :meth:`seal` once (``PlatformBuild.finish``
    does) to declare the resource policies.

    Attributes
    ----------
    secrets : dict[str, aws.secretsmanager.Secret]
        Config name -> secret.
    arns : dict[str, pulumi.Output[str]]
        Config name -> secret ARN (what services put in their functions' environment).
    """

    def __init__(self, name: str, args: SecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("arcblueprint:platform:Secrets", name, None, opts)
        self._name = name
        self._context = ctx = args.context
        stack = ctx.stack
        recovery_days = _RECOVERY_WINDOW_PROTECTED if stack.protect_stateful_resources else _RECOVERY_WINDOW_UNPROTECTED
        self._readers: dict[str, list[pulumi.Input[str]]] = {key: [] for key in stack.secrets}
        self._sealed = False
        self.secrets: dict[str, aws.secretsmanager.Secret] = {}
        for key, spec in stack.secrets.items():
            secret = aws.secretsmanager.Secret(
                f"{name}-{key}",
                name=ctx.name(key),
                description=spec.description,
                kms_key_id=args.kms_key_arn,
                recovery_window_in_days=recovery_days,
                tags=ctx.tags(_SERVICE),
                opts=ctx.stateful(pulumi.ResourceOptions(parent=self)),
            )
            if spec.rotation_days is not None and spec.rotation_function_arn is not None:
                aws.secretsmanager.SecretRotation(
                    f"{name}-{key}-rotation",
                    secret_id=secret.id,
                    rotation_lambda_arn=spec.rotation_function_arn,
                    rotation_rules={"automatically_after_days": spec.rotation_days},
                    # The provider's default (true) rotates at once, before any value exists.
                    rotate_immediately=False,
                    opts=pulumi.ResourceOptions(parent=secret),
                )
            self.secrets[key] = secret
        self.arns: dict[str, pulumi.Output[str]] = {key: s.arn for key, s in self.secrets.items()}
        self.register_outputs({"arns": self.arns})

    def allow_readers(self, name: str, role_arns: Sequence[pulumi.Input[str]]) -> None:
        """Let these roles read the secret ``name`` (as in stack config); nobody else can.

        The roles still need ``secretsmanager:GetSecretValue`` on the secret ARN (and
        ``kms:Decrypt`` via Secrets Manager) in their own policy: both sides must allow.
        """
        if name not in self._readers:
            known = ", ".join(sorted(self._readers)) or "none are configured"
            raise KeyError(f"secret '{name}' is not in the stack's secrets config ({known})")
        if self._sealed:
            raise SecretsSealedError(f"readers of secret '{name}' were granted after Secrets.seal()")
        self._readers[name].extend(role_arns)

    def seal(self) -> None:
        """Declare each secret's resource policy from the readers granted so far (once, after services)."""
        if self._sealed:
            return
        self._sealed = True
        for key, secret in self.secrets.items():
            readers = self._readers[key]
            # The rotation function reads (and writes) the value it rotates: exempt from the Deny,
            # though not a reader of this policy's Allow (its own role policy grants what it does).
            rotation_role = self._context.stack.secrets[key].rotation_role_arn
            exempt: list[pulumi.Input[str]] = [*readers, *([rotation_role] if rotation_role else [])]
            statements: list[dict[str, object]] = []
            if exempt:
                statements.append(
                    {
                        "Sid": "NamedReadersOnly" if readers else "OnlyRotationReads",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "secretsmanager:GetSecretValue",
                        # A resource policy's Resource "*" means "this secret".
                        "Resource": "*",
                        "Condition": {"ArnNotEquals": {"aws:PrincipalArn": exempt}},
                    }
                )
            else:
                statements.append(
                    {
                        "Sid": "NobodyReadsUntilGranted",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "secretsmanager:GetSecretValue",
                        "Resource": "*",
                    }
                )
            if readers:
                statements.append(
                    {
                        "Sid": "NamedReadersRead",
                        "Effect": "Allow",
                        "Principal": {"AWS": readers},
                        "Action": "secretsmanager:GetSecretValue",
                        "Resource": "*",
                    }
                )
            aws.secretsmanager.SecretPolicy(
                f"{self._name}-{key}-policy",
                secret_arn=secret.arn,
                block_public_policy=True,
                policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": statements}),
                opts=pulumi.ResourceOptions(parent=secret),
            )
