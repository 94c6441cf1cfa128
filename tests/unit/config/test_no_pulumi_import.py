"""Validating config loads neither Pulumi nor the AWS provider: the config model and its planners are pure.

Run in a fresh interpreter, since the test session itself has long imported both.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]

_PROGRAM = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from arcblueprint.config.model import ReleaseSpec

    ReleaseSpec()
    from arcblueprint.config import load

    root = Path(sys.argv[1])
    for stack in ("dev", "prod"):
        config = load(root, stack)  # the stack file as the offline commands read it, teams' codeDir folders too
        assert config.services, stack  # the shipped stacks' services (and their pattern specs) were validated
    loaded = sorted(m for m in ("pulumi", "pulumi_aws", "pulumi_policy") if m in sys.modules)
    print(",".join(loaded) or "none")
    """
)


def test_config_and_the_shipped_stacks_validate_without_pulumi():
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM, str(REPO_ROOT)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "none", f"validating config imported {done.stdout.strip()}"
