"""Hostile models and feeds: each case from the security review, in its own child process.

Every case must end in a clean Python exception that names the problem, or in
the correct result: never a crash, uninitialised memory, or an allocation
sized by an attacker before any check. The child reports what happened and
its peak memory; the parent judges. `nox -s sanitize` runs these (and the
rest of the suite) under AddressSanitizer and UndefinedBehaviorSanitizer.
"""

from __future__ import annotations

import json
import textwrap

import pytest
from models import describe, run_python

# Builds case NAME, runs it, prints one JSON line: {"outcome": "ok"|"refused", "error": type,
# "message": ..., "maxrss_mb": ...}. Anything else (a signal, no line) fails the test.
CHILD = textwrap.dedent(
    r"""
    import json, resource, sys, os
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    name, workdir = sys.argv[1], sys.argv[2]
    vi = helper.make_tensor_value_info
    # ci/checks/fuzz.py seeds its corpus with these models: with PIONNX_HOSTILE_SAVE set, a case
    # writes its model there instead of loading it (pionnx need not be installed), its feeds
    # embedded as initializers of the same names (the defaults of those inputs), so that the
    # fuzzer's mutations of the model reach the feeds too.
    SAVE = os.environ.get("PIONNX_HOSTILE_SAVE")
    if not SAVE:
        import pionnx

    def session(data):
        if SAVE and isinstance(data, bytes):
            with open(os.path.join(SAVE, name + ".onnx"), "wb") as f:
                f.write(data)
            print(json.dumps({"outcome": "saved"}))
            raise SystemExit(0)
        return pionnx.InferenceSession(data)

    def model(nodes, inputs, outputs, inits=(), opset=17, functions=(), extra=()):
        g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
        ops = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in extra]
        m = helper.make_model(g, opset_imports=ops, functions=list(functions))
        m.ir_version = 10
        return m.SerializeToString()

    def varint(n):
        out = bytearray()
        while True:
            b = n & 0x7F
            n >>= 7
            out.append(b | (0x80 if n else 0))
            if not n:
                return bytes(out)

    def embed(data, feeds):
        m = onnx.ModelProto()
        m.ParseFromString(data)
        m.graph.initializer.extend(numpy_helper.from_array(np.ascontiguousarray(v), k) for k, v in feeds.items())
        return m.SerializeToString()

    def run(data, feeds, check=None):
        sess = session(embed(data, feeds) if SAVE else data)
        out = sess.run(None, feeds)
        if check is not None:
            check(out)
        return out

    def case():
        if name.startswith("reshape_overflow"):
            data = model([helper.make_node("Reshape", ["x", "s"], ["r"]),
                          helper.make_node("Gather", ["r", "i"], ["y"], axis=0)],
                         [vi("x", TensorProto.FLOAT, [4]), vi("s", TensorProto.INT64, [2]),
                          vi("i", TensorProto.INT64, [])], [vi("y", TensorProto.FLOAT, None)])
            index = 2**40 if name.endswith("big") else 1
            run(data, {"x": np.arange(4, dtype=np.float32), "s": np.array([2**62 + 1, 4], np.int64),
                       "i": np.array(index, np.int64)})
        elif name == "nested_groups":
            session(b"\x08\x08\xa3\x06" + b"\x0b" * 100_000)
        elif name == "nested_sequences":
            # SequenceProto{elem_type: SEQUENCE, sequence_values: SequenceProto{...}}, 100,000 deep.
            depth, lengths, inner = 100_000, [], 0
            for _ in range(depth):
                lengths.append(inner)
                inner = 3 + len(varint(inner)) + inner
            blob = b"".join(b"\x10\x03\x2a" + varint(n) for n in reversed(lengths))
            pionnx.value_from_proto(blob, "sequence")
        elif name == "duplicate_output":
            data = model([helper.make_node("Identity", ["x"], ["t"]), helper.make_node("Neg", ["t"], ["t"])],
                         [vi("x", TensorProto.FLOAT, [3])], [vi("t", TensorProto.FLOAT, [3])])
            run(data, {"x": np.ones(3, np.float32)})
        elif name == "output_shadows_input":
            data = model([helper.make_node("Neg", ["x"], ["x"])],
                         [vi("x", TensorProto.FLOAT, [3])], [vi("x", TensorProto.FLOAT, [3])])
            run(data, {"x": np.ones(3, np.float32)})
        elif name.startswith("argm"):
            op = "ArgMax" if "max" in name else "ArgMin"
            axis = 1 if name.endswith("empty_axis") else 0
            data = model([helper.make_node(op, ["x"], ["y"], axis=axis)],
                         [vi("x", TensorProto.FLOAT, [2, 0])], [vi("y", TensorProto.INT64, None)])
            def check(out):
                assert out[0].shape == (1, 0) and out[0].dtype == np.int64, out[0].shape
            run(data, {"x": np.zeros((2, 0), np.float32)}, check)
        elif name == "trilu_empty":
            data = model([helper.make_node("Trilu", ["x"], ["y"])],
                         [vi("x", TensorProto.FLOAT, [3, 0])], [vi("y", TensorProto.FLOAT, None)])
            def check(out):
                assert out[0].shape == (3, 0), out[0].shape
            run(data, {"x": np.zeros((3, 0), np.float32)}, check)
        elif name == "attention_mask":
            qkv = [vi(n, TensorProto.FLOAT, [1, 1, 64, 8]) for n in "qkv"]
            data = model([helper.make_node("Attention", ["q", "k", "v", "m"], ["y"])],
                         qkv + [vi("m", TensorProto.FLOAT, [2, 64])], [vi("y", TensorProto.FLOAT, None)],
                         opset=23)
            f = {n: np.ones((1, 1, 64, 8), np.float32) for n in "qkv"}
            run(data, {**f, "m": np.zeros((2, 64), np.float32)})
        elif name == "gridsample_empty":
            data = model([helper.make_node("GridSample", ["x", "g"], ["y"])],
                         [vi("x", TensorProto.FLOAT, [1, 1, 0, 4]), vi("g", TensorProto.FLOAT, [1, 2, 2, 2])],
                         [vi("y", TensorProto.FLOAT, None)], opset=20)
            run(data, {"x": np.zeros((1, 1, 0, 4), np.float32), "g": np.zeros((1, 2, 2, 2), np.float32)})
        elif name == "split_num_outputs":
            data = model([helper.make_node("Split", ["x"], ["a", "b"], num_outputs=2**31 - 1)],
                         [vi("x", TensorProto.FLOAT, [4])],
                         [vi("a", TensorProto.FLOAT, None), vi("b", TensorProto.FLOAT, None)], opset=18)
            run(data, {"x": np.ones(4, np.float32)})
        elif name == "pad_huge":
            data = model([helper.make_node("Pad", ["x", "p"], ["y"], mode="edge")],
                         [vi("x", TensorProto.FLOAT, [4]), vi("p", TensorProto.INT64, [2])],
                         [vi("y", TensorProto.FLOAT, None)])
            run(data, {"x": np.ones(4, np.float32), "p": np.array([0, 2**40], np.int64)})
        elif name == "maxpool_ceil_overflow":
            # Found by CI's fuzz step (window.h): with ceil_mode, the last window's start
            # (out - 1) * stride wrapped int64 for a stride and a begin pad near 2**62.
            # Windows start at -2**62 (all padding) and at 0: the second one holds x[0].
            data = model([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[1], strides=[2**62],
                                           pads=[2**62, 0], ceil_mode=1)],
                         [vi("x", TensorProto.FLOAT, [1, 1, 2])], [vi("y", TensorProto.FLOAT, None)])
            def check(out):
                assert out[0].shape == (1, 1, 2), out[0].shape
                assert out[0][0, 0, 1] == 7.0, out[0]
            run(data, {"x": np.array([[[7, 9]]], np.float32)}, check)
        elif name == "avgpool_same_huge_stride":
            # SAME_* output size ceil(in / stride) computed as (in + stride - 1) / stride wrapped.
            data = model([helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[1], strides=[2**63 - 1],
                                           auto_pad="SAME_UPPER")],
                         [vi("x", TensorProto.FLOAT, [1, 1, 2])], [vi("y", TensorProto.FLOAT, None)])
            def check(out):
                np.testing.assert_array_equal(out[0], np.array([[[7]]], np.float32))
            run(data, {"x": np.array([[[7, 9]]], np.float32)}, check)
        elif name == "qlinearconv_zero_stride":
            # QLinearConv and QLinearAveragePool had window arithmetic of their own: a zero stride
            # divided by zero (SIGFPE). Now the checked one every Conv and pool shares.
            f32 = lambda n, v: numpy_helper.from_array(np.array(v, np.float32), n)
            u8 = lambda n, v: numpy_helper.from_array(np.array(v, np.uint8), n)
            inits = [f32("xs", 0.1), u8("xz", 0), u8("w", np.ones((1, 1, 2, 2))), f32("ws", 0.1), u8("wz", 0),
                     f32("ys", 0.1), u8("yz", 0)]
            data = model([helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"],
                                           strides=[0, 1])],
                         [vi("x", TensorProto.UINT8, [1, 1, 4, 4])], [vi("y", TensorProto.UINT8, None)], inits)
            run(data, {"x": np.ones((1, 1, 4, 4), np.uint8)})
        elif name == "col2im_zero_stride":
            data = model([helper.make_node("Col2Im", ["x", "img", "blk"], ["y"], strides=[1, 0])],
                         [vi("x", TensorProto.FLOAT, [1, 4, 9]), vi("img", TensorProto.INT64, [2]),
                          vi("blk", TensorProto.INT64, [2])], [vi("y", TensorProto.FLOAT, None)], opset=18)
            run(data, {"x": np.ones((1, 4, 9), np.float32), "img": np.array([4, 4], np.int64),
                       "blk": np.array([2, 2], np.int64)})
        elif name == "maxpool_int8_all_padding":
            # Found by fuzzing: a window all in padding cast the float accumulator's lowest value
            # (-3.4e38) to the integer output (undefined). It is now the type's lowest.
            data = model([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[1], pads=[1, 0])],
                         [vi("x", TensorProto.INT8, [1, 1, 2])], [vi("y", TensorProto.INT8, None)])
            def check(out):
                np.testing.assert_array_equal(out[0], np.array([[[-128, 5, -3]]], np.int8))
            run(data, {"x": np.array([[[5, -3]]], np.int8)}, check)
        elif name == "reduce_int64_wraps":
            # Found by fuzzing: ReduceSumSquare/ReduceProd/ReduceL1 over int64 overflowed signed
            # integers (undefined). They now wrap as numpy's integer arithmetic does.
            x = np.array([[2**40 + 3, 3, -2**62], [7, -(2**63), 2**33]], np.int64)
            nodes = [helper.make_node(op, ["x"], [op], keepdims=0)
                     for op in ("ReduceSumSquare", "ReduceProd", "ReduceL1", "ReduceSum")]
            data = model(nodes, [vi("x", TensorProto.INT64, [2, 3])],
                         [vi(op, TensorProto.INT64, None) for op in ("ReduceSumSquare", "ReduceProd", "ReduceL1",
                                                                     "ReduceSum")])
            def check(out):
                with np.errstate(over="ignore"):
                    want = [(x * x).sum(), x.prod(), np.abs(x).sum(), x.sum()]
                for got, w in zip(out, want):
                    np.testing.assert_array_equal(got, np.int64(w))
            run(data, {"x": x}, check)
        elif name == "convtranspose_huge_stride":
            # Found by fuzzing: ConvTranspose's output size stride * (in - 1) + ... wrapped int64.
            data = model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2**62])],
                         [vi("x", TensorProto.FLOAT, [1, 1, 4]), vi("w", TensorProto.FLOAT, [1, 1, 1])],
                         [vi("y", TensorProto.FLOAT, None)])
            run(data, {"x": np.ones((1, 1, 4), np.float32), "w": np.ones((1, 1, 1), np.float32)})
        elif name == "resize_huge":
            data = model([helper.make_node("Resize", ["x", "", "", "s"], ["y"])],
                         [vi("x", TensorProto.FLOAT, [1, 1, 2, 2]), vi("s", TensorProto.INT64, [4])],
                         [vi("y", TensorProto.FLOAT, None)])
            run(data, {"x": np.ones((1, 1, 2, 2), np.float32), "s": np.array([1, 1, 2**20, 2**20], np.int64)})
        elif name == "inline_bomb":
            # f0(x) = x; f_k(x) = f_{k-1}(f_{k-1}(x)): calling f24 would inline 2**24 nodes.
            fs = [helper.make_function("bomb", "f0", ["x"], ["y"], [helper.make_node("Identity", ["x"], ["y"])],
                                       [helper.make_opsetid("", 17)])]
            for k in range(1, 25):
                fs.append(helper.make_function(
                    "bomb", f"f{k}", ["x"], ["y"],
                    [helper.make_node(f"f{k-1}", ["x"], ["t"], domain="bomb"),
                     helper.make_node(f"f{k-1}", ["t"], ["y"], domain="bomb")],
                    [helper.make_opsetid("", 17), helper.make_opsetid("bomb", 1)]))
            data = model([helper.make_node("f24", ["x"], ["y"], domain="bomb")], [vi("x", TensorProto.FLOAT, [1])],
                         [vi("y", TensorProto.FLOAT, None)], functions=fs, extra=["bomb"])
            assert len(data) < 4096, len(data)
            run(data, {"x": np.ones(1, np.float32)})
        elif name.startswith("external_"):
            with open(os.path.join(workdir, "w.bin"), "wb") as f:
                f.write(np.arange(4, dtype=np.float32).tobytes())
            w = numpy_helper.from_array(np.zeros(4, np.float32), "w")
            w.ClearField("raw_data")
            w.data_location = TensorProto.EXTERNAL
            offset, length = {"external_offset_text": ("abc", "16"),
                              "external_offset_overflow": (str(2**63 - 8), "16"),
                              "external_length_text": ("0", "16 bytes")}[name]
            for k, v in (("location", "w.bin"), ("offset", offset), ("length", length)):
                e = w.external_data.add()
                e.key, e.value = k, v
            data = model([helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", TensorProto.FLOAT, [4])],
                         [vi("y", TensorProto.FLOAT, [4])], [w])
            path = os.path.join(workdir, "m.onnx")
            with open(path, "wb") as f:
                f.write(data)
            sess = pionnx.InferenceSession(path)
            sess.run(None, {"x": np.zeros(4, np.float32)})
        elif name == "unaligned_feed":
            # A numpy view one byte into its buffer: unaligned float32 data, handed over zero-copy.
            raw = np.arange(1 + 4 * 64 * 48, dtype=np.uint8).astype(np.uint8).tobytes()
            a = np.frombuffer(raw, dtype=np.float32, offset=1, count=64 * 48).reshape(64, 48)
            b = np.random.default_rng(0).standard_normal((48, 32)).astype(np.float32)
            assert a.ctypes.data % 4 != 0
            a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
            view = np.frombuffer(b"\0" + a.tobytes(), dtype=np.float32, offset=1).reshape(64, 48)
            assert view.ctypes.data % 4 != 0
            data = model([helper.make_node("MatMul", ["a", "b"], ["y"]), helper.make_node("Relu", ["a"], ["r"])],
                         [vi("a", TensorProto.FLOAT, [64, 48]), vi("b", TensorProto.FLOAT, [48, 32])],
                         [vi("y", TensorProto.FLOAT, None), vi("r", TensorProto.FLOAT, None)])
            def check(out):
                np.testing.assert_allclose(out[0], a @ b, rtol=1e-4, atol=1e-4)
                np.testing.assert_array_equal(out[1], np.maximum(a, 0))
            run(data, {"a": view, "b": b}, check)
        else:
            raise SystemExit(f"unknown case {name}")

    try:
        case()
        result = {"outcome": "ok"}
    except Exception as err:
        result = {"outcome": "refused", "error": type(err).__name__, "message": str(err)[:500]}
    # This process's own peak: VmHWM starts afresh at exec, while ru_maxrss keeps the
    # peak of the process that forked it (a pytest worker that grew under a sanitizer).
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        with open("/proc/self/status") as status:
            peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        pass
    result["maxrss_mb"] = peak_kb / 1024
    print(json.dumps(result))
    """
)

