"""Sign the stack's function packages with AWS Signer before ``pulumi up`` (code signing enforced).

Pulumi uploads a function's local archive itself and cannot sign it, so a stack whose code signing
config enforces (``codeSigning.untrustedArtifacts: Enforce``, prod's default) deploys each function
from a signed object of the artifact bucket (``arcblueprint.platform.code_signing``). The program
names that object after the SHA-256 of the package it builds and lists every one in the
``codePackages`` stack output; the driver reads it from the offline synthesis of the same commit
and, for each package not yet signed:

1. builds the package again from its folder (``package_zip``) and checks it has that SHA-256 (the
   working tree must not have changed since the preview);
2. puts it under ``lambda/unsigned/<sha256>.zip`` (the bucket is versioned, as Signer requires of a
   source, and encrypts with the platform key);
3. starts a Signer job (``StartSigningJob``: that object version, the stack's profile, output under
   ``lambda/signing-jobs/``) and polls ``DescribeSigningJob`` until it succeeds or fails;
4. copies the signed object to ``lambda/signed/<sha256>.zip``, the key the function names. Signer
   embeds the signature in the package, so the copy is as signed as the original.

A package already signed (its key exists) is skipped: the key is its content, so a rerun after a
failed update signs nothing twice. On the first deploy of a stack the artifact bucket and the
profile do not exist yet: ``bootstrap`` creates them (``pulumi up --target`` with every resource
they depend on, since a target whose dependency is not targeted fails).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from arcblueprint.deploy.errors import DeployError, ExitCode
from arcblueprint.platform.code_signing import JOBS_PREFIX, UNSIGNED_PREFIX, signed_key
from arcblueprint.platform.functions.packaging import package_zip

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

    from arcblueprint.config.model import StackConfig
    from arcblueprint.preview.harness import SynthesizedStack

__all__ = ["CodeSigner", "SignedPackage", "bootstrap_targets", "sign_packages"]

#: The stack output the program lists its packages in (``PlatformBuild.finish``).
MANIFEST_OUTPUT = "codePackages"
_COMPONENT_TYPE = "arcblueprint:platform:CodeSigning"
#: The root stack's type: the engine leaves it out of its children's URNs (the mock runtime does not).
_ROOT_PREFIX = "pulumi:pulumi:Stack$"


@dataclass(frozen=True)
class SignedPackage:
    """What happened to one package: ``signed`` now (with its job) or ``already-signed``."""

    key: str
    code_dir: str
    status: str
    job_id: str | None = None
    signed_object: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "codeDir": self.code_dir,
            "status": self.status,
            "jobId": self.job_id,
            "signedObject": self.signed_object,
        }


def _exists(s3: Any, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def bucket_exists(s3: Any, bucket: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise
    return True


def _wait(
    signer: Any,
    job_id: str,
    *,
    say: Callable[[str], None],
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    poll_seconds: float,
    timeout_seconds: float,
) -> Mapping[str, Any]:
    started = clock()
    while True:
        job = signer.describe_signing_job(jobId=job_id)
        status = job.get("status")
        if status == "Succeeded":
            return job
        if status == "Failed":
            raise DeployError(
                f"signing job {job_id} failed: {job.get('statusReason') or 'no reason given'}", ExitCode.UPDATE
            )
        if clock() - started > timeout_seconds:
            raise DeployError(
                f"signing job {job_id} still {status} after {timeout_seconds:.0f}s; nothing was deployed",
                ExitCode.UPDATE,
            )
        say(f"  signing job {job_id}: {status}")
        sleep(poll_seconds)


def sign_packages(
    manifest: Mapping[str, Any],
    *,
    project_dir: Path,
    s3: Any,
    signer: Any,
    say: Callable[[str], None],
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    poll_seconds: float = 5.0,
    timeout_seconds: float = 900.0,
) -> list[SignedPackage]:
    """Put a signed copy of every package of ``manifest`` (the ``codePackages`` output) where its function reads it."""
    bucket = str(manifest["artifactBucket"])
    profile = str(manifest["signingProfileName"])
    state = signer.get_signing_profile(profileName=profile)
    if state.get("status") != "Active":
        raise DeployError(
            f"signing profile {profile} is {state.get('status')}, not Active: Lambda trusts its signatures only while "
            "it is active (a canceled or revoked profile cannot sign again; replace it)",
            ExitCode.UPDATE,
        )
    results: list[SignedPackage] = []
    for key, entry in sorted(dict(manifest.get("packages") or {}).items()):
        code_dir, digest = str(entry["codeDir"]), str(entry["sha256"])
        if key != signed_key(digest):
            raise DeployError(f"codePackages lists {key} for SHA-256 {digest}: the keys name the hash", ExitCode.CONFIG)
        if _exists(s3, bucket, key):
            results.append(SignedPackage(key=key, code_dir=code_dir, status="already-signed"))
            continue
        body = package_zip(project_dir / code_dir)
        if hashlib.sha256(body).hexdigest() != digest:
            raise DeployError(
                f"{code_dir} no longer packages to {digest[:12]}: the code changed since the offline preview; "
                "deploy a clean checkout of the commit",
                ExitCode.CONFIG,
            )
        unsigned = f"{UNSIGNED_PREFIX}{digest}.zip"
        put = s3.put_object(Bucket=bucket, Key=unsigned, Body=body, ContentType="application/zip")
        version = put.get("VersionId")
        if not version:
            raise DeployError(
                f"bucket {bucket} returned no version for {unsigned}: Signer signs versioned objects only",
                ExitCode.UPDATE,
            )
        # Idempotent per object version: a retried call returns the same job instead of starting another.
        token = hashlib.sha256(f"{digest}:{version}".encode()).hexdigest()[:64]
        started = signer.start_signing_job(
            source={"s3": {"bucketName": bucket, "key": unsigned, "version": version}},
            destination={"s3": {"bucketName": bucket, "prefix": JOBS_PREFIX}},
            profileName=profile,
            clientRequestToken=token,
        )
        job_id = started["jobId"]
        say(f"signing {code_dir} ({digest[:12]}): job {job_id}")
        job = _wait(
            signer,
            job_id,
            say=say,
            sleep=sleep,
            clock=clock,
            poll_seconds=poll_seconds,
            timeout_seconds=timeout_seconds,
        )
        signed_object = job["signedObject"]["s3"]["key"]
        s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": signed_object})
        results.append(
            SignedPackage(key=key, code_dir=code_dir, status="signed", job_id=job_id, signed_object=signed_object)
        )
    return results


def bootstrap_targets(graph: SynthesizedStack) -> list[str]:
    """URNs that create the artifact bucket and the signing profile on a stack's first deploy.

    The code signing component, its children, and everything they depend on or are children of,
    transitively: ``pulumi up --target`` refuses a target whose dependency is not a target too.
    """
    by_urn = graph.by_urn()
    pending = [r.urn for r in graph.resources if _COMPONENT_TYPE in r.urn.split("::")[-2]]
    chosen: set[str] = set()
    while pending:
        urn = pending.pop()
        if urn in chosen or urn not in by_urn:
            continue
        chosen.add(urn)
        resource = by_urn[urn]
        pending.extend(resource.dependencies)
        pending.extend(u for urns in resource.property_dependencies.values() for u in urns)
        if resource.parent:
            pending.append(resource.parent)
    return [_engine_urn(r.urn) for r in graph.resources if r.urn in chosen]


def _engine_urn(urn: str) -> str:
    """The URN as the engine names the resource (``urn:pulumi:<stack>::<project>::<type chain>::<name>``)."""
    head, _, rest = urn.partition("::")
    project, _, rest = rest.partition("::")
    return f"{head}::{project}::{rest.removeprefix(_ROOT_PREFIX)}"


class CodeSigner:
    """The driver's signing step: reads the manifest of the offline synthesis and signs with boto3 clients."""

    def __init__(
        self,
        *,
        project_dir: Path,
        graph_for: Callable[[str], SynthesizedStack],
        client: Callable[[str, str], Any],
        say: Callable[[str], None],
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        poll_seconds: float = 5.0,
        timeout_seconds: float = 900.0,
    ) -> None:
        self.project_dir = project_dir
        self.graph_for = graph_for
        #: ``client(service, region)`` -> a boto3 client (``s3``, ``signer``).
        self.client = client
        self.say = say
        self.sleep = sleep
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.timeout_seconds = timeout_seconds

    def __call__(
        self, stack: str, config: StackConfig, bootstrap: Callable[[Sequence[str]], None]
    ) -> list[dict[str, Any]]:
        graph = self.graph_for(stack)
        manifest = graph.outputs.get(MANIFEST_OUTPUT)
        if not manifest or manifest.get("untrustedArtifacts") != "Enforce":
            self.say(f"code signing of '{stack}' does not enforce: functions deploy their local packages")
            return []
        s3 = self.client("s3", config.region)
        if not bucket_exists(s3, str(manifest["artifactBucket"])):
            targets = bootstrap_targets(graph)
            self.say(
                f"artifact bucket {manifest['artifactBucket']} does not exist yet: creating the code signing "
                f"resources first ({len(targets)} resources)"
            )
            bootstrap(targets)
        results = sign_packages(
            manifest,
            project_dir=self.project_dir,
            s3=s3,
            signer=self.client("signer", config.region),
            say=self.say,
            sleep=self.sleep,
            clock=self.clock,
            poll_seconds=self.poll_seconds,
            timeout_seconds=self.timeout_seconds,
        )
        signed = sum(1 for r in results if r.status == "signed")
        self.say(f"code signing of '{stack}': {signed} package(s) signed, {len(results) - signed} already signed")
        return [r.as_json() for r in results]
