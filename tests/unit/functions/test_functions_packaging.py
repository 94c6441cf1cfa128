"""Packaging: only the handler folder's own files, the same bytes every time; the public Powertools layer."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

import arcblueprint
from arcblueprint.config.schema import ConfigError
from arcblueprint.platform.functions.layers import powertools_layer_arn
from arcblueprint.platform.functions.packaging import (
    PackagingError,
    package_files,
    package_sha256,
    package_size,
    package_zip,
)


@pytest.fixture
def handler_dir(tmp_path):
    folder = tmp_path / "handlers" / "orders"
    (folder / "__pycache__").mkdir(parents=True)
    (folder / "lib").mkdir()
    (folder / "app.py").write_text("def lambda_handler(event, context):\n    return {'ok': True}\n")
    (folder / "lib" / "rules.py").write_text("LIMIT = 3\n")
    (folder / "__pycache__" / "app.cpython-313.pyc").write_bytes(b"\x00compiled")
    (folder / ".env").write_text("SECRET=nope\n")
    (folder / "schema.json").write_text("{}")
    (tmp_path / "handlers" / "sibling.py").write_text("# another service's code\n")
    return folder


def test_only_the_folders_own_files_are_packaged(handler_dir) -> None:
    names = [name for name, _ in package_files(handler_dir, "app.lambda_handler")]
    assert names == ["app.py", "lib/rules.py", "schema.json"]
    with zipfile.ZipFile(io.BytesIO(package_zip(handler_dir))) as archive:
        assert archive.namelist() == names
        assert archive.read("lib/rules.py") == b"LIMIT = 3\n"


def test_the_zip_depends_on_content_only(handler_dir) -> None:
    first = package_zip(handler_dir)
    os.utime(handler_dir / "app.py", (1, 1))
    assert package_zip(handler_dir) == first
    assert package_size(handler_dir) == len(first)
    before = package_sha256(handler_dir)
    (handler_dir / "app.py").write_text("def lambda_handler(event, context):\n    return None\n")
    assert package_sha256(handler_dir) != before


def test_a_missing_handler_module_fails_before_deploy(handler_dir, tmp_path) -> None:
    with pytest.raises(PackagingError, match="main.py"):
        package_files(handler_dir, "main.handler")
    with pytest.raises(PackagingError, match="module.function"):
        package_files(handler_dir, "handler")
    with pytest.raises(PackagingError, match="not a folder"):
        package_files(tmp_path / "absent")


@pytest.mark.parametrize(
    ("region", "arch", "runtime", "expected"),
    [
        (
            "eu-west-1",
            "arm64",
            "python3.13",
            "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:18",
        ),
        (
            "us-east-1",
            "x86_64",
            "python3.12",
            "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:18",
        ),
        (
            "cn-north-1",
            "arm64",
            "python3.13",
            "arn:aws-cn:lambda:cn-north-1:498634801083:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:18",
        ),
    ],
)
def test_powertools_layer_arn_per_region_and_architecture(region, arch, runtime, expected) -> None:
    assert powertools_layer_arn(region, architecture=arch, runtime=runtime, version=18) == expected


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"region": "us-gov-west-1"}, "region"),
        ({"runtime": "python3.9"}, "functions.runtime"),
        ({"architecture": "arm"}, "functions.architecture"),
        ({"version": 0}, "functions.powertoolsLayerVersion"),
    ],
)
def test_powertools_layer_arn_rejects_what_is_not_published(kwargs, key) -> None:
    args = {"region": "eu-west-1", "architecture": "arm64", "runtime": "python3.13", "version": 18, **kwargs}
    region = args.pop("region")
    with pytest.raises(ConfigError) as caught:
        powertools_layer_arn(region, **args)
    assert caught.value.key == key


def test_shared_modules_listed_in_shared_txt_go_to_the_zip_root(tmp_path):
    import io
    import zipfile

    from arcblueprint.platform.functions.packaging import PackagingError, package_zip

    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "masking.py").write_text("def mask(x):\n    return x\n")
    handler = tmp_path / "handler"
    handler.mkdir()
    (handler / "app.py").write_text("from masking import mask\n")
    (handler / "shared.txt").write_text("# shared\n../lib/masking.py\n\n")
    names = zipfile.ZipFile(io.BytesIO(package_zip(handler))).namelist()
    assert names == ["app.py", "masking.py"]

    (handler / "shared.txt").write_text("../lib/missing.py\n")
    with pytest.raises(PackagingError, match="not a Python file"):
        package_zip(handler)
    (handler / "masking.py").write_text("")
    (handler / "shared.txt").write_text("../lib/masking.py\n")
    with pytest.raises(PackagingError, match="clashes"):
        package_zip(handler)


def test_an_import_lambda_cannot_resolve_stops_packaging_with_one_line(tmp_path):
    """The wheel defect: shared.txt did not ship, so the zip held app.py without the masking it imports."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "masking.py").write_text("import json\n")
    handler = tmp_path / "handler"
    (handler / "rules").mkdir(parents=True)
    (handler / "app.py").write_text(
        "from __future__ import annotations\nimport os\nfrom typing import TYPE_CHECKING\n"
        "import boto3\nfrom botocore.exceptions import ClientError\n"
        "from aws_lambda_powertools import Logger\nfrom pydantic import BaseModel\n"
        "from rules.limits import LIMIT\nfrom masking import mask\n"
        "if TYPE_CHECKING:\n    from mypy_boto3_sqs import SQSClient\n"
        "try:\n    import orjson as fast_json\nexcept ImportError:\n    import json as fast_json\n"
    )
    (handler / "rules" / "limits.py").write_text("LIMIT = 3\n")
    with pytest.raises(PackagingError) as caught:
        package_files(handler, "app.lambda_handler")
    message = str(caught.value)
    assert "\n" not in message and "app.py" in message and "imports masking," in message
    assert "shared.txt" in message

    (handler / "shared.txt").write_text("../lib/masking.py\n")
    assert [name for name, _ in package_files(handler, "app.lambda_handler")] == [
        "app.py",
        "masking.py",
        "rules/limits.py",
    ]

    (handler / "rules" / "limits.py").write_text("import requests  # not in the runtime, not in the layer\n")
    with pytest.raises(PackagingError, match=r"^rules/limits\.py .* imports requests, "):
        package_zip(handler)


