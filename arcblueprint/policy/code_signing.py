"""Signed code: every function is checked against a code signing config that trusts the stack's Signer profile.

A hardening rule (mandatory in prod, advisory in dev). In prod (``environment``), the config must
``Enforce``: with ``Warn``, Lambda deploys an unsigned or tampered package and only records a warning.
Under ``Enforce`` a function must deploy a signed object from S3: a local archive that Pulumi
uploads is unsigned, and Lambda refuses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from arcblueprint.policy.base import UNKNOWN, known, known_dig, stack_policy
from arcblueprint.policy.graph import StackGraph

if TYPE_CHECKING:
    from pulumi_policy import PolicyResource, StackValidationArgs

    from arcblueprint.policy.base import ReportViolation

__all__ = ["LAMBDA_CODE_SIGNED", "POLICIES", "SIGNING_PLATFORM"]

FUNCTION = "aws:lambda/function:Function"
CODE_SIGNING_CONFIG = "aws:lambda/codeSigningConfig:CodeSigningConfig"
SIGNING_PROFILE = "aws:signer/signingProfile:SigningProfile"
#: AWS Signer's platform for Lambda zip packages.
SIGNING_PLATFORM = "AWSLambda-SHA384-ECDSA"


def _config_problems(graph: StackGraph, config: PolicyResource, *, production: bool) -> list[str]:
    problems = []
    profiles = graph.refs(config, "allowedPublishers", SIGNING_PROFILE)
    if not profiles:
        problems.append("trusts no signing profile of the stack (allowedPublishers.signingProfileVersionArns)")
    for profile in profiles:
        platform = known(profile.props, "platformId")
        if platform not in (SIGNING_PLATFORM, UNKNOWN):
            problems.append(f"trusts signing profile '{profile.name}' of platform {platform}, not {SIGNING_PLATFORM}")
    policy = known_dig(config.props, "policies", "untrustedArtifactOnDeployment")
    if production and policy not in ("Enforce", UNKNOWN):
        problems.append(
            f"has untrustedArtifactOnDeployment {policy or 'unset (Warn)'}: in prod Lambda must refuse unsigned "
            "code (Enforce), not deploy it with a warning"
        )
    return problems


def validate_lambda_code_signed(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every function has a code signing config trusting an ``AWSLambda-SHA384-ECDSA`` Signer profile; in prod the
    config enforces, and functions under an enforcing config deploy a signed S3 object, not a local archive."""
    graph = StackGraph(args.resources)
    production = args.get_config().get("environment", "prod") == "prod"
    judged: set[str] = set()
    for function in graph.of_type(FUNCTION):
        config = graph.ref(function, "codeSigningConfigArn", CODE_SIGNING_CONFIG)
        if config is None:
            if not known(function.props, "codeSigningConfigArn"):
                report_violation(
                    f"Lambda function '{function.name}' has no code signing config: set codeSigningConfigArn to the "
                    "stack's config (codeSigning), so Lambda checks who signed each package it deploys.",
                    function.urn,
                )
            continue
        if config.urn not in judged:
            judged.add(config.urn)
            for problem in _config_problems(graph, config, production=production):
                report_violation(f"Code signing config '{config.name}' {problem}.", config.urn)
        enforced = known_dig(config.props, "policies", "untrustedArtifactOnDeployment") == "Enforce"
        from_s3 = known(function.props, "s3Key") or known(function.props, "imageUri")
        if enforced and not from_s3:
            report_violation(
                f"Lambda function '{function.name}' deploys a local archive under an enforcing code signing config: "
                "Pulumi uploads it unsigned and Lambda refuses it; deploy the signed object (s3Bucket, s3Key) "
                "the driver puts in the artifact bucket.",
                function.urn,
            )


LAMBDA_CODE_SIGNED = stack_policy(
    "lambda-code-signed",
    "Functions are checked against a code signing config trusting the stack's Signer profile (enforced in prod).",
    validate_lambda_code_signed,
    parameters={"environment": {"type": "string", "description": "the stack's environment; Enforce in prod"}},
)

POLICIES = [LAMBDA_CODE_SIGNED]
