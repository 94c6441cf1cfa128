"""Which package may import which: the platform never imports a service, a pattern never imports a sibling pattern,
and what config specs reach stays free of Pulumi (issue 17: shared building blocks live in the platform)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import arcblueprint

PACKAGE = Path(arcblueprint.__file__).resolve().parent
PATTERNS = sorted(p.name for p in (PACKAGE / "services").iterdir() if (p / "component.py").is_file())


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (lazy and ``TYPE_CHECKING`` imports too)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def offenders(folder: Path, forbidden: str) -> list[str]:
    return sorted(
        f"{path.relative_to(PACKAGE.parent)} imports {module}"
        for path in folder.rglob("*.py")
        for module in imported_modules(path)
        if module == forbidden or module.startswith(f"{forbidden}.")
    )


def test_the_patterns_are_found():
    assert {"big_fan", "call_me_maybe", "comfortable_rest", "strangler", "streamer"} <= set(PATTERNS)


def test_the_platform_imports_no_service():
    assert offenders(PACKAGE / "platform", "arcblueprint.services") == []


@pytest.mark.parametrize("pattern", PATTERNS)
def test_a_pattern_imports_no_sibling_pattern(pattern):
    folder = PACKAGE / "services" / pattern
    siblings = [f"arcblueprint.services.{other}" for other in PATTERNS if other != pattern]
    found = [hit for sibling in siblings for hit in offenders(folder, sibling)]
    assert found == [], "shared building blocks belong in arcblueprint/platform/constructs/"


def test_what_config_specs_import_from_the_platform_loads_no_pulumi():
    """Specs parse config before any program runs (the CLI's ``validate``): their platform imports stay pure."""
    code = (
        "import sys\n"
        "import arcblueprint.platform.constructs, arcblueprint.platform.constructs.rest_conventions\n"
        "import arcblueprint.platform.function_code, arcblueprint.platform.consumer_settings\n"
        "import arcblueprint.services.rest_settings\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_aws')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent
    )
    assert result.stdout.strip() == "[]"
