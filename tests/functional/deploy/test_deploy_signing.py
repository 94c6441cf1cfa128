"""The driver's signing step (``arcblueprint.deploy.signing``) against moto's S3 and a stand-in for AWS Signer.

moto implements Signer's profiles (``PutSigningProfile``, ``GetSigningProfile``, ``CancelSigningProfile``)
but not its jobs. :class:`FakeSigner` answers ``StartSigningJob`` and ``DescribeSigningJob`` with
the shapes of botocore's own ``signer`` service model: every request is validated against the
operation's input shape (the check boto3 makes before it sends), every response is checked to
hold only members of the output shape. Its "signature" is a marker in the zip's comment (what
real Signer embeds is not modelled); like Signer, it refuses a zip that already carries one, and
reads the exact object version it is given from moto's S3. Nothing here reached AWS.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import uuid
import zipfile
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.validate import validate_parameters
from moto import mock_aws

from arcblueprint.deploy.driver import Driver
from arcblueprint.deploy.engine import Outcome
from arcblueprint.deploy.errors import DeployError, ExitCode
from arcblueprint.deploy.signing import PROFILE_VERSION_METADATA, CodeSigner, bootstrap_targets, sign_packages
from arcblueprint.platform.code_signing import (
    JOBS_PREFIX,
    SIGNING_PLATFORM,
    UNSIGNED_PREFIX,
    signed_key,
    signed_layer_key,
)
from arcblueprint.platform.functions.packaging import package_zip
from arcblueprint.preview.harness import REPO_ROOT

REGION = "eu-west-1"
BUCKET = "arcbp-prod-artifacts-123456789012-eu-west-1"
PROFILE = "arcbp_prod_lambda_signing"
CODE_DIRS = ("arcblueprint/platform/functions/hooks", "arcblueprint/services/ops_automation/handlers/jobs")
_SIGNATURE = b"signed-by:"


class FakeSigner:
    """``StartSigningJob``/``DescribeSigningJob`` as AWS Signer answers them (moto has neither)."""

    def __init__(self, s3: Any, profiles: Any, *, polls_in_progress: int = 1) -> None:
        self._model = botocore.session.get_session().get_service_model("signer")
        self._s3, self._profiles = s3, profiles
        self._polls_in_progress = polls_in_progress
        self.jobs: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, str] = {}
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def _call(self, operation: str, params: dict[str, Any]) -> None:
        validate_parameters(params, self._model.operation_model(operation).input_shape)  # raises as boto3 would
        self.requests.append((operation, params))

    def _answer(self, operation: str, response: dict[str, Any]) -> dict[str, Any]:
        members = set(self._model.operation_model(operation).output_shape.members)
        assert set(response) <= members, set(response) - members
        return response

    def get_signing_profile(self, **params: Any) -> dict[str, Any]:
        return self._profiles.get_signing_profile(**params)

    def start_signing_job(self, **params: Any) -> dict[str, Any]:
        self._call("StartSigningJob", params)
        token = params.get("clientRequestToken")
        if token in self.tokens:  # "All calls after the first that use this token return the same response"
            return self._answer("StartSigningJob", {"jobId": self.tokens[token]})
        profile = self._profiles.get_signing_profile(profileName=params["profileName"])
        assert profile["platformId"] == SIGNING_PLATFORM
        source = params["source"]["s3"]
        body = self._s3.get_object(Bucket=source["bucketName"], Key=source["key"], VersionId=source["version"])
        data = body["Body"].read()
        job_id = str(uuid.uuid4())
        job: dict[str, Any] = {"jobId": job_id, "status": "InProgress", "profileName": params["profileName"]}
        comment = zipfile.ZipFile(io.BytesIO(data)).comment
        if comment.startswith(_SIGNATURE):
            job.update(status="Failed", statusReason="Signing failed: the zip file already has a signature")
        else:
            destination = params["destination"]["s3"]
            key = f"{destination.get('prefix', '')}{job_id}.zip"
            signed = io.BytesIO(data)
            with zipfile.ZipFile(signed, "a") as archive:
                archive.comment = _SIGNATURE + params["profileName"].encode()
            self._s3.put_object(Bucket=destination["bucketName"], Key=key, Body=signed.getvalue())
            job["signedObject"] = {"s3": {"bucketName": destination["bucketName"], "key": key}}
        job["polls"] = 0
        self.jobs[job_id] = job
        if token:
            self.tokens[token] = job_id
        return self._answer("StartSigningJob", {"jobId": job_id, "jobOwner": "123456789012"})

    def describe_signing_job(self, **params: Any) -> dict[str, Any]:
        self._call("DescribeSigningJob", params)
        job = self.jobs[params["jobId"]]
        job["polls"] += 1
        if job["status"] == "InProgress" and job["polls"] > self._polls_in_progress:
            job["status"] = "Succeeded"
        return self._answer("DescribeSigningJob", {k: v for k, v in job.items() if k != "polls"})


@pytest.fixture
def aws(monkeypatch):
    with mock_aws():
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        profiles = boto3.client("signer", region_name=REGION)
        profiles.put_signing_profile(profileName=PROFILE, platformId=SIGNING_PLATFORM)
        yield SimpleNamespace(s3=s3, profiles=profiles, signer=FakeSigner(s3, profiles))


def _manifest(*code_dirs: str) -> dict[str, Any]:
    packages = {}
    for code_dir in code_dirs:
        digest = hashlib.sha256(package_zip(REPO_ROOT / code_dir)).hexdigest()
        packages[signed_key(digest)] = {"codeDir": code_dir, "sha256": digest}
    return {
        "artifactBucket": BUCKET,
        "signingProfileName": PROFILE,
        "untrustedArtifacts": "Enforce",
        "packages": packages,
    }


def _sign(aws, manifest, **kwargs):
    said: list[str] = []
    ticks = iter(range(10_000))
    results = sign_packages(
        manifest,
        project_dir=REPO_ROOT,
        s3=aws.s3,
        signer=aws.signer,
        say=said.append,
        sleep=lambda seconds: None,
        clock=lambda: float(next(ticks)),
        **kwargs,
    )
    return results, said


def test_each_package_is_uploaded_signed_and_put_where_its_function_reads_it(aws):
    manifest = _manifest(*CODE_DIRS)
    results, said = _sign(aws, manifest)
    assert [r.status for r in results] == ["signed", "signed"]
    for result in results:
        entry = manifest["packages"][result.key]
        signed = aws.s3.get_object(Bucket=BUCKET, Key=result.key)["Body"].read()
        job_output = aws.s3.get_object(Bucket=BUCKET, Key=result.signed_object)["Body"].read()
        assert signed == job_output  # the copy is Signer's output, byte for byte
        assert zipfile.ZipFile(io.BytesIO(signed)).comment == _SIGNATURE + PROFILE.encode()
        # Signer read the version the driver uploaded: the unsigned package of exactly that hash.
        [(_, request)] = [
            (op, p)
            for op, p in aws.signer.requests
            if op == "StartSigningJob" and entry["sha256"] in p["source"]["s3"]["key"]
        ]
        source = request["source"]["s3"]
        assert source["key"] == f"{UNSIGNED_PREFIX}{entry['sha256']}.zip"
        original = aws.s3.get_object(Bucket=BUCKET, Key=source["key"], VersionId=source["version"])["Body"].read()
        assert hashlib.sha256(original).hexdigest() == entry["sha256"]
        assert request["destination"]["s3"] == {"bucketName": BUCKET, "prefix": JOBS_PREFIX}
        assert request["profileName"] == PROFILE
    assert any("InProgress" in line for line in said)  # the step polled until the job succeeded


def test_a_package_signed_before_is_not_signed_again(aws):
    manifest = _manifest(*CODE_DIRS)
    _sign(aws, manifest)
    jobs = len(aws.signer.jobs)
    results, _ = _sign(aws, manifest)
    assert [r.status for r in results] == ["already-signed", "already-signed"]
    assert len(aws.signer.jobs) == jobs


def test_code_that_changed_since_the_preview_is_refused(aws):
    manifest = _manifest(CODE_DIRS[0])
    [entry] = manifest["packages"].values()
    stale = "0" * 64
    manifest["packages"] = {signed_key(stale): {**entry, "sha256": stale}}
    with pytest.raises(DeployError) as error:
        _sign(aws, manifest)
    assert error.value.exit_code == ExitCode.CONFIG and "code changed since the offline preview" in str(error.value)
    assert aws.signer.jobs == {}


def test_a_failed_job_stops_the_deploy_with_signers_reason(aws, monkeypatch):
    """Signer refuses a zip that already has a signature; the step says so and puts nothing under signed/."""
    manifest = _manifest(CODE_DIRS[0])
    [entry] = manifest["packages"].values()
    already = io.BytesIO(package_zip(REPO_ROOT / entry["codeDir"]))
    with zipfile.ZipFile(already, "a") as archive:
        archive.comment = _SIGNATURE + b"someone"
    digest = hashlib.sha256(already.getvalue()).hexdigest()
    manifest["packages"] = {signed_key(digest): {**entry, "sha256": digest}}
    monkeypatch.setattr("arcblueprint.deploy.signing.package_zip", lambda code_dir: already.getvalue())
    with pytest.raises(DeployError) as error:
        _sign(aws, manifest)
    assert error.value.exit_code == ExitCode.UPDATE and "already has a signature" in str(error.value)
    assert not [k for k in _keys(aws) if k.startswith("lambda/signed/")]


def test_a_job_that_never_finishes_times_out(aws):
    aws.signer._polls_in_progress = 10**9
    with pytest.raises(DeployError) as error:
        _sign(aws, _manifest(CODE_DIRS[0]), timeout_seconds=30)
    assert "still InProgress after 30s" in str(error.value)


def test_a_canceled_profile_cannot_sign(aws):
    aws.profiles.cancel_signing_profile(profileName=PROFILE)
    with pytest.raises(DeployError) as error:
        _sign(aws, _manifest(CODE_DIRS[0]))
    assert "is Canceled, not Active" in str(error.value)


def test_the_real_client_request_shapes_are_what_the_fake_checks(aws):
    """Not vacuous: the fake rejects what boto3's validation would (a source without a version)."""
    from botocore.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        aws.signer.start_signing_job(
            source={"s3": {"bucketName": BUCKET, "key": "k"}}, destination={}, profileName=PROFILE
        )


