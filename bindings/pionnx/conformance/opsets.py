"""pionnx's operator table against the operator schemas of the installed onnx.

Every (domain, op, version) that ``onnx.defs`` defines is listed with the row
of pionnx's table (kernels/base/operators.inc) that covers it, so a new onnx
release shows exactly which operators and versions it added:

    python -m pionnx.conformance opsets             # the whole table
    python -m pionnx.conformance opsets --since 24  # only versions from opset 24
    python -m pionnx.conformance opsets --missing   # only what pionnx does not run

Host side: needs the onnx package.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import onnx.defs

from .. import _core

# Domains whose operators the table compares (the standard ones onnx defines).
DOMAINS = ("", "ai.onnx.ml", "ai.onnx.preview", "ai.onnx.preview.training")

_MAP_INPUTS = (
    "map inputs are not supported: pionnx's Value carries tensors and sequences of tensors"
    " (a map appears only as ZipMap's seq(map) output, a [keys, values] pair)"
)

# Operators onnx defines that pionnx does not run, and why. The test
# (tests/test_operator_table.py) fails when an operator onnx defines is neither
# registered nor listed here, and when a listed one becomes registered.
NOT_SUPPORTED = {
    ("", "ImageDecoder"): "needs JPEG/PNG/BMP/JPEG 2000/TIFF/WebP decoders; none fits the armv7l wheel budget",
    ("ai.onnx.preview.training", "Adagrad"): "training operator; pionnx is an inference runtime",
    ("ai.onnx.preview.training", "Adam"): "training operator; pionnx is an inference runtime",
    ("ai.onnx.preview.training", "Gradient"): "training operator; pionnx is an inference runtime",
    ("ai.onnx.preview.training", "Momentum"): "training operator; pionnx is an inference runtime",
    ("ai.onnx.ml", "CastMap"): _MAP_INPUTS,
    ("ai.onnx.ml", "DictVectorizer"): _MAP_INPUTS,
}

# Versions of operators pionnx runs that no row covers, and why.
NOT_SUPPORTED_VERSIONS = {
    ("", "Scan", 8): "Scan-8's batch-axis form (opset 8 only); Scan from opset 9 runs",
    ("", "Scatter", 11): "deprecated at opset 11 in favour of ScatterElements, which runs",
    ("", "Upsample", 1): "the experimental opset-1 form (height_scale/width_scale attributes)",
    ("", "Upsample", 10): "deprecated at opset 10 in favour of Resize, which runs",
}

# Rows whose `since` is not a version onnx.defs has a schema for, and why.
UNLISTED_SINCE = {
    (
        "",
        "MeanVarianceNormalization",
        1,
    ): "an experimental opset-1 operator whose schema onnx removed; old models use it",
}


@dataclass(frozen=True)
class Row:
    domain: str
    op: str
    since: int
    until: int


def pionnx_rows() -> dict[tuple[str, str], list[Row]]:
    rows: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for domain, op, since, until in _core.supported_operators():
        domain = "" if domain == "ai.onnx" else domain
        rows[(domain, op)].append(Row(domain, op, since, until))
    return rows


def onnx_versions() -> dict[tuple[str, str], list[int]]:
    """(domain, op) -> the versions onnx.defs has a schema for, ascending."""
    versions: dict[tuple[str, str], set[int]] = defaultdict(set)
    for schema in onnx.defs.get_all_schemas_with_history():
        domain = "" if schema.domain == "ai.onnx" else schema.domain
        if domain in DOMAINS:
            versions[(domain, schema.name)].add(schema.since_version)
    return {key: sorted(v) for key, v in versions.items()}


def coverage() -> list[tuple[str, str, int, Row | None]]:
    """Every (domain, op, version) onnx defines, with the pionnx row covering it (None: not run)."""
    rows = pionnx_rows()
    out = []
    for (domain, op), versions in sorted(onnx_versions().items()):
        for version in versions:
            row = next((r for r in rows.get((domain, op), []) if r.since <= version <= r.until), None)
            out.append((domain, op, version, row))
    return out


def problems() -> list[str]:
    """What the table gets wrong against the installed onnx (empty when it agrees)."""
    found = []
    latest_onnx = onnx.defs.onnx_opset_version()
    latest = _core.latest_opset()
    if latest_onnx > latest:
        new = [f"{op}-{v}" for domain, op, v, _ in coverage() if domain == "" and v > latest]
        found.append(
            f"onnx {onnx.__version__} defines ai.onnx opset {latest_onnx} but pionnx knows opsets up to {latest} "
            f"(kLatestOpset): review these new versions, then raise it: {', '.join(new)}"
        )
    versions = onnx_versions()
    rows = pionnx_rows()
    for key, op_rows in sorted(rows.items()):
        schema_versions = versions.get(key)
        if schema_versions is None:
            continue  # a domain onnx does not define (com.microsoft), or an op newer than this onnx
        op_rows = sorted(op_rows, key=lambda r: r.since)
        for row in op_rows:
            if row.since not in schema_versions and (key[0], key[1], row.since) not in UNLISTED_SINCE:
                found.append(
                    f"{key[0] or 'ai.onnx'}::{key[1]} row since {row.since}: onnx has versions {schema_versions}"
                )
            if row.until < latest and row.until + 1 not in schema_versions:
                found.append(
                    f"{key[0] or 'ai.onnx'}::{key[1]} row until {row.until}: no onnx version starts at {row.until + 1}"
                )
        for a, b in zip(op_rows, op_rows[1:]):
            if b.since <= a.until:
                found.append(
                    f"{key[0] or 'ai.onnx'}::{key[1]}: rows [{a.since}, {a.until}] and [{b.since}, {b.until}] overlap"
                )
    for key in sorted(versions):
        if key not in rows and key not in NOT_SUPPORTED:
            found.append(
                f"{key[0] or 'ai.onnx'}::{key[1]} (versions {versions[key]}) is neither run nor listed in NOT_SUPPORTED"
            )
    for domain, op, version, covering in coverage():
        versioned = (domain, op, version)
        if (domain, op) in rows and covering is None and versioned not in NOT_SUPPORTED_VERSIONS:
            found.append(
                f"{domain or 'ai.onnx'}::{op}-{version} is not covered by a row nor listed in NOT_SUPPORTED_VERSIONS"
            )
        if covering is not None and versioned in NOT_SUPPORTED_VERSIONS:
            found.append(f"{domain or 'ai.onnx'}::{op}-{version} runs now: take it off NOT_SUPPORTED_VERSIONS")
    for key in sorted(NOT_SUPPORTED):
        if key in rows:
            found.append(f"{key[0] or 'ai.onnx'}::{key[1]} is registered now: take it off NOT_SUPPORTED")
    return found


def print_table(since: int = 0, missing_only: bool = False) -> None:
    print(
        f"onnx {onnx.__version__} (ai.onnx opset {onnx.defs.onnx_opset_version()}); pionnx kLatestOpset {_core.latest_opset()}"
    )
    print(f"{'domain':<26} {'operator':<34} {'version':>7}  pionnx")
    for domain, op, version, row in coverage():
        if version < since and domain == "":
            continue
        if missing_only and row is not None:
            continue
        if row is not None:
            where = f"runs (row {row.since}..{row.until})"
        elif (domain, op) in NOT_SUPPORTED:
            where = f"not run: {NOT_SUPPORTED[(domain, op)]}"
        elif (domain, op, version) in NOT_SUPPORTED_VERSIONS:
            where = f"not run: {NOT_SUPPORTED_VERSIONS[(domain, op, version)]}"
        else:
            where = "not run"
        print(f"{domain or 'ai.onnx':<26} {op:<34} {version:>7}  {where}")
