"""Runs ONNX node conformance cases whose directory name matches a regex.

Developer tool for kernel work:  python -m ci.checks.node_check 'test_(conv|pool)'
Prints one line per case (PASS/FAIL with the error) and a passed/total line.
Reads cases from the installed onnx package; compares like onnx's backend
test (rtol=1e-3, atol=1e-7 unless the case says otherwise).
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import sys

import numpy as np
import onnx
import onnx.backend.test
from onnx import numpy_helper

import pionnx


def load_value(path: str, type_proto):
    data = open(path, "rb").read()
    which = type_proto.WhichOneof("value")
    if which == "sequence_type":
        seq = onnx.SequenceProto()
        seq.ParseFromString(data)
        return [numpy_helper.to_array(t) for t in seq.tensor_values]
    if which == "optional_type":
        opt = onnx.OptionalProto()
        opt.ParseFromString(data)
        return numpy_helper.to_optional(opt)
    t = onnx.TensorProto()
    t.ParseFromString(data)
    return numpy_helper.to_array(t)


def compare(ref, out, rtol, atol):
    if isinstance(ref, list):
        assert isinstance(out, list) and len(ref) == len(out), f"sequence length {len(out)} != {len(ref)}"
        for r, o in zip(ref, out):
            compare(r, o, rtol, atol)
        return
    if ref is None:
        assert out is None, "expected an empty optional"
        return
    out = np.asarray(out)
    assert out.shape == ref.shape, f"shape {out.shape} != expected {ref.shape}"
    if ref.dtype == object:
        assert out.tolist() == ref.tolist(), "string values differ"
        return
    assert out.dtype == ref.dtype, f"dtype {out.dtype} != expected {ref.dtype}"
    np.testing.assert_allclose(out, ref, rtol=rtol, atol=atol)


def run_case(case_dir: str, rtol: float, atol: float) -> None:
    model = onnx.load(os.path.join(case_dir, "model.onnx"))
    sess = pionnx.InferenceSession(model.SerializeToString())
    in_types = [vi.type for vi in model.graph.input if vi.name not in {i.name for i in model.graph.initializer}]
    out_types = [vi.type for vi in model.graph.output]
    in_names = [vi.name for vi in model.graph.input if vi.name not in {i.name for i in model.graph.initializer}]
    for ds in sorted(glob.glob(os.path.join(case_dir, "test_data_set_*"))):
        n_in = len(glob.glob(os.path.join(ds, "input_*.pb")))
        feeds = {in_names[i]: load_value(os.path.join(ds, f"input_{i}.pb"), in_types[i]) for i in range(n_in)}
        refs = [load_value(os.path.join(ds, f"output_{i}.pb"), out_types[i]) for i in range(len(out_types))]
        outs = sess.run(None, feeds)
        for r, o in zip(refs, outs):
            compare(r, o, rtol, atol)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("pattern", help="regex matched against test directory names (re.search)")
    ap.add_argument("-q", "--quiet", action="store_true", help="only print failures and the total")
    a = ap.parse_args()
    root = os.path.join(os.path.dirname(onnx.backend.test.__file__), "data", "node")
    cases = sorted(d for d in os.listdir(root) if re.search(a.pattern, d))
    passed = 0
    for c in cases:
        try:
            run_case(os.path.join(root, c), rtol=1e-3, atol=1e-7)
            passed += 1
            if not a.quiet:
                print(f"PASS {c}")
        except Exception as e:  # noqa: BLE001 - report every failure kind
            msg = str(e).strip().splitlines()
            print(f"FAIL {c}: {type(e).__name__}: {' | '.join(msg[:3])[:300]}")
    print(f"{passed}/{len(cases)} passed")
    return 0 if passed == len(cases) else 1


if __name__ == "__main__":
    sys.exit(main())