def _keys(aws) -> list[str]:
    return [o["Key"] for o in aws.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


# --- the first deploy of a stack, and the step's place in `blueprint deploy` ------------------------


def test_bootstrap_targets_are_the_signing_resources_and_everything_they_need(synthesized):
    graph = synthesized("prod")
    listed = bootstrap_targets(graph)
    # The engine leaves the root stack's type out of its children's URNs; the mock runtime puts it in.
    assert not [u for u in listed if "pulumi:pulumi:Stack" in u]
    assert "urn:pulumi:prod::arcblueprint::arcblueprint:platform:CodeSigning::code-signing" in listed
    targets = {r.urn for r in graph.resources if r.urn.replace("pulumi:pulumi:Stack$", "") in set(listed)}
    names = {u.rsplit("::", 1)[1] for u in targets}
    assert {"code-signing", "code-signing-profile", "code-signing-config", "code-signing-artifacts"} <= names
    assert {"platform-key", "logging-access-logs"} <= names  # the bucket's key and its access-log target
    assert not any(r.type == "aws:lambda/function:Function" for r in graph.resources if r.urn in targets)
    for resource in graph.resources:  # closed: `pulumi up --target` fails on a dependency left out
        if resource.urn in targets:
            needed = set(resource.dependencies) | {u for us in resource.property_dependencies.values() for u in us}
            assert needed <= targets, resource.name
            assert resource.parent is None or resource.parent in targets or resource.parent not in graph.by_urn()


class Engine:
    """The driver's engine, recording what it was asked to do (the real one is the Automation API)."""

    def __init__(self, on_up=None) -> None:
        self.calls: list[str] = []
        self.on_up = on_up

    def preview(self, stack, *, on_event):
        self.calls.append("preview")
        return Outcome(succeeded=True, change_summary={"create": 1})

    def up(self, stack, *, on_event, targets=None):
        self.calls.append(f"up targets={len(targets)}" if targets else "up")
        if targets and self.on_up is not None:
            self.on_up()
        return Outcome(succeeded=True, change_summary={"create": 1}, outputs={})

    def outputs(self, stack):
        return {"deployedCommit": "c0ffee"}

    def with_config(self, stack, values):
        self.run_config = dict(values)  # the release state the driver derives, for this run only


def test_deploy_creates_the_bucket_first_then_signs_then_updates(aws, synthesized, stack_values):
    from arcblueprint.config import stack_config

    for version in aws.s3.list_object_versions(Bucket=BUCKET).get("Versions", []):
        aws.s3.delete_object(Bucket=BUCKET, Key=version["Key"], VersionId=version["VersionId"])
    aws.s3.delete_bucket(Bucket=BUCKET)

    def created_by_targeted_up():
        aws.s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        aws.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})

    graph = dataclasses.replace(synthesized("prod"), outputs={"codePackages": _layer_manifest(CODE_DIRS[1])})
    said: list[str] = []
    layers = FakeLambda(_layer_zip())
    signer = CodeSigner(
        project_dir=REPO_ROOT,
        graph_for=lambda stack: graph,
        client=lambda service, region: {"s3": aws.s3, "signer": aws.signer, "lambda": layers}[service],
        say=said.append,
        sleep=lambda seconds: None,
        clock=lambda: 0.0,
        fetch=_fetch_from(layers, []),
    )
    engine = Engine(on_up=created_by_targeted_up)
    driver = Driver(
        engine,
        load_config=lambda stack: stack_config(stack_values("prod"), "prod"),
        offline_gate=lambda stack: SimpleNamespace(mandatory=[], as_json=lambda: {}, summary_lines=lambda: []),
        commit="c0ffee",
        stream=io.StringIO(),
        firing_alarms=lambda names, region: [],
        sign_code=signer,
        interactive=False,
    )
    summary = driver.deploy("prod")
    assert summary.exit_code == 0, summary.message
    assert engine.calls[0] == "preview" and engine.calls[1].startswith("up targets=") and engine.calls[2] == "up"
    assert [s["status"] for s in summary.signing] == ["signed", "signed"]  # the layer, then the package
    assert {s["key"] for s in summary.as_json()["signing"]} <= set(_keys(aws))
    assert any("does not exist yet" in line for line in said)


