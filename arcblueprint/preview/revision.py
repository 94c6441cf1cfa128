"""Synthesize a stack as another git revision declares it: ``blueprint diff prod --against origin/main``.

The revision is exported with ``git archive`` into a temporary folder (the working tree, the
index and the repository's worktree list are not touched, and it works in a fresh clone), and
its program runs there in a separate Python process, because the package the program imports
must be that revision's, not the one this process has loaded. That process loads this revision's
:mod:`~arcblueprint.preview.snapshot` by file path, so both sides of the diff are written the same
way. The revision runs with this environment's dependencies (the ones ``constraints.txt`` pins now).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from arcblueprint.preview import snapshot as snapshot_module

__all__ = ["RevisionError", "resolve", "snapshot_at"]

#: Run inside the exported revision: its harness, this revision's snapshot format.
_DUMPER = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("_blueprint_snapshot", sys.argv[1])
snap = importlib.util.module_from_spec(spec)
spec.loader.exec_module(snap)
from arcblueprint.preview import harness
harness._plain = snap.plain  # older harnesses wrote assets by repr (a memory address)
try:
    graph = harness.synthesize(sys.argv[2])
except ValueError as error:  # a ConfigError of that revision: one line
    print(str(error).splitlines()[0] if str(error) else type(error).__name__, file=sys.stderr)
    sys.exit(2)
with open(sys.argv[3], "w", encoding="utf-8") as out:
    json.dump(snap.snapshot(graph), out)
"""


class RevisionError(Exception):
    """The revision cannot be exported or its program does not run; ``str()`` is one line."""


def _git(repo: Path, *args: str, binary: bool = False) -> Any:
    try:
        result = subprocess.run(["git", *args], cwd=repo, capture_output=True, check=False, timeout=120)
    except OSError as error:
        raise RevisionError(f"git is needed to compare with a revision ({error})") from None
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise RevisionError(f"git {args[0]} failed: {message[-1] if message else 'exit ' + str(result.returncode)}")
    return result.stdout if binary else result.stdout.decode().strip()


def resolve(ref: str, repo: Path) -> str:
    """The commit ``ref`` names, or a one-line error that says how to get it."""
    if ref.startswith("-"):
        raise RevisionError(f"'{ref}' is not a git revision")
    try:
        return str(_git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"))
    except RevisionError:
        shallow = _git(repo, "rev-parse", "--is-shallow-repository") == "true"
        hint = (
            " (this clone is shallow, as CI checkouts are by default: fetch the history with "
            "'git fetch --unshallow', or 'fetch-depth: 0' in actions/checkout)"
            if shallow
            else ""
        )
        raise RevisionError(f"'{ref}' names no commit of this repository{hint}") from None


def snapshot_at(
    ref: str, stack: str, *, repo: Path, python: str = sys.executable, timeout_seconds: float = 900
) -> tuple[str, dict[str, Any]]:
    """``(commit, snapshot)`` of ``stack`` as revision ``ref`` of ``repo`` declares it."""
    commit = resolve(ref, repo)
    archive = _git(repo, "archive", "--format=tar", commit, binary=True)
    with tempfile.TemporaryDirectory(prefix="blueprint-diff-") as folder:
        root = Path(folder) / "checkout"
        root.mkdir()
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(root, filter="data")
        out = Path(folder) / "snapshot.json"
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), environment.get("PYTHONPATH")) if p)
        environment.pop("PULUMI_CONFIG", None)  # the revision reads its own stack file, nothing else
        try:
            result = subprocess.run(
                [python, "-c", _DUMPER, snapshot_module.__file__, stack, str(out)],
                cwd=root,
                env=environment,
                capture_output=True,
                text=True,
                timeout=timeout_seconds,
                check=False,  # the exit code and stderr become the error below
            )
        except subprocess.TimeoutExpired:
            raise RevisionError(f"the program of {ref} did not finish in {timeout_seconds:.0f}s") from None
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines()
            raise RevisionError(
                f"stack '{stack}' at {ref} ({commit[:12]}) does not synthesize: {lines[-1] if lines else 'no output'}"
            )
        return commit, json.loads(out.read_text(encoding="utf-8"))
