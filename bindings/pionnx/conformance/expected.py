"""The expected-failures file: one failing test per line, its name and a one-word reason.

    # comment
    test_foo_cpu        unsupported
    test_bar_cpu        mismatch

Reasons in use: unsupported (op/type not implemented), mismatch (wrong
numbers, dtype or shape), error (any other exception), crash (the process
died), timeout, harness (fails because of onnx's BackendTest itself, e.g. its
element-wise recursion into sequences of 0-d tensors; the numpy-only runner
does not hold such an entry to strictness), random (the output is random, e.g.
an unseeded Bernoulli, or seeded with another generator than the one that
made the expected data: it matches now and then by chance, so such a case is
skipped, never counted as passed or failed, and a run's verdict cannot depend
on luck). Shared by the pytest run and the numpy-only runner.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

HEADER = """\
# Conformance tests known to fail, one per line: test name, one-word reason.
# Strict: a listed test that passes fails the run, so take it off the list.
# Regenerate from a run (keeps the reasons of entries that stay):
#   nox -s tests -- --update-expected-failures
#   python tests/update_expected_failures.py build/junit.xml
"""


def read(path: str | Path) -> dict[str, str]:
    """Test name -> reason. A missing file is an empty list."""
    path = Path(path)
    if not path.exists():
        return {}
    entries: dict[str, str] = {}
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) > 2:
            raise ValueError(f"{path}:{lineno}: expected 'test_name  reason', got {raw!r}")
        entries[parts[0]] = parts[1] if len(parts) == 2 else "unknown"
    return entries


def write(path: str | Path, entries: Mapping[str, str]) -> None:
    width = max((len(name) for name in entries), default=0) + 2
    lines = [f"{name:<{width}}{reason}".rstrip() for name, reason in sorted(entries.items())]
    Path(path).write_text(HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")


HARNESS = "harness"
RANDOM = "random"

_REASON_PATTERNS = [
    (HARNESS, re.compile(r"Unable to compare expected type")),
    ("crash", re.compile(r"crashed|Segmentation fault|signal \d+|SIG[A-Z]+")),
    ("timeout", re.compile(r"timeout|timed out", re.IGNORECASE)),
    ("unsupported", re.compile(r"NotImplemented|not implemented|unsupported|not supported", re.IGNORECASE)),
    ("mismatch", re.compile(r"AssertionError|Not equal to tolerance|mismatch|incorrect shape", re.IGNORECASE)),
]


def classify(failure_text: str) -> str:
    """A one-word reason guessed from a failure's traceback or message."""
    for reason, pattern in _REASON_PATTERNS:
        if pattern.search(failure_text):
            return reason
    return "error"


def update(old: Mapping[str, str], failing: Mapping[str, str], passing: Iterable[str]) -> dict[str, str]:
    """The list after a run: tests that ran and failed are listed (keeping their
    old reason), tests that ran and passed are dropped, tests that did not run
    (deselected, skipped, another suite) keep their entry."""
    passing = set(passing)
    new = {name: reason for name, reason in old.items() if name not in passing}
    new.update({name: old.get(name, reason) for name, reason in failing.items()})
    return new
