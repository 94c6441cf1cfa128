"""A normal install (a wheel, not the editable checkout) ships function zips whose handlers import.

The test builds the wheel from a copy of the sources, installs it into a folder, and, from a
directory outside the checkout with the installed copy first on the path, runs the prod stack's
program (it declares every function dev does): every function zip it would upload is built from the
installed files. Each zip is then unpacked as Lambda unpacks it into ``/var/task`` and its handler module imported
from there alone (plus the site-packages that stand in for the Lambda runtime's boto3 and the
Powertools layer), in an interpreter that never saw the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
#: prod declares every function dev does (the same seven patterns, plus prod-only hooks and proxies), so its
#: program alone packages every handler folder a stack can use; a second program run would add ~5 s, no zip.
STACKS = ("prod",)

# Runs the stacks' programs with the installed package and writes each function's zip.
_PACKAGE_EVERY_FUNCTION = textwrap.dedent("""
    import json, sys
    from pathlib import Path

    site, repo, out = (Path(p) for p in sys.argv[1:4])
    import arcblueprint
    assert Path(arcblueprint.__file__).resolve().is_relative_to(site.resolve()), arcblueprint.__file__

    from arcblueprint.config import engine_config, read_stack_file
    from arcblueprint.platform.functions import component, packaging
    from arcblueprint.preview.harness import synthesize_values

    declared = {}
    original = component.code_archive

    def recording(code_dir, handler=None):
        declared[(str(Path(code_dir).resolve()), handler)] = True
        return original(code_dir, handler)

    component.code_archive = recording
    # Where the stack enforces code signing, a function's code is the signed object of its package instead.
    from arcblueprint.platform import code_signing

    original_code = code_signing.CodeSigning.code

    def recording_code(self, code_dir, handler):
        declared[(str(Path(code_dir).resolve()), handler)] = True
        return original_code(self, code_dir, handler)

    code_signing.CodeSigning.code = recording_code
    for stack in sys.argv[4:]:
        synthesize_values(engine_config(read_stack_file(repo, stack)), stack, program_dir=repo / "stacks")
    zips = []
    for i, (code_dir, handler) in enumerate(sorted(declared)):
        archive = out / f"function-{i}.zip"
        archive.write_bytes(packaging.package_zip(Path(code_dir)))
        zips.append({"zip": str(archive), "handler": handler, "codeDir": code_dir})
    print(json.dumps(zips))
""")

# In a fresh interpreter without site (-S) and without the checkout: sys.path is the stdlib, the
# unpacked zip (Lambda's /var/task), and the site-packages standing in for the runtime and the layer.
_IMPORT_FROM_ZIPS = textwrap.dedent("""
    import importlib, json, os, sys, zipfile
    zips, site_packages = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    base = [p for p in sys.path if p] + site_packages
    failures = []
    for entry in zips:
        task = entry["zip"].removesuffix(".zip") + "-task"
        with zipfile.ZipFile(entry["zip"]) as archive:
            archive.extractall(task)
        sys.path[:] = [task, *base]
        module, _, function = entry["handler"].rpartition(".")
        try:
            loaded = importlib.import_module(module)
            if not loaded.__file__.startswith(task + os.sep):
                failures.append(f"{entry['codeDir']}: {module} came from {loaded.__file__}")
            elif not callable(getattr(loaded, function, None)):
                failures.append(f"{entry['codeDir']}: no {entry['handler']}")
        except Exception as error:  # report every broken zip, not just the first
            failures.append(f"{entry['codeDir']}: {type(error).__name__}: {error}")
        for name, mod in list(sys.modules.items()):  # the next package must not reuse this one's modules
            if (getattr(mod, "__file__", None) or "").startswith(task + os.sep):
                del sys.modules[name]
    print(json.dumps(failures))
""")


def _run(args: list[str], *, cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"{' '.join(args[:4])} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel built from a copy of the sources (the checkout stays clean), installed into a folder."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(
        REPO / "arcblueprint",
        source / "arcblueprint",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
    )
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    _run(
        # The build backend (pyproject's build-system) is in the test extras: no isolated environment to set up.
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(work / "dist"),
            str(source),
        ],
        cwd=work,
        env=env,
    )
    [wheel] = (work / "dist").glob("arcblueprint-*.whl")
    _run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(work / "site"), str(wheel)],
        cwd=work,
        env=env,
    )
    return work


def test_every_function_zip_of_both_stacks_imports_from_the_installed_package(installed):
    site = installed / "site"
    assert (site / "arcblueprint/services/call_me_maybe/handlers/receiver/shared.txt").is_file()
    zips_dir = installed / "zips"
    zips_dir.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(site),
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "wheel-test",
    }
    output = _run(
        [sys.executable, "-c", _PACKAGE_EVERY_FUNCTION, str(site), str(REPO), str(zips_dir), *STACKS],
        cwd=installed,
        env=env,
    )
    zips = json.loads(output.strip().splitlines()[-1])
    code_dirs = {Path(z["codeDir"]) for z in zips}
    assert all(d.is_relative_to(site.resolve()) for d in code_dirs), "zips must come from the installed copy"
    # Every service pattern's functions and the release hook: both stacks run all seven patterns.
    assert {d.relative_to(site.resolve()).parts[2] for d in code_dirs if d.parts[-2] == "handlers"} == {
        "big_fan",
        "call_me_maybe",
        "cherry_pick",
        "comfortable_rest",
        "strangler",
        "streamer",
        "ops_automation",
    }
    receiver = next(z for z in zips if z["codeDir"].endswith("call_me_maybe/handlers/receiver"))
    assert "masking.py" in zipfile.ZipFile(receiver["zip"]).namelist()
    # A publisher ships the library and the schemas it validates against (JSON files of the installed package).
    outbox = next(z for z in zips if z["codeDir"].endswith("comfortable_rest/handlers/outbox"))
    shipped = set(zipfile.ZipFile(outbox["zip"]).namelist())
    assert {"domain_events.py", "OrderCreated.json", "OrderUpdated.json"} <= shipped

    site_packages = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    env.pop("PYTHONPATH")
    failures = json.loads(
        _run(
            [sys.executable, "-S", "-c", _IMPORT_FROM_ZIPS, json.dumps(zips), json.dumps(site_packages)],
            cwd=installed,
            env=env,
        )
        .strip()
        .splitlines()[-1]
    )
    assert failures == []