def test_a_stack_that_only_warns_deploys_its_local_packages(stack_values):
    from arcblueprint.config import stack_config

    signer = CodeSigner(
        project_dir=REPO_ROOT,
        graph_for=lambda stack: SimpleNamespace(outputs={"codePackages": {"untrustedArtifacts": "Warn"}}),
        client=lambda service, region: pytest.fail("no AWS call where nothing is signed"),
        say=lambda text: None,
        sleep=lambda seconds: None,
        clock=lambda: 0.0,
    )
    assert signer("dev", stack_config(stack_values("dev"), "dev"), lambda targets: pytest.fail("no bootstrap")) == []


# --- AWS's public Powertools layer: copied and signed by the stack's profile ---------------------------

PUBLIC_LAYER = "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:18"
LOCATION = "https://awslambda-eu-west-1-layers.s3.eu-west-1.amazonaws.com/snapshots/017000801446/powertools?X-Amz-Sig=1"


def _layer_zip() -> bytes:
    body = io.BytesIO()
    with zipfile.ZipFile(body, "w") as archive:
        archive.writestr("python/aws_lambda_powertools/__init__.py", "__version__ = '3.0.0'\n")
    return body.getvalue()


class FakeLambda:
    """``GetLayerVersionByArn`` as Lambda answers it for a public layer (moto does not hold AWS's layers)."""

    def __init__(self, body: bytes, *, code_sha256: str | None = None) -> None:
        self._model = botocore.session.get_session().get_service_model("lambda")
        self.body = body
        self.code_sha256 = code_sha256 or base64.b64encode(hashlib.sha256(body).digest()).decode()
        self.requests: list[dict[str, Any]] = []

    def get_layer_version_by_arn(self, **params: Any) -> dict[str, Any]:
        operation = self._model.operation_model("GetLayerVersionByArn")
        validate_parameters(params, operation.input_shape)
        self.requests.append(params)
        assert params["Arn"] == PUBLIC_LAYER
        response = {
            "Content": {"Location": LOCATION, "CodeSha256": self.code_sha256, "CodeSize": len(self.body)},
            "LayerVersionArn": PUBLIC_LAYER,
            "Version": 18,
        }
        assert set(response) <= set(operation.output_shape.members)
        return response


