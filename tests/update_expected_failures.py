"""Rewrite tests/expected_failures.txt from a pytest junit xml report.

    nox -s tests -- --junitxml=build/junit.xml
    python tests/update_expected_failures.py build/junit.xml [--file tests/expected_failures.txt]

Conformance tests that failed (or failed as expected) are listed, keeping the
reason of entries already there; tests that passed are taken off; tests that
did not run keep their entry. Same rules as ``--update-expected-failures``.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from pionnx.conformance import expected
from pionnx.conformance.suites import suite_of_class


def outcomes(junit_xml: Path) -> tuple[dict[str, str], set[str]]:
    failing: dict[str, str] = {}
    passing: set[str] = set()
    for case in ET.parse(junit_xml).getroot().iter("testcase"):
        if suite_of_class(case.get("classname", "").rsplit(".", 1)[-1]) is None:
            continue
        name = case.get("name", "")
        problems = [child for child in case if child.tag in ("failure", "error")]
        skipped = case.find("skipped")
        text = " ".join((p.get("message") or "") + "\n" + (p.text or "") for p in problems)
        if problems and "[XPASS(strict)]" in text:
            passing.add(name)  # a listed test that passed
        elif problems:
            failing[name] = expected.classify(text)
        elif skipped is not None and skipped.get("type") == "pytest.xfail":
            failing[name] = expected.classify(skipped.get("message") or "")
        elif skipped is None:
            passing.add(name)
    return failing, passing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("junit_xml", type=Path)
    parser.add_argument("--file", type=Path, default=Path(__file__).with_name("expected_failures.txt"))
    args = parser.parse_args(argv)
    failing, passing = outcomes(args.junit_xml)
    if not failing and not passing:
        print(f"{args.junit_xml}: no conformance tests in this report", file=sys.stderr)
        return 1
    old = expected.read(args.file)
    new = expected.update(old, failing, passing)
    expected.write(args.file, new)
    print(
        f"{args.file}: {len(new)} expected failures "
        f"({len(set(new) - set(old))} added, {len(set(old) - set(new))} removed)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