@pytest.mark.parametrize("module", ["cgi", "telnetlib", "distutils", "imp"])
def test_a_module_the_lambda_runtime_no_longer_ships_fails_packaging(tmp_path, module):
    """python3.12/3.13 dropped these though the build machine's Python (3.11) still has them."""
    (tmp_path / "app.py").write_text(f"import {module}\nimport json\n")
    with pytest.raises(PackagingError, match=rf"imports {module}, "):
        package_files(tmp_path, "app.lambda_handler")


#: Every handler folder the blueprint ships (each function's code_dir).
PACKAGE_ROOT = Path(arcblueprint.__file__).parent
HANDLER_DIRS = sorted(
    {path.parent for path in PACKAGE_ROOT.rglob("app.py") if "handlers" in path.parts or path.parent.name == "hooks"}
)


@pytest.mark.parametrize("code_dir", HANDLER_DIRS, ids=lambda p: p.relative_to(PACKAGE_ROOT).as_posix())
def test_every_shipped_handler_packages_with_its_imports(code_dir):
    names = {name for name, _ in package_files(code_dir, "app.lambda_handler")}
    assert "app.py" in names


def test_a_package_over_lambdas_quotas_stops_packaging(tmp_path, monkeypatch):
    """50 MiB zipped (a direct upload) and 250 MiB extracted; tested with the limits scaled down."""
    import os

    from arcblueprint.platform.functions import packaging

    (tmp_path / "app.py").write_text("def lambda_handler(event, context):\n    return None\n")
    (tmp_path / "model.bin").write_bytes(os.urandom(64 * 1024))  # random bytes do not compress
    (tmp_path / "zeros.bin").write_bytes(bytes(64 * 1024))  # zeros compress to almost nothing
    monkeypatch.setattr(packaging, "MAX_UNZIPPED_BYTES", 256 * 1024)
    monkeypatch.setattr(packaging, "MAX_ZIPPED_BYTES", 96 * 1024)
    assert len(package_files(tmp_path, "app.lambda_handler")) == 3  # 128 KiB of files, 64 KiB zipped: fits
    monkeypatch.setattr(packaging, "MAX_ZIPPED_BYTES", 32 * 1024)
    with pytest.raises(PackagingError, match=r"zips to 0\.1 MiB, more than the 0 MiB Lambda accepts") as caught:
        package_files(tmp_path, "app.lambda_handler")
    assert "\n" not in str(caught.value)
    monkeypatch.setattr(packaging, "MAX_UNZIPPED_BYTES", 100 * 1024)
    with pytest.raises(PackagingError, match="once extracted"):
        package_files(tmp_path, "app.lambda_handler")