def _layer_manifest(*code_dirs: str) -> dict[str, Any]:
    return {**_manifest(*code_dirs), "layers": {signed_layer_key(PUBLIC_LAYER, PROFILE): {"sourceArn": PUBLIC_LAYER}}}


def _fetch_from(fake: FakeLambda, fetched: list[str]):
    def fetch(url: str) -> bytes:
        fetched.append(url)
        return fake.body

    return fetch


def test_the_public_layer_is_copied_signed_and_put_where_the_layer_version_reads_it(aws):
    fake, fetched = FakeLambda(_layer_zip()), []
    manifest = _layer_manifest(CODE_DIRS[0])
    results, _ = _sign(aws, manifest, lambda_client=fake, fetch=_fetch_from(fake, fetched))
    key = signed_layer_key(PUBLIC_LAYER, PROFILE)
    assert key == f"lambda/signed/layers/AWSLambdaPowertoolsPythonV3-python313-arm64-18/{PROFILE}.zip"
    assert [(r.key, r.status) for r in results][0] == (key, "signed")
    assert fetched == [LOCATION]  # downloaded from the presigned location Lambda returned
    signed = aws.s3.get_object(Bucket=BUCKET, Key=key)
    data = signed["Body"].read()
    assert zipfile.ZipFile(io.BytesIO(data)).comment == _SIGNATURE + PROFILE.encode()
    assert zipfile.ZipFile(io.BytesIO(data)).read("python/aws_lambda_powertools/__init__.py")
    version = aws.profiles.get_signing_profile(profileName=PROFILE)["profileVersion"]
    assert signed["Metadata"][PROFILE_VERSION_METADATA] == version
    [request] = [
        p for op, p in aws.signer.requests if op == "StartSigningJob" and "layers/" in p["source"]["s3"]["key"]
    ]
    source = request["source"]["s3"]
    original = aws.s3.get_object(Bucket=BUCKET, Key=source["key"], VersionId=source["version"])["Body"].read()
    assert original == fake.body and source["key"].startswith(UNSIGNED_PREFIX)
    # A rerun finds it signed by the current profile version: no download, no job.
    jobs = len(aws.signer.jobs)
    results, _ = _sign(aws, manifest, lambda_client=fake, fetch=_fetch_from(fake, fetched))
    assert {r.status for r in results} == {"already-signed"} and len(aws.signer.jobs) == jobs and len(fetched) == 1


