"""Registers ``strategies.py`` as ``contract_strategies`` so every contract test module imports the one copy."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if "contract_strategies" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("contract_strategies", Path(__file__).with_name("strategies.py"))
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["contract_strategies"] = _module
    _spec.loader.exec_module(_module)
