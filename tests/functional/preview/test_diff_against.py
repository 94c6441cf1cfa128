"""``blueprint diff <stack> --against <git-ref>``: another revision, exported without touching the checkout."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from arcblueprint.preview.diffing import diff_snapshots, diff_text
from arcblueprint.preview.harness import REPO_ROOT
from arcblueprint.preview.revision import RevisionError, resolve, snapshot_at
from arcblueprint.preview.snapshot import snapshot

pytestmark = pytest.mark.skipif(
    shutil.which("git") is None or not (REPO_ROOT / ".git").exists(), reason="needs git and a git checkout"
)


def _git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def clone(tmp_path):
    """A fresh clone of this repository's committed HEAD, with a test identity for commits."""
    target = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(target)], check=True, capture_output=True)
    _git(target, "config", "user.email", "test@example.com")
    _git(target, "config", "user.name", "test")
    return target


def test_a_revision_is_synthesized_from_a_fresh_clone_without_touching_it(clone, synthesized):
    stack_file = clone / "Pulumi.dev.yaml"
    stack_file.write_text(stack_file.read_text().replace("retentionDays: 14", "retentionDays: 30", 1))
    _git(clone, "commit", "--quiet", "-am", "dev keeps logs 30 days")
    head, status = _git(clone, "rev-parse", "HEAD"), _git(clone, "status", "--porcelain")
    worktrees = _git(clone, "worktree", "list")

    commit, then = snapshot_at("HEAD", "dev", repo=clone)

    assert commit == head
    assert _git(clone, "rev-parse", "HEAD") == head and _git(clone, "status", "--porcelain") == status == ""
    assert _git(clone, "worktree", "list") == worktrees
    diff = diff_snapshots(then, snapshot(synthesized("dev")), left_label="dev@HEAD", right_label="dev")
    text = diff_text(diff)
    changed = [c for c in diff.changes if c.type == "aws:cloudwatch/logGroup:LogGroup"]
    assert changed and all("retentionInDays: 30 -> 14" in c.details for c in changed), text
    assert text.splitlines()[0].startswith("dev@HEAD -> dev: ")


def test_a_ref_that_names_no_commit_is_one_line(clone):
    with pytest.raises(RevisionError, match=r"^'no-such-branch' names no commit of this repository$"):
        resolve("no-such-branch", clone)
    with pytest.raises(RevisionError, match="is not a git revision"):
        resolve("--output=/tmp/x", clone)


def test_a_shallow_clone_says_how_to_fetch_the_history(tmp_path, clone):
    shallow = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "--quiet", "--depth", "1", f"file://{clone}", str(shallow)], check=True, capture_output=True
    )
    with pytest.raises(RevisionError, match=r"shallow.*git fetch --unshallow.*fetch-depth: 0"):
        resolve("HEAD~1", shallow)
