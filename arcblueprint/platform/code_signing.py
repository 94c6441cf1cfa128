"""Signed function code: an AWS Signer profile, a Lambda code signing config, and the artifact bucket.

Lambda checks every package a function deploys against the stack's code signing configuration:
signed by the stack's Signer profile (platform ``AWSLambda-SHA384-ECDSA``), not expired, not
revoked. ``Enforce`` (prod's default, ``codeSigning.untrustedArtifacts``) refuses anything else;
``Warn`` (elsewhere) deploys it and records a warning.

Pulumi cannot sign: it uploads the local archive itself. So where unsigned code would be refused,
the function's code is an object of the artifact bucket, named after the SHA-256 of the package
the program builds (:func:`signed_key`), which the deploy driver signs and puts there *before*
``pulumi up`` (:mod:`arcblueprint.deploy.signing`): it uploads the package to ``lambda/unsigned/``
(the bucket is versioned, as Signer requires of its source), starts a Signer job that writes the
signed package under ``lambda/signing-jobs/``, and copies that object to ``lambda/signed/<sha256>.zip``.
Signer embeds the signature in the package (it refuses a zip that "already has a signature"), so
the copy carries it. The stack output ``codePackages`` lists every key with the folder and hash it
stands for; a package whose code changed gets a new key, so a stale signed object can never be
deployed for new code. With ``Warn``, functions keep deploying the local archive (faster dev loops).

Layers are checked too: under a code signing config, Lambda refuses a function whose layers an
allowed profile did not sign, and AWS's public Powertools layer is unsigned. So where the stack
enforces, the program publishes its own copy (:meth:`CodeSigning.layer`): a layer version whose
content is the signed object :func:`signed_layer_key` names (public layer name and version, profile
name), which the driver copies from AWS's layer and signs like a package. The layer's description
carries the profile's version, so a new profile version publishes a new layer version from the
re-signed object. Where unsigned code may deploy, functions keep AWS's public layer.

The profile's name is fixed (``signing_profile_name``): Signer keeps a canceled profile, under its
name, for two years, so a profile that is replaced needs a new name; the profile is therefore
protected where the stack protects stateful resources.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from arcblueprint.platform.buckets import keep_private, tls_only_statement
from arcblueprint.platform.functions.archive import code_archive
from arcblueprint.platform.functions.packaging import package_sha256

if TYPE_CHECKING:
    from collections.abc import Mapping

    from arcblueprint.platform.context import StackContext
    from arcblueprint.platform.handles import ServerAccessLogs

__all__ = [
    "JOBS_PREFIX",
    "SIGNED_PREFIX",
    "SIGNING_PLATFORM",
    "UNSIGNED_PREFIX",
    "CodeSigning",
    "CodeSigningArgs",
    "signed_key",
    "signed_layer_key",
    "signing_profile_name",
]

_SERVICE = "code-signing"
#: AWS Signer's signing platform for Lambda zip packages.
SIGNING_PLATFORM = "AWSLambda-SHA384-ECDSA"
#: Where the driver uploads packages to sign, where Signer writes, and where functions read from.
UNSIGNED_PREFIX = "lambda/unsigned/"
JOBS_PREFIX = "lambda/signing-jobs/"
SIGNED_PREFIX = "lambda/signed/"
#: Unsigned uploads and Signer's own outputs are intermediate: the signed copies are what functions use.
_INTERMEDIATE_EXPIRE_DAYS = 7


def signed_key(sha256: str) -> str:
    """The artifact bucket key of the signed package whose unsigned zip has this SHA-256 (hex)."""
    return f"{SIGNED_PREFIX}{sha256}.zip"


def signed_layer_key(public_layer_arn: str, profile_name: str) -> str:
    """The artifact bucket key of the stack's signed copy of a public layer version (``...:layer:<name>:<n>``)."""
    layer_name, version = public_layer_arn.rsplit(":", 2)[-2:]
    return f"{SIGNED_PREFIX}layers/{layer_name}-{version}/{profile_name}.zip"


def signing_profile_name(ctx: StackContext) -> str:
    """Signer profile names allow letters, digits and underscores only (2-64)."""
    return ctx.name("lambda-signing", max_length=64).replace("-", "_")