# case -> what must happen: ("refused", exception class names allowed, a word the message must hold)
# or ("ok",). No case may take more than 1.5 GB: an attacker's size must be refused before it is
# allocated (the review saw 16-32 GB touched before any check).
CASES = {
    "reshape_overflow_big": ("refused", {"InvalidArgument"}, "overflow"),
    "reshape_overflow_small": ("refused", {"InvalidArgument"}, "overflow"),
    "nested_groups": ("refused", {"InvalidProtobuf"}, "deep"),
    "nested_sequences": ("refused", {"InvalidProtobuf"}, "deep"),
    "duplicate_output": ("refused", {"InvalidGraph"}, "'t'"),
    "output_shadows_input": ("refused", {"InvalidGraph"}, "'x'"),
    "argmax_empty_axis": ("refused", {"InvalidArgument"}, "empty"),
    "argmin_empty_axis": ("refused", {"InvalidArgument"}, "empty"),
    "argmax_empty_other_axis": ("ok",),
    "argmin_empty_other_axis": ("ok",),
    "trilu_empty": ("ok",),
    "attention_mask": ("refused", {"InvalidArgument"}, "broadcast"),
    "gridsample_empty": ("refused", {"InvalidArgument"}, "empty"),
    "split_num_outputs": ("refused", {"InvalidGraph", "InvalidArgument"}, "num_outputs"),
    "pad_huge": ("refused", {"InvalidArgument"}, "limit"),
    "resize_huge": ("refused", {"InvalidArgument"}, "limit"),
    "maxpool_ceil_overflow": ("ok",),
    "avgpool_same_huge_stride": ("ok",),
    "maxpool_int8_all_padding": ("ok",),
    "reduce_int64_wraps": ("ok",),
    "convtranspose_huge_stride": ("refused", {"InvalidArgument"}, "overflow"),
    "qlinearconv_zero_stride": ("refused", {"InvalidArgument"}, "positive"),
    "col2im_zero_stride": ("refused", {"InvalidArgument"}, "positive"),
    "inline_bomb": ("refused", {"InvalidGraph"}, "inlin"),
    "external_offset_text": ("refused", {"InvalidProtobuf"}, "offset"),
    "external_offset_overflow": ("refused", {"InvalidArgument"}, "outside file"),
    "external_length_text": ("refused", {"InvalidProtobuf"}, "length"),
    "unaligned_feed": ("ok",),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input(name, tmp_path):
    proc = run_python(CHILD, name, str(tmp_path), timeout=600)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == 0 and lines, describe(proc)
    got = json.loads(lines[-1])
    want = CASES[name]
    assert got["outcome"] == want[0], f"{name}: {got}"
    if want[0] == "refused":
        assert got["error"] in want[1], f"{name}: {got}"
        assert want[2] in got["message"], f"{name}: the message should say {want[2]!r}: {got['message']}"
    assert got["maxrss_mb"] < 1536, f"{name}: the child peaked at {got['maxrss_mb']:.0f} MB"


# ------------------------------------------------------------ the limits a user sets


def _chain_model(n: int = 1024) -> bytes:
    """y = Exp(Neg(x)) over float [n]: two intermediates of 4n bytes."""
    import onnx
    from onnx import TensorProto, helper

    g = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["t"]), helper.make_node("Exp", ["t"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n])],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(m)
    return m.SerializeToString()


