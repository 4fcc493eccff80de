"""Modules of the test suite that a check reuses (the quantized tests' onnxruntime probe in
`cpu_matrix`, the security review's hostile models in `fuzz`), loaded by path: tests/ is no
package, and its modules import each other by bare name, as pytest puts them on sys.path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

TESTS = Path(__file__).resolve().parents[2] / "tests"


def load(name: str, *siblings: str) -> ModuleType:
    """tests/<name>.py as the module `name`, after the tests/ modules it imports (`siblings`),
    each registered under its bare name as pytest would."""
    for sibling in siblings:
        if sibling not in sys.modules:
            load(sibling)
    spec = importlib.util.spec_from_file_location(name, TESTS / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"no test module {TESTS / f'{name}.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