@dataclass(frozen=True, kw_only=True)
class CodeSigningArgs:
    context: StackContext
    #: The platform key: encrypts the artifact bucket.
    kms_key_arn: pulumi.Input[str]
    #: Server access logs of the artifact bucket; default: none.
    access_logs: ServerAccessLogs | None = None


class CodeSigning(pulumi.ComponentResource):
    """Implements :class:`arcblueprint.platform.handles.CodePackages`.

    Attributes
    ----------
    profile : aws.signer.SigningProfile
    config : aws.lambda_.CodeSigningConfig
    bucket : aws.s3.Bucket
        The artifact bucket: versioned (Signer's source must be), KMS-encrypted, private, TLS-only.
    code_signing_config_arn : pulumi.Output[str]
    untrusted_artifacts : str
        ``Enforce`` or ``Warn``.
    packages : dict[str, dict[str, str]]
        Signed key -> ``{"codeDir", "sha256"}`` of every package a function deploys from the bucket
        (filled as functions are declared; :meth:`manifest` is the ``codePackages`` stack output).
    """

    def __init__(self, name: str, args: CodeSigningArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("arcblueprint:platform:CodeSigning", name, None, opts)
        ctx = args.context
        stack = ctx.stack
        child = pulumi.ResourceOptions(parent=self)
        tags = ctx.tags(_SERVICE)
        self.untrusted_artifacts = stack.untrusted_artifacts
        self.packages: dict[str, dict[str, str]] = {}
        self.layers: dict[str, dict[str, str]] = {}
        self._layer_versions: dict[str, aws.lambda_.LayerVersion] = {}
        self._context = ctx
        self._name = name
        self._tags = tags

        # Protected where stateful resources are: the name is fixed (signing_profile_name), and Signer keeps a
        # canceled profile under its name for two years, so a replacement needs a new name; every signed
        # object and the layer copy name the profile, and are signed again after one.
        self.profile = aws.signer.SigningProfile(
            f"{name}-profile",
            name=signing_profile_name(ctx),
            platform_id=SIGNING_PLATFORM,
            signature_validity_period={"value": stack.code_signing.signature_validity_months, "type": "MONTHS"},
            tags=tags,
            opts=ctx.stateful(child),
        )
        self.config = aws.lambda_.CodeSigningConfig(
            f"{name}-config",
            description=f"{stack.naming_prefix}: packages signed by {signing_profile_name(ctx)}",
            allowed_publishers={"signing_profile_version_arns": [self.profile.version_arn]},
            policies={"untrusted_artifact_on_deployment": self.untrusted_artifacts},
            tags=tags,
            opts=child,
        )
        self.bucket = self._artifact_bucket(name, args, tags, child)
        self.code_signing_config_arn: pulumi.Output[str] = self.config.arn
        self.register_outputs(
            {
                "codeSigningConfigArn": self.code_signing_config_arn,
                "signingProfileName": self.profile.name,
                "artifactBucket": self.bucket.bucket,
            }
        )

    def _artifact_bucket(
        self, name: str, args: CodeSigningArgs, tags: dict[str, str], child: pulumi.ResourceOptions
    ) -> aws.s3.Bucket:
        ctx = args.context
        stack = ctx.stack
        bucket = aws.s3.Bucket(
            f"{name}-artifacts",
            bucket=ctx.name("artifacts", stack.account_id, stack.region, max_length=63),
            force_destroy=not stack.protect_stateful_resources,
            tags=tags,
            opts=ctx.stateful(child),
        )
        bucket_id = bucket.id
        block = keep_private(f"{name}-artifacts", bucket_id, child)
        aws.s3.BucketVersioning(
            f"{name}-artifacts-versioning",
            bucket=bucket_id,
            versioning_configuration={"status": "Enabled"},  # StartSigningJob needs a versioned source
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-artifacts-encryption",
            bucket=bucket_id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": args.kms_key_arn,
                    },
                    "bucket_key_enabled": True,
                }
            ],
            opts=child,
        )
        abort = aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(days_after_initiation=7)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-artifacts-lifecycle",
            bucket=bucket_id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    # Signed packages stay as long as a function version may roll back to them.
                    id="whole-bucket",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=30
                    ),
                    abort_incomplete_multipart_upload=abort,
                ),
                *(
                    aws.s3.BucketLifecycleConfigurationRuleArgs(
                        id=prefix.strip("/").replace("/", "-"),
                        status="Enabled",
                        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=prefix),
                        expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                            days=_INTERMEDIATE_EXPIRE_DAYS
                        ),
                        noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                            noncurrent_days=1
                        ),
                        abort_incomplete_multipart_upload=abort,
                    )
                    for prefix in (UNSIGNED_PREFIX, JOBS_PREFIX)
                ),
            ],
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-artifacts-policy",
            bucket=bucket_id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [tls_only_statement(bucket.arn, pulumi.Output.concat(bucket.arn, "/*"))],
                }
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[block]),
        )
        if args.access_logs is not None:
            args.access_logs.log_requests(f"{name}-artifacts", bucket, parent=self)
        return bucket

    def code(self, code_dir: Path, handler: str) -> Mapping[str, Any]:
        """The local archive where unsigned code may deploy (``Warn``), else the signed object of its package."""
        if self.untrusted_artifacts != "Enforce":
            return {"code": code_archive(code_dir, handler)}
        digest = package_sha256(code_dir, handler)  # the handler module must be in the package, as for the archive
        key = signed_key(digest)
        self.packages[key] = {"codeDir": _relative(code_dir), "sha256": digest}
        return {"s3_bucket": self.bucket.bucket, "s3_key": key}

    def layer(self, public_layer_arn: str, *, runtime: str, architecture: str) -> pulumi.Input[str]:
        """The layer version a function uses for AWS's public ``public_layer_arn``: that one where unsigned code
        may deploy, else the stack's own signed copy (one layer version per public layer version)."""
        if self.untrusted_artifacts != "Enforce":
            return public_layer_arn
        if public_layer_arn not in self._layer_versions:
            ctx = self._context
            profile_name = signing_profile_name(ctx)
            key = signed_layer_key(public_layer_arn, profile_name)
            public_name = public_layer_arn.rsplit(":", 2)[-2]
            self.layers[key] = {"sourceArn": public_layer_arn}
            protect = ctx.stack.protect_stateful_resources
            self._layer_versions[public_layer_arn] = aws.lambda_.LayerVersion(
                f"{self._name}-layer-{public_name.removeprefix('AWSLambda').lower()}",
                layer_name=ctx.name(public_name.removeprefix("AWSLambda").lower(), max_length=140),
                # A new profile version (a replaced profile) publishes a new layer version from the re-signed object.
                description=pulumi.Output.concat(
                    public_layer_arn, " signed by ", profile_name, " version ", self.profile.version
                ),
                s3_bucket=self.bucket.bucket,
                s3_key=key,
                compatible_runtimes=[runtime],
                compatible_architectures=[architecture],
                # Layer versions are immutable: keep the old one when a new one replaces it, so a function
                # version that still uses it (a rollback target) can be deployed again.
                skip_destroy=protect,
                # Left out of the first deploy's targeted bootstrap (deploy/signing.py): the driver signs its
                # object after the bucket exists and before the full update creates it.
                opts=pulumi.ResourceOptions(parent=self),
            )
        return self._layer_versions[public_layer_arn].arn

    def manifest(self) -> dict[str, Any]:
        """The ``codePackages`` stack output: what the driver signs before an update."""
        return {
            "artifactBucket": self.bucket.bucket,
            "signingProfileName": self.profile.name,
            "untrustedArtifacts": self.untrusted_artifacts,
            "packages": {key: dict(value) for key, value in sorted(self.packages.items())},
            "layers": {key: dict(value) for key, value in sorted(self.layers.items())},
        }


#: The project directory (Pulumi.yaml), where the driver packages the same folders again.
_PROJECT_DIR = Path(__file__).resolve().parents[2]


def _relative(code_dir: Path) -> str:
    """``code_dir`` relative to the project, POSIX separators (absolute if it lies elsewhere)."""
    try:
        return Path(code_dir).resolve().relative_to(_PROJECT_DIR).as_posix()
    except ValueError:
        return os.fspath(code_dir)
