"""pionnx's operator table (runtime/src/kernels/base/operators.inc) against the
operator schemas of the installed onnx (onnx.defs).

`python -m pionnx.conformance opsets` prints the whole comparison; these tests
fail when the two disagree: an onnx release with a newer opset than pionnx's
kLatestOpset (listing each new operator version to review), a row that does
not start or end at a version boundary onnx defines, or an operator (version)
onnx defines that pionnx neither runs nor lists with a reason.
"""

from __future__ import annotations

import onnx.defs
import pytest

from pionnx import _core
from pionnx.conformance import opsets


def test_table_agrees_with_onnx_defs() -> None:
    problems = opsets.problems()
    assert not problems, "\n".join(problems)


def test_every_onnx_version_is_listed_with_its_row() -> None:
    listed = {(domain, op, version) for domain, op, version, _ in opsets.coverage()}
    for schema in onnx.defs.get_all_schemas_with_history():
        domain = "" if schema.domain == "ai.onnx" else schema.domain
        if domain in opsets.DOMAINS:
            assert (domain, schema.name, schema.since_version) in listed


def test_rows_cover_the_common_operators_at_the_newest_opset() -> None:
    rows = opsets.pionnx_rows()
    latest = min(onnx.defs.onnx_opset_version(), _core.latest_opset())
    for op in ("Conv", "MatMul", "Gemm", "Relu", "Add", "Reshape", "Softmax", "LayerNormalization", "Cast"):
        assert any(r.since <= latest <= r.until for r in rows[("", op)]), op


def test_a_newer_onnx_opset_is_reported_with_its_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    newest = onnx.defs.onnx_opset_version()
    monkeypatch.setattr(_core, "latest_opset", lambda: newest - 1)
    problems = opsets.problems()
    assert any(f"defines ai.onnx opset {newest}" in p and "review these new versions" in p for p in problems), problems


def test_an_unlisted_missing_operator_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    real = _core.supported_operators()
    monkeypatch.setattr(_core, "supported_operators", lambda: [r for r in real if r[1] != "Einsum"])
    problems = opsets.problems()
    assert any(p.startswith("ai.onnx::Einsum") and "neither run nor listed" in p for p in problems), problems


def test_a_row_off_the_version_boundaries_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    real = _core.supported_operators()
    # Gemm has schemas at 1, 6, 7, 9, 11, 13: a row starting at 8 is not a boundary.
    shifted = [(d, op, 8 if op == "Gemm" else since, until) for d, op, since, until in real]
    monkeypatch.setattr(_core, "supported_operators", lambda: shifted)
    problems = opsets.problems()
    assert any("Gemm row since 8" in p for p in problems), problems
