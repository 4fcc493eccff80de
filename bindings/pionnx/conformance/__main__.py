"""python -m pionnx.conformance export|run ...

export DIR [--suites node,simple,...] [--subset N]     (host, needs onnx)
run DIR [--expected-failures FILE] [--json OUT] ...     (numpy + pionnx only)
opsets [--since N] [--missing]                         (onnx.defs against pionnx's operator table)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .suites import SUITES


def _suites(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SUITES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown suite(s) {unknown}; choose from {','.join(SUITES)}")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pionnx.conformance", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    exp = commands.add_parser("export", help="copy the ONNX backend test cases to DIR (needs the onnx package)")
    exp.add_argument("dir", type=Path)
    exp.add_argument(
        "--suites", type=_suites, default=list(SUITES), help=f"comma-separated, default {','.join(SUITES)}"
    )
    exp.add_argument("--subset", type=int, default=None, help="at most N cases per suite, spread evenly")

    run = commands.add_parser("run", help="run exported cases with numpy + pionnx only")
    run.add_argument("dir", type=Path)
    run.add_argument("--expected-failures", help="file of known failures (strict: a listed case that passes fails)")
    run.add_argument("--json", dest="json_out", help="write per-suite counts and per-case results here")
    run.add_argument("--suites", type=_suites, default=None, help="only these suites")
    run.add_argument("-k", "--pattern", default=None, help="only cases whose id matches this regular expression")
    run.add_argument("--threads", type=int, default=None, help="intra_op_num_threads of each session")
    run.add_argument("--timeout", type=float, default=600.0, help="seconds one case may take (default 600)")
    run.add_argument("--no-isolate", action="store_true", help="run in this process (a crash ends the run)")
    write_help = "update FILE with this run's failures (keeps reasons of entries that stay)"
    run.add_argument("--write-expected-failures", metavar="FILE", help=write_help)
    run.add_argument("-v", "--verbose", action="store_true", help="one line per case")

    ops = commands.add_parser("opsets", help="list every operator version onnx defines against what pionnx runs")
    ops.add_argument("--since", type=int, default=0, help="only ai.onnx versions from this opset")
    ops.add_argument("--missing", action="store_true", help="only the versions pionnx does not run")

    worker = commands.add_parser("_worker")  # internal: the child process of an isolated run
    worker.add_argument("dir", type=Path)
    worker.add_argument("--indices", required=True)
    worker.add_argument("--threads", type=int, default=None)

    args = parser.parse_args(argv)
    if args.command == "export":
        from .export import export

        manifest = export(args.dir, args.suites, args.subset)
        counts = {suite: sum(1 for c in manifest["cases"] if c["suite"] == suite) for suite in args.suites}
        per_suite = ", ".join(f"{suite}: {n}" for suite, n in counts.items())
        print(f"exported {len(manifest['cases'])} cases to {args.dir} ({per_suite})")
        return 0
    if args.command == "opsets":
        from .opsets import print_table, problems

        print_table(args.since, args.missing)
        issues = problems()
        for line in issues:
            print(f"PROBLEM: {line}")
        return 1 if issues else 0
    from . import runner

    if args.command == "_worker":
        return runner.worker_main(args.dir.resolve(), json.loads(Path(args.indices).read_text()), args.threads)
    return runner.run(
        args.dir,
        expected_failures=args.expected_failures,
        json_out=args.json_out,
        suites=args.suites,
        pattern=args.pattern,
        threads=args.threads,
        timeout=args.timeout,
        isolate=not args.no_isolate,
        verbose=args.verbose,
        write_expected_failures=args.write_expected_failures,
    )


if __name__ == "__main__":
    sys.exit(main())
