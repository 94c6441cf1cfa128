"""Registers ``harness.py`` as ``fault_harness`` so each fault-injection test imports the one copy."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if "fault_harness" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("fault_harness", Path(__file__).with_name("harness.py"))
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["fault_harness"] = _module
    _spec.loader.exec_module(_module)