def test_a_layer_download_that_does_not_match_its_hash_is_not_signed(aws):
    fake = FakeLambda(_layer_zip(), code_sha256=base64.b64encode(b"0" * 32).decode())
    with pytest.raises(DeployError) as error:
        _sign(aws, _layer_manifest(), lambda_client=fake, fetch=_fetch_from(fake, []))
    assert "does not match its CodeSha256" in str(error.value) and aws.signer.jobs == {}


def test_objects_signed_by_another_profile_version_are_signed_again(aws):
    fake = FakeLambda(_layer_zip())
    manifest = _layer_manifest(CODE_DIRS[0])
    _sign(aws, manifest, lambda_client=fake, fetch=_fetch_from(fake, []))
    keys = [signed_layer_key(PUBLIC_LAYER, PROFILE), *manifest["packages"]]
    for key in keys:  # as if an earlier profile version had signed them (or a driver that recorded none)
        aws.s3.copy_object(
            Bucket=BUCKET,
            Key=key,
            CopySource={"Bucket": BUCKET, "Key": key},
            MetadataDirective="REPLACE",
            Metadata={PROFILE_VERSION_METADATA: "OLDVERSION"} if key != keys[-1] else {},
        )
    jobs = len(aws.signer.jobs)
    results, _ = _sign(aws, manifest, lambda_client=fake, fetch=_fetch_from(fake, []))
    assert [r.status for r in results] == ["re-signed", "re-signed"]
    assert len(aws.signer.jobs) == jobs + 2
    version = aws.profiles.get_signing_profile(profileName=PROFILE)["profileVersion"]
    for key in keys:
        assert aws.s3.head_object(Bucket=BUCKET, Key=key)["Metadata"][PROFILE_VERSION_METADATA] == version


def test_a_layer_key_that_names_another_profile_is_refused(aws):
    manifest = {**_manifest(), "layers": {signed_layer_key(PUBLIC_LAYER, "other"): {"sourceArn": PUBLIC_LAYER}}}
    with pytest.raises(DeployError) as error:
        _sign(aws, manifest, lambda_client=FakeLambda(b""), fetch=lambda url: pytest.fail("nothing downloaded"))
    assert error.value.exit_code == ExitCode.CONFIG and signed_layer_key(PUBLIC_LAYER, PROFILE) in str(error.value)


def test_the_prod_manifest_lists_the_layer_its_layer_version_reads(synthesized):
    graph = synthesized("prod")
    manifest = graph.outputs["codePackages"]
    [layer] = graph.by_type("aws:lambda/layerVersion:LayerVersion")
    [(key, entry)] = manifest["layers"].items()
    assert layer.inputs["s3Key"] == key == signed_layer_key(entry["sourceArn"], manifest["signingProfileName"])
    assert layer.inputs["s3Bucket"] == manifest["artifactBucket"]
    # Not in the first deploy's targeted update: its object is signed after the bucket exists.
    assert layer.urn.replace("pulumi:pulumi:Stack$", "") not in set(bootstrap_targets(graph))
