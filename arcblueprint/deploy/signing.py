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

Lambda checks layers too, and AWS's public Powertools layer is unsigned, so the program publishes
its own copy of it from ``lambda/signed/layers/<layer name>-<version>/<profile>.zip`` (the
manifest's ``layers``). For each one missing, the driver copies AWS's layer first
(``GetLayerVersionByArn``: public layers allow it from any account; ``Content.Location`` is a
presigned URL valid for 10 minutes), checks it against ``Content.CodeSha256``, and signs it the
same way (steps 2-4, under ``lambda/unsigned/layers/``).

Every signed copy records the profile version that signed it (object metadata
``signing-profile-version``). An object already signed by the profile's current version is
skipped (the key is its content, so a rerun after a failed update signs nothing twice); one signed
by another version (the profile was replaced: Lambda would refuse its signature) or with no record
is signed again under the same key. On the first deploy of a stack the artifact bucket and the
profile do not exist yet: ``bootstrap`` creates them (``pulumi up --target`` with every resource
they depend on, since a target whose dependency is not targeted fails).
"""

from __future__ import annotations

import base64
import hashlib
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from arcblueprint.deploy.errors import DeployError, ExitCode
from arcblueprint.platform.code_signing import JOBS_PREFIX, UNSIGNED_PREFIX, signed_key, signed_layer_key
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
#: The stack's signed layer copies: created by the full update, after the driver signed their objects.
_LAYER_VERSION_TYPE = "aws:lambda/layerVersion:LayerVersion"
#: Object metadata of a signed copy: the profile version whose signature it carries.
PROFILE_VERSION_METADATA = "signing-profile-version"
#: Seconds to wait for AWS's presigned layer download.
_DOWNLOAD_TIMEOUT = 120.0


@dataclass(frozen=True)
class SignedPackage:
    """What happened to one package or layer: ``signed`` now (with its job), ``re-signed`` (its signature was
    another profile version's) or ``already-signed``."""

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


def _signed_by(s3: Any, bucket: str, key: str) -> str | None:
    """The profile version recorded on the signed object at ``key``: ``None`` if there is none, ``""`` if unrecorded."""
    from botocore.exceptions import ClientError

    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return str((head.get("Metadata") or {}).get(PROFILE_VERSION_METADATA, ""))


def download(url: str) -> bytes:
    """GET AWS's presigned layer URL (HTTPS only), with a timeout."""
    if not url.startswith("https://"):
        raise DeployError(f"layer download location is not HTTPS: {url[:60]}", ExitCode.UPDATE)
    with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT) as response:  # noqa: S310 (scheme checked above)
        return bytes(response.read())


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


@dataclass(frozen=True)
class _Signing:
    """One run's Signer and S3 clients, the profile (and its current version) and the polling settings."""

    s3: Any
    signer: Any
    bucket: str
    profile: str
    profile_version: str
    say: Callable[[str], None]
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    poll_seconds: float
    timeout_seconds: float

    def status(self, key: str) -> str | None:
        """``None`` if ``key`` is signed by the profile's current version, else ``signed`` or ``re-signed``."""
        recorded = _signed_by(self.s3, self.bucket, key)
        if recorded is None:
            return "signed"
        return None if recorded == self.profile_version else "re-signed"

    def sign(self, body: bytes, *, unsigned: str, key: str, label: str) -> tuple[str, str]:
        """Upload ``body`` to ``unsigned``, sign it, copy the signed object to ``key``: (job id, Signer's object)."""
        put = self.s3.put_object(Bucket=self.bucket, Key=unsigned, Body=body, ContentType="application/zip")
        version = put.get("VersionId")
        if not version:
            raise DeployError(
                f"bucket {self.bucket} returned no version for {unsigned}: Signer signs versioned objects only",
                ExitCode.UPDATE,
            )
        # Idempotent per object version and profile version: a retried call returns the same job.
        token = hashlib.sha256(f"{unsigned}:{version}:{self.profile_version}".encode()).hexdigest()[:64]
        started = self.signer.start_signing_job(
            source={"s3": {"bucketName": self.bucket, "key": unsigned, "version": version}},
            destination={"s3": {"bucketName": self.bucket, "prefix": JOBS_PREFIX}},
            profileName=self.profile,
            clientRequestToken=token,
        )
        job_id = started["jobId"]
        self.say(f"signing {label}: job {job_id}")
        job = _wait(
            self.signer,
            job_id,
            say=self.say,
            sleep=self.sleep,
            clock=self.clock,
            poll_seconds=self.poll_seconds,
            timeout_seconds=self.timeout_seconds,
        )
        signed_object = job["signedObject"]["s3"]["key"]
        self.s3.copy_object(
            Bucket=self.bucket,
            Key=key,
            CopySource={"Bucket": self.bucket, "Key": signed_object},
            MetadataDirective="REPLACE",
            ContentType="application/zip",
            Metadata={PROFILE_VERSION_METADATA: self.profile_version, "signing-profile": self.profile},
        )
        return job_id, signed_object


def sign_packages(
    manifest: Mapping[str, Any],
    *,
    project_dir: Path,
    s3: Any,
    signer: Any,
    say: Callable[[str], None],
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    lambda_client: Any = None,
    fetch: Callable[[str], bytes] = download,
    poll_seconds: float = 5.0,
    timeout_seconds: float = 900.0,
) -> list[SignedPackage]:
    """Put a signed copy of every layer and package of ``manifest`` (the ``codePackages`` output) where the
    program reads it; ``lambda_client`` (``GetLayerVersionByArn``) and ``fetch`` copy AWS's public layers."""
    profile = str(manifest["signingProfileName"])
    state = signer.get_signing_profile(profileName=profile)
    if state.get("status") != "Active":
        raise DeployError(
            f"signing profile {profile} is {state.get('status')}, not Active: Lambda trusts its signatures only while "
            "it is active (a canceled or revoked profile cannot sign again; replace it)",
            ExitCode.UPDATE,
        )
    signing = _Signing(
        s3=s3,
        signer=signer,
        bucket=str(manifest["artifactBucket"]),
        profile=profile,
        profile_version=str(state.get("profileVersion") or ""),
        say=say,
        sleep=sleep,
        clock=clock,
        poll_seconds=poll_seconds,
        timeout_seconds=timeout_seconds,
    )
    results = _sign_layers(manifest, signing, lambda_client=lambda_client, fetch=fetch)
    for key, entry in sorted(dict(manifest.get("packages") or {}).items()):
        code_dir, digest = str(entry["codeDir"]), str(entry["sha256"])
        if key != signed_key(digest):
            raise DeployError(f"codePackages lists {key} for SHA-256 {digest}: the keys name the hash", ExitCode.CONFIG)
        status = signing.status(key)
        if status is None:
            results.append(SignedPackage(key=key, code_dir=code_dir, status="already-signed"))
            continue
        body = package_zip(project_dir / code_dir)
        if hashlib.sha256(body).hexdigest() != digest:
            raise DeployError(
                f"{code_dir} no longer packages to {digest[:12]}: the code changed since the offline preview; "
                "deploy a clean checkout of the commit",
                ExitCode.CONFIG,
            )
        job_id, signed_object = signing.sign(
            body, unsigned=f"{UNSIGNED_PREFIX}{digest}.zip", key=key, label=f"{code_dir} ({digest[:12]})"
        )
        results.append(
            SignedPackage(key=key, code_dir=code_dir, status=status, job_id=job_id, signed_object=signed_object)
        )
    return results


def _sign_layers(
    manifest: Mapping[str, Any], signing: _Signing, *, lambda_client: Any, fetch: Callable[[str], bytes]
) -> list[SignedPackage]:
    """The stack's signed copies of AWS's public layers (``layers`` of the manifest), copied where missing."""
    results: list[SignedPackage] = []
    for key, entry in sorted(dict(manifest.get("layers") or {}).items()):
        source = str(entry["sourceArn"])
        if key != signed_layer_key(source, signing.profile):
            raise DeployError(
                f"codePackages lists layer {key} for {source}: expected {signed_layer_key(source, signing.profile)}",
                ExitCode.CONFIG,
            )
        status = signing.status(key)
        if status is None:
            results.append(SignedPackage(key=key, code_dir=source, status="already-signed"))
            continue
        if lambda_client is None:
            raise DeployError(
                f"layer {source} must be copied and signed, but no Lambda client was given", ExitCode.UPDATE
            )
        layer = lambda_client.get_layer_version_by_arn(Arn=source)
        content = layer["Content"]
        body = fetch(content["Location"])
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
        if digest != content.get("CodeSha256"):
            raise DeployError(
                f"the download of layer {source} does not match its CodeSha256 ({content.get('CodeSha256')}); "
                "nothing was signed",
                ExitCode.UPDATE,
            )
        layer_name, version = source.rsplit(":", 2)[-2:]
        job_id, signed_object = signing.sign(
            body, unsigned=f"{UNSIGNED_PREFIX}layers/{layer_name}-{version}.zip", key=key, label=f"layer {source}"
        )
        results.append(
            SignedPackage(key=key, code_dir=source, status=status, job_id=job_id, signed_object=signed_object)
        )
    return results


def bootstrap_targets(graph: SynthesizedStack) -> list[str]:
    """URNs that create the artifact bucket and the signing profile on a stack's first deploy.

    The code signing component, its children but its layer versions, and everything they depend on or are
    children of, transitively: ``pulumi up --target`` refuses a target whose dependency is not a target too.
    """
    by_urn = graph.by_urn()
    # The component's layer versions are not: their content is the signed object the driver puts in the bucket
    # after this update and before the full one (nothing here depends on them).
    pending = [
        r.urn for r in graph.resources if _COMPONENT_TYPE in r.urn.split("::")[-2] and r.type != _LAYER_VERSION_TYPE
    ]
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
        fetch: Callable[[str], bytes] = download,
    ) -> None:
        self.project_dir = project_dir
        #: Downloads AWS's presigned layer location (tests pass a stand-in: no network).
        self.fetch = fetch
        self.graph_for = graph_for
        #: ``client(service, region)`` -> a boto3 client (``s3``, ``signer``, ``lambda``).
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
            lambda_client=self.client("lambda", config.region) if manifest.get("layers") else None,
            fetch=self.fetch,
            say=self.say,
            sleep=self.sleep,
            clock=self.clock,
            poll_seconds=self.poll_seconds,
            timeout_seconds=self.timeout_seconds,
        )
        signed = sum(1 for r in results if r.status != "already-signed")
        self.say(
            f"code signing of '{stack}': {signed} package(s) and layer(s) signed, "
            f"{len(results) - signed} already signed"
        )
        return [r.as_json() for r in results]
