"""Are two builds of the same wheel the same wheel? (the cross and the emulated armv7l cp311)

Compares, for a wheel made by `nox -s build_cross` and one made by `nox -s build_armv7`:

* the tag: Python, ABI and architecture must agree; the manylinux glibc version is
  reported beside them (the emulated bookworm image builds against glibc 2.36, the
  cross toolchain against 2.31: a lower floor is the point of the cross path, so a
  difference there alone is named, not failed);
* the file list (every path in the wheel but the .dist-info RECORD's hashes);
* the conformance results each wheel's test run wrote (<wheel>.conformance.json):
  the same cases run, and each with the same outcome.

    python -m ci.factory.wheel_equivalence CROSS.whl EMULATED.whl \
        [--reports-a dist/cross/reports] [--reports-b dist/armv7/reports] [--json OUT]

Exit 0 when equivalent, 1 with the differences listed otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import zipfile
from pathlib import Path


def tag_parts(name: str) -> dict:
    python, abi, platform = name[:-4].split("-")[-3:]
    m = re.match(r"manylinux_(\d+)_(\d+)_(.+)", platform)
    return {
        "python": python,
        "abi": abi,
        "arch": m.group(3) if m else platform,
        "glibc": f"{m.group(1)}.{m.group(2)}" if m else "",
        "platform": platform,
    }


def file_list(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        return sorted(zf.namelist())


def outcomes(path: Path) -> dict[str, str]:
    data = json.loads(path.read_text())
    return {row["id"]: row["outcome"] for row in data.get("results", [])}


def compare(a: Path, b: Path, reports_a: Path, reports_b: Path) -> dict:
    ta, tb = tag_parts(a.name), tag_parts(b.name)
    problems = [f"{k}: {ta[k]} vs {tb[k]}" for k in ("python", "abi", "arch") if ta[k] != tb[k]]
    notes = []
    if ta["glibc"] != tb["glibc"]:
        notes.append(f"glibc floor: manylinux {ta['glibc']} ({a.name}) vs {tb['glibc']} ({b.name})")
    fa, fb = file_list(a), file_list(b)
    only_a, only_b = sorted(set(fa) - set(fb)), sorted(set(fb) - set(fa))
    if only_a or only_b:
        problems.append(f"file lists differ: only in the first {only_a}, only in the second {only_b}")
    conformance: dict = {}
    ca, cb = reports_a / f"{a.name}.conformance.json", reports_b / f"{b.name}.conformance.json"
    missing = [str(p) for p in (ca, cb) if not p.is_file()]
    if missing:
        problems.append(f"no conformance results at {', '.join(missing)}")
    else:
        oa, ob = outcomes(ca), outcomes(cb)
        if not oa:
            problems.append(f"{ca} lists no case")
        differing = sorted(k for k in set(oa) | set(ob) if oa.get(k) != ob.get(k))
        conformance = {
            "cases": len(oa),
            "passed_first": sum(v == "passed" for v in oa.values()),
            "passed_second": sum(v == "passed" for v in ob.values()),
            "differing": [{"id": k, "first": oa.get(k, "not run"), "second": ob.get(k, "not run")} for k in differing],
        }
        if differing:
            problems.append(f"{len(differing)} conformance case(s) differ, e.g. {conformance['differing'][:5]}")
    return {
        "first": a.name,
        "second": b.name,
        "tags": [ta, tb],
        "files": len(fa),
        "conformance": conformance,
        "notes": notes,
        "problems": problems,
        "equivalent": not problems,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument(
        "--reports-a",
        type=Path,
        help="where the first wheel's test reports are (default: dist/cross/reports beside it)",
    )
    parser.add_argument("--reports-b", type=Path, help="the second's (default: dist/armv7/reports beside it)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    reports_a = args.reports_a or args.first.parent / "cross" / "reports"
    reports_b = args.reports_b or args.second.parent / "armv7" / "reports"
    result = compare(args.first, args.second, reports_a, reports_b)
    ta, tb = result["tags"]
    print(f"first:  {result['first']}\nsecond: {result['second']}")
    print(
        f"tag: {ta['python']}-{ta['abi']}-{ta['arch']} / {tb['python']}-{tb['abi']}-{tb['arch']}; "
        f"files: {result['files']}; conformance: {result['conformance'].get('passed_first', '?')} / "
        f"{result['conformance'].get('passed_second', '?')} passed of {result['conformance'].get('cases', '?')}, "
        f"{len(result['conformance'].get('differing', []))} differing"
    )
    for note in result["notes"]:
        print(f"note: {note}")
    for problem in result["problems"]:
        print(f"DIFFERENT: {problem}")
    print("equivalent" if result["equivalent"] else "NOT equivalent")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["equivalent"] else 1


if __name__ == "__main__":
    sys.exit(main())