def _session(data: bytes, **limits):
    import pionnx

    opts = pionnx.SessionOptions()
    opts.graph_optimization_level = pionnx.GraphOptimizationLevel.ORT_DISABLE_ALL
    for k, v in limits.items():
        setattr(opts, k, v)
    return pionnx.InferenceSession(data, sess_options=opts)


def test_max_tensor_bytes_refuses_a_larger_tensor_and_names_the_option():
    import numpy as np

    import pionnx

    x = np.ones(1024, np.float32)
    np.testing.assert_allclose(_session(_chain_model(), max_tensor_bytes=4096).run(None, {"x": x})[0], np.exp(-x))
    with pytest.raises(pionnx.InvalidArgument, match=r"over the limit of 4095 bytes .*max_tensor_bytes"):
        _session(_chain_model(), max_tensor_bytes=4095).run(None, {"x": x})


def test_max_memory_bytes_bounds_the_live_intermediates():
    import numpy as np

    import pionnx

    x = np.ones(1024, np.float32)
    _session(_chain_model(), max_memory_bytes=8192).run(None, {"x": x})
    with pytest.raises(
        pionnx.InvalidArgument,
        match=r"live intermediates reach .* over the limit of 4000 bytes "
        r"\(SessionOptions.max_memory_bytes",
    ):
        _session(_chain_model(), max_memory_bytes=4000).run(None, {"x": x})


def test_max_nesting_depth_and_max_inlined_nodes_are_settable():
    import onnx
    from onnx import TensorProto, helper

    import pionnx

    vi = helper.make_tensor_value_info
    inner = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["o"])], "inner", [], [vi("o", TensorProto.FLOAT, [1])]
    )
    branch = helper.make_graph(
        [helper.make_node("If", ["c"], ["o"], then_branch=inner, else_branch=inner)],
        "branch",
        [],
        [vi("o", TensorProto.FLOAT, [1])],
    )
    g = helper.make_graph(
        [helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=branch)],
        "g",
        [vi("c", TensorProto.BOOL, []), vi("x", TensorProto.FLOAT, [1])],
        [vi("y", TensorProto.FLOAT, [1])],
    )
    nested = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    _session(nested)
    with pytest.raises(pionnx.InvalidProtobuf, match="max_nesting_depth"):
        _session(nested, max_nesting_depth=3)

    f = helper.make_function(
        "local",
        "twice",
        ["a"],
        ["b"],
        [helper.make_node("Neg", ["a"], ["t"]), helper.make_node("Neg", ["t"], ["b"])],
        [helper.make_opsetid("", 17)],
    )
    g = helper.make_graph(
        [helper.make_node("twice", ["x"], ["y"], domain="local")],
        "g",
        [vi("x", TensorProto.FLOAT, [1])],
        [vi("y", TensorProto.FLOAT, [1])],
    )
    m = helper.make_model(
        g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("local", 1)], functions=[f]
    )
    data = m.SerializeToString()
    onnx.checker.check_model(m)
    _session(data, max_inlined_nodes=2)
    with pytest.raises(pionnx.InvalidGraph, match=r"more than 1 nodes .*max_inlined_nodes"):
        _session(data, max_inlined_nodes=1)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_tensor_bytes", -1),
        ("max_memory_bytes", "1 GB"),
        ("max_nesting_depth", 0),
        ("max_inlined_nodes", True),
        ("max_tensor_bytes", 2**64),
    ],
)
def test_bad_limit_values_are_named(name, value):
    with pytest.raises(ValueError, match=name):
        _session(_chain_model(), **{name: value})


def test_bool_bytes_other_than_0_and_1_mean_true():
    """A bool is one byte; a model's raw_data or a numpy view may hold any value there. pionnx reads
    any nonzero byte as true (numpy's reading) instead of handing kernels a C++ bool that is neither
    (UBSan: "load of value 11, which is not a valid value for type 'bool'", found by nox -s fuzz)."""
    import numpy as np
    import onnx

    import pionnx

    raw = onnx.TensorProto()
    raw.name, raw.data_type, raw.raw_data = "c", onnx.TensorProto.BOOL, b"\x00\x0b\x01\xff"
    raw.dims.append(4)
    m = onnx.helper.make_model(
        onnx.helper.make_graph(
            [onnx.helper.make_node("And", ["x", "c"], ["y"])],
            "g",
            [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.BOOL, [4])],
            [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.BOOL, [4])],
            [raw],
        ),
        opset_imports=[onnx.helper.make_opsetid("", 17)],
    )
    sess = pionnx.InferenceSession(m.SerializeToString())
    x = np.frombuffer(b"\x07\x02\x00\x01", dtype=np.bool_)
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], [False, True, False, True])


def test_names_that_are_not_utf8_are_shown_escaped_not_raised():
    """A model's strings may hold any bytes. Names and messages quoting them come back with \\xNN
    escapes, and a refusal stays pionnx's own exception (found by replaying the fuzz corpus: a
    UnicodeDecodeError escaped from the session's constructor)."""
    import numpy as np
    from onnx import TensorProto, helper

    import pionnx

    g = helper.make_graph(
        [helper.make_node("Relu", ["inQQ"], ["outZZ"]), helper.make_node("Relu", ["inQQ"], ["outZZ"])],
        "g",
        [helper.make_tensor_value_info("inQQ", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("outZZ", TensorProto.FLOAT, [2])],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    data = m.SerializeToString().replace(b"outZZ", b"out\xdb\xff")
    with pytest.raises(pionnx.InvalidGraph, match=r"out\\xdb\\xff"):
        pionnx.InferenceSession(data)  # two nodes define the output
    m.graph.node.pop()
    sess = pionnx.InferenceSession(m.SerializeToString().replace(b"inQQ", b"in\xdb\xff"))
    assert sess.get_inputs()[0].name == "in\\xdb\\xff"
    with pytest.raises(pionnx.InvalidArgument, match="unknown input"):
        sess.run(None, {"inQQ": np.ones(2, np.float32)})


def test_conv_with_a_huge_stride_runs_without_a_huge_buffer():
    """A 1-D Conv with a 2^32 stride (the fuzzer's finding 04486672) has one output per channel: it runs and
    equals the direct sum, where the phased direct path once asked for 64 GB (`out of memory`, an OOM under
    the fuzzer's allocation limit)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    import pionnx

    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 4, 5)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[5], pads=[2, 2], strides=[2**32])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    x = rng.standard_normal((1, 4, 1)).astype(np.float32)
    opts = pionnx.SessionOptions()
    opts.max_tensor_bytes = 4 << 20
    y = pionnx.InferenceSession(m.SerializeToString(), opts).run(None, {"x": x})[0]
    # The one window covers x[0] with tap 2 (two pad columns before it).
    np.testing.assert_allclose(y[0, :, 0], w[:, :, 2] @ x[0, :, 0] + b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("new_axis", [0, 1])
def test_concat_from_sequence_of_mixed_ranks_is_refused(new_axis):
    """ConcatFromSequence over tensors of ranks 2 and 1 (the fuzzer's finding 8f9ec4b0): the axis is checked
    against the first tensor's rank, and with new_axis=1 the second one's shape once had the new axis inserted
    past its end (a heap overflow under ASan). Now refused, naming both shapes."""
    import numpy as np
    from onnx import TensorProto, helper

    import pionnx

    nodes = [
        helper.make_node("SequenceConstruct", ["a", "b"], ["s"]),
        helper.make_node("ConcatFromSequence", ["s"], ["y"], axis=2 if new_axis else 1, new_axis=new_axis),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, 3]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [3]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    sess = pionnx.InferenceSession(m.SerializeToString())
    feeds = {"a": np.ones((2, 3), np.float32), "b": np.ones(3, np.float32)}
    with pytest.raises(pionnx.InvalidArgument, match=r"differ in rank or dtype \(\[2, ?3\] float, \[3\] float\)"):
        sess.run(None, feeds)


def test_one_hot_with_float_indices_past_int64_is_off():
    """OneHot's double indices of 1e19, -1e19 and NaN (the fuzzer's finding d7102e2a: converting 1.76e19 to
    int64 was undefined) are out of range, so their rows are all off; 1.7 truncates to 1."""
    import numpy as np
    from onnx import TensorProto, helper

    import pionnx

    node = helper.make_node("OneHot", ["i", "d", "v"], ["y"])
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info("i", TensorProto.DOUBLE, [4]),
            helper.make_tensor_value_info("d", TensorProto.DOUBLE, []),
            helper.make_tensor_value_info("v", TensorProto.FLOAT, [2]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    feeds = {
        "i": np.array([1e19, -1e19, np.nan, 1.7]),
        "d": np.array(3.0),
        "v": np.array([0.0, 5.0], np.float32),
    }
    y = pionnx.InferenceSession(m.SerializeToString()).run(None, feeds)[0]
    np.testing.assert_array_equal(y, [[0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 5, 0]])
