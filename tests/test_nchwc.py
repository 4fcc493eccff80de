"""The NCHWc layout (runtime/src/optimize/nchwc_layout.cc, kernels/simd/conv_nchwc.h): chains of
convolutions run with their channels in blocks, reordered in and out at the chain's ends. Every result is
checked against onnx.reference; which nodes ran blocked is read from the session's profile. On a CPU
without AVX2 (or with PIONNX_NCHWC=generic) nothing is blocked and the checks of what ran blocked are
skipped; test_simd_dispatch forces each path."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from models import model, nchwc_chain_model, nchwc_depthwise_model, tensor
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import pionnx

RNG = np.random.default_rng(17)
BLOCKED = pionnx.simd_info()["nchwc"] != "generic"
needs_blocks = pytest.mark.skipif(not BLOCKED, reason="no NCHWc path on this CPU (or PIONNX_NCHWC=generic)")


def run_profiled(m: onnx.ModelProto, feeds, threads=1, disabled=None, tmp_path=None):
    """pionnx's outputs and the op types of the nodes its profile shows (Reorder* by name)."""
    opts = pionnx.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.enable_profiling = True
    opts.profile_file_prefix = str(tmp_path / "nchwc")
    sess = pionnx.InferenceSession(m.SerializeToString(), opts, disabled_optimizers=disabled)
    out = sess.run(None, feeds)
    events = json.loads(open(sess.end_profiling()).read())
    names = [e["name"] for e in events if e.get("cat") == "Node"]
    return out, names


def reorders(names):
    return sorted(n.split("_kernel_time")[0].rsplit("_", 1)[0] for n in names if n.startswith("Reorder"))


@pytest.mark.parametrize("threads", [1, 2])
def test_chain_runs_blocked_and_matches_the_reference(tmp_path, threads):
    """The chain model blocked whole: one ReorderInput (the graph input) and a ReorderOutput for each graph
    output read from inside the chain (the global pools' outputs are NCHW as they stand); batch 2; the same
    results as onnx.reference and as the NCHW graph."""
    m, feeds = nchwc_chain_model(batch=2)
    want = ReferenceEvaluator(m).run(None, feeds)
    got, names = run_profiled(m, feeds, threads, tmp_path=tmp_path)
    plain, plain_names = run_profiled(m, feeds, threads, disabled=["NchwcTransformer"], tmp_path=tmp_path)
    for i, (g, p, r) in enumerate(zip(got, plain, want)):
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4, err_msg=f"output {i}")
        np.testing.assert_allclose(g, p, rtol=1e-4, atol=1e-4, err_msg=f"output {i} against NCHW")
    assert reorders(plain_names) == []
    if BLOCKED:
        assert reorders(names) == ["ReorderInput", "ReorderOutput", "ReorderOutput"]


def conv_node(x, w, y, **attrs):
    return helper.make_node("Conv", [x, w], [y], **attrs)


def weight(name, *shape):
    return numpy_helper.from_array((RNG.standard_normal(shape) * 0.1).astype(np.float32), name)


@needs_blocks
def test_winograd_convolutions_and_1x1_regions_stay_nchw(tmp_path):
    """Where the shapes are known, a 3x3 stride-1 convolution Winograd runs faster (64 channels and more on
    maps of 14x14 and more) stays NCHW, and so does a region whose only convolutions are 1x1 ones: no
    reorders at all. A 3x3 stride-2 one is blocked."""
    x = RNG.standard_normal((1, 64, 16, 16)).astype(np.float32)
    cases = {
        "winograd": [conv_node("x", "w3", "y", pads=[1, 1, 1, 1])],
        "pointwise pair": [
            conv_node("x", "w1", "h"),
            helper.make_node("Relu", ["h"], ["r"]),
            conv_node("r", "w1", "y"),
        ],
        "strided": [conv_node("x", "w3", "y", pads=[1, 1, 1, 1], strides=[2, 2])],
    }
    for case, nodes in cases.items():
        m = model(
            nodes,
            [tensor("x", TensorProto.FLOAT, [1, 64, 16, 16])],
            [tensor("y", TensorProto.FLOAT, None)],
            [weight("w3", 64, 64, 3, 3), weight("w1", 64, 64, 1, 1)],
        )
        got, names = run_profiled(m, {"x": x}, tmp_path=tmp_path)
        np.testing.assert_allclose(got[0], ReferenceEvaluator(m).run(None, {"x": x})[0], rtol=1e-4, atol=1e-4)
        want = ["ReorderInput", "ReorderOutput"] if case == "strided" else []
        assert reorders(names) == want, case


@pytest.mark.parametrize("threads", [1, 2])
def test_unknown_map_sizes_choose_at_run_time(tmp_path, threads):
    """With the map size unknown to the pass (symbolic H and W) the 64 -> 64 3x3 convolution is blocked, and
    the kernel picks at run time: on 20x20 Winograd through NCHW reorders inside the node, on 9x9 the direct
    blocked kernel. A residual of unknown shape is not blocked: that FusedConv stays NCHW."""
    nodes = [
        conv_node("x", "w3", "c", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Conv", ["r", "w3b", "b"], ["s"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["s"], ["y"]),
        conv_node("x", "w1", "p"),
        helper.make_node("Add", ["p", "x"], ["y2"]),
    ]
    m = model(
        nodes,
        [tensor("x", TensorProto.FLOAT, [1, 64, "h", "w"])],
        [tensor("y", TensorProto.FLOAT, None), tensor("y2", TensorProto.FLOAT, None)],
        [weight("w3", 64, 64, 3, 3), weight("w3b", 64, 64, 3, 3), weight("b", 64), weight("w1", 64, 64, 1, 1)],
    )
    ref = ReferenceEvaluator(m)
    for side in (20, 9):
        x = RNG.standard_normal((1, 64, side, side)).astype(np.float32)
        got, names = run_profiled(m, {"x": x}, threads, tmp_path=tmp_path)
        for g, r in zip(got, ref.run(None, {"x": x})):
            np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4, err_msg=f"{side}")
        if BLOCKED:
            assert reorders(names) == ["ReorderInput", "ReorderOutput"]


def reorder_outputs(tmp_path, m, feeds, threads):
    """pionnx's outputs and the channel counts its ReorderOutput nodes wrote (from the profile)."""
    opts = pionnx.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.enable_profiling = True
    opts.profile_file_prefix = str(tmp_path / "padded")
    sess = pionnx.InferenceSession(m.SerializeToString(), opts)
    out = sess.run(None, feeds)
    events = json.loads(open(sess.end_profiling()).read())
    shapes = [
        list(e["args"]["output_type_shape"][0].values())[0]
        for e in events
        if e.get("cat") == "Node" and e["name"].startswith("ReorderOutput")
    ]
    return out, sorted(s[1] for s in shapes)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("m_out, padded", [(60, True), (20, False)])
def test_output_channels_padded_to_the_block(tmp_path, threads, m_out, padded):
    """A convolution of M output channels not a multiple of the block (a classifier's 1000: SqueezeNet's last
    layer) reading a blocked tensor runs blocked, its channels padded with zero filters to the next multiple
    (60 -> 64 at blocks of 8 and 16), and its output is reordered back with ReorderOutput's `channels` dropping
    the padding: the ReorderOutput writes M channels (not the 32 of its input), before the Relu, the global
    pool and the graph output that read it. Padding more than a quarter (20 -> 32 at 16) is not done: that
    convolution stays NCHW (at blocks of 8, 20 -> 24 is padded). Batch 2, against onnx.reference."""
    nodes = [
        conv_node("x", "w3", "c", pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Conv", ["r", "wc", "bc"], ["y"]),
        helper.make_node("Relu", ["y"], ["yr"]),
        helper.make_node("GlobalAveragePool", ["yr"], ["g"]),
    ]
    m = model(
        nodes,
        [tensor("x", TensorProto.FLOAT, [2, 32, 9, 11])],
        [tensor("y", TensorProto.FLOAT, None), tensor("g", TensorProto.FLOAT, None)],
        [weight("w3", 32, 32, 3, 3), weight("wc", m_out, 32, 1, 1), weight("bc", m_out)],
    )
    feeds = {"x": RNG.standard_normal((2, 32, 9, 11)).astype(np.float32)}
    got, channels = reorder_outputs(tmp_path, m, feeds, threads)
    for g, r in zip(got, ReferenceEvaluator(m).run(None, feeds)):
        assert g.shape == r.shape
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4)
    block = {"avx512": 16, "avx2": 8, "neon": 4}.get(pionnx.simd_info()["nchwc"], 0)
    if block:
        padded_to = -(-m_out // block) * block
        assert padded == (padded_to * 4 <= m_out * 5) or block < 16  # the parameters' premise, at blocks of 16
        assert channels == ([m_out] if padded_to * 4 <= m_out * 5 else [32])


@pytest.mark.parametrize("threads", [1, 2])
def test_batchnorm_on_blocked_data_runs_blocked(tmp_path, threads):
    """A pre-activation chain (DenseNet's: Concat -> BatchNormalization -> Relu -> 1x1 -> BatchNormalization ->
    Relu -> 3x3) stays blocked whole: each BatchNormalization of a blocked input runs as a blocked depthwise 1x1
    convolution (scale and shift per channel), the Relu that alone reads it in the kernel's registers, so there are
    no reorders around it. The second one's output is also a graph output (its Relu stays a node; the output is
    reordered out). A BatchNormalization of an NCHW input (the graph input) stays as it is; batch 2, against
    onnx.reference."""
    c = 32

    def bn(x, y, tag):
        return helper.make_node(
            "BatchNormalization", [x, f"g{tag}", f"b{tag}", f"m{tag}", f"v{tag}"], [y], epsilon=1e-3
        )

    def bn_weights(tag, n):
        return [
            numpy_helper.from_array((RNG.uniform(0.5, 1.5, n)).astype(np.float32), f"g{tag}"),
            numpy_helper.from_array((RNG.standard_normal(n) * 0.1).astype(np.float32), f"b{tag}"),
            numpy_helper.from_array((RNG.standard_normal(n) * 0.1).astype(np.float32), f"m{tag}"),
            numpy_helper.from_array((RNG.uniform(0.5, 2.0, n)).astype(np.float32), f"v{tag}"),
        ]

    nodes = [
        bn("x", "xb", 0),
        conv_node("xb", "w0", "c0", pads=[1, 1, 1, 1], strides=[2, 2]),
        conv_node("c0", "w1", "c1", pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("MaxPool", ["c0"], ["p0"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Concat", ["p0", "c1"], ["cat"], axis=1),
        bn("cat", "n1", 1),
        helper.make_node("Relu", ["n1"], ["r1"]),
        conv_node("r1", "w2", "c2"),
        bn("c2", "n2", 2),
        helper.make_node("Relu", ["n2"], ["r2"]),
        conv_node("r2", "w3", "y", pads=[1, 1, 1, 1]),
    ]
    m = model(
        nodes,
        [tensor("x", TensorProto.FLOAT, [2, c, 16, 16])],
        [tensor("y", TensorProto.FLOAT, None), tensor("n2", TensorProto.FLOAT, None)],
        [weight("w0", c, c, 3, 3), weight("w1", c, c, 3, 3), weight("w2", 2 * c, 2 * c, 1, 1)]
        + [weight("w3", c, 2 * c, 3, 3)]
        + bn_weights(0, c)
        + bn_weights(1, 2 * c)
        + bn_weights(2, 2 * c),
    )
    feeds = {"x": RNG.standard_normal((2, c, 16, 16)).astype(np.float32)}
    got, names = run_profiled(m, feeds, threads, tmp_path=tmp_path)
    for g, r in zip(got, ReferenceEvaluator(m).run(None, feeds)):
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4)
    if BLOCKED:
        assert reorders(names) == ["ReorderInput", "ReorderOutput", "ReorderOutput"]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(
    "side, kernel, stride, pad, dilation",
    [
        (7, 3, 1, 2, 2),
        (7, 1, 2, 0, 1),
        (13, 3, 2, 1, 1),
        (5, 1, 1, 0, 1),
        (5, 1, 1, 1, 1),
        (2, 3, 1, 2, 2),
        (1, 1, 1, 0, 1),
        (11, 3, 1, 0, 2),
    ],
)
def test_register_tiles_across_row_ends(tmp_path, threads, side, kernel, stride, pad, dilation):
    """The blocked kernel takes runs of outputs across row ends, so one register tile can hold the end of one
    output row and the start of the next (or several rows of a narrow map): 7-wide rows (ResNet-50's last
    stage), 1x1 stride 2, odd widths, 1- and 2-wide maps, padded and unpadded inputs, dilation, a residual
    read at the same positions; 160 input channels, so 1x1 sums run in more than one call (accumulated in the
    output), batch 2, against onnx.reference. The first convolution (dilated 3x3: not Winograd, so the region
    is worth blocking) blocks the input; the 3x3 stride-1 cases are dilated for the same reason."""
    C, M = 160, 48
    same = stride == 1 and 2 * pad == dilation * (kernel - 1)
    nodes = [
        conv_node("x", "w0", "t", pads=[2] * 4, dilations=[2, 2]),
        helper.make_node("Relu", ["t"], ["r"]),
        helper.make_node(
            "Conv", ["r", "w", "b"], ["c"], strides=[stride] * 2, pads=[pad] * 4, dilations=[dilation] * 2
        ),
    ]
    if same:  # a residual of the output's shape: the first product's first M channels
        nodes += [
            helper.make_node("Slice", ["r", "s0", "s1", "ax"], ["z"]),
            helper.make_node("Add", ["c", "z"], ["a"]),
            helper.make_node("Relu", ["a"], ["y"]),
        ]
    else:
        nodes.append(helper.make_node("Relu", ["c"], ["y"]))
    ints = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in (("s0", [0]), ("s1", [M]), ("ax", [1]))]
    m = model(
        nodes,
        [tensor("x", TensorProto.FLOAT, [2, C, side, side + 1])],
        [tensor("y", TensorProto.FLOAT, None)],
        [weight("w0", C, C, 3, 3), weight("w", M, C, kernel, kernel), weight("b", M)] + ints,
    )
    feeds = {"x": RNG.standard_normal((2, C, side, side + 1)).astype(np.float32)}
    got, names = run_profiled(m, feeds, threads, tmp_path=tmp_path)
    np.testing.assert_allclose(got[0], ReferenceEvaluator(m).run(None, feeds)[0], rtol=1e-4, atol=1e-4)
    if BLOCKED:
        assert "ReorderInput" in reorders(names)


@pytest.mark.parametrize(
    "op, kernel, stride, pads, extra",
    [
        ("MaxPool", 3, 2, [1, 1, 1, 1], {}),
        ("MaxPool", 3, 1, [1, 1, 1, 1], {}),
        ("MaxPool", 2, 2, [0, 0, 0, 0], {"ceil_mode": 1}),
        ("AveragePool", 3, 1, [1, 1, 1, 1], {"count_include_pad": 0}),
        ("AveragePool", 3, 2, [1, 2, 1, 0], {"count_include_pad": 1}),
        ("AveragePool", 5, 3, [2, 2, 2, 2], {"ceil_mode": 1}),
    ],
)
def test_blocked_pools(tmp_path, op, kernel, stride, pads, extra):
    """Max and average pools between blocked convolutions, their inner windows four positions at a time and
    the windows at the edges one by one: strides 1 to 3, symmetric and asymmetric pads, count_include_pad,
    ceil_mode; a 31-wide map (several groups of four and a remainder), batch 2, against onnx.reference."""
    nodes = [
        conv_node("x", "w0", "t", pads=[2] * 4, dilations=[2, 2]),
        helper.make_node(op, ["t"], ["p"], kernel_shape=[kernel] * 2, strides=[stride] * 2, pads=pads, **extra),
        conv_node("p", "w1", "y", pads=[2] * 4, dilations=[2, 2]),
    ]
    m = model(
        nodes,
        [tensor("x", TensorProto.FLOAT, [2, 32, 13, 31])],
        [tensor("y", TensorProto.FLOAT, None)],
        [weight("w0", 32, 32, 3, 3), weight("w1", 32, 32, 3, 3)],
    )
    feeds = {"x": RNG.standard_normal((2, 32, 13, 31)).astype(np.float32)}
    got, names = run_profiled(m, feeds, tmp_path=tmp_path)
    np.testing.assert_allclose(got[0], ReferenceEvaluator(m).run(None, feeds)[0], rtol=1e-4, atol=1e-4)
    if BLOCKED:
        assert reorders(names) == ["ReorderInput", "ReorderOutput"]


@pytest.mark.parametrize("z_shape", [(2, 32, 1, 1), (1, 32, 11, 13), (32, 1, 1)])
def test_residuals_of_another_shape_stay_nchw(tmp_path, z_shape):
    """A Conv + Add whose other input broadcasts (a [N, M, 1, 1] one, a batch of 1 against 2, a lower rank)
    fuses into FusedConv as before, but is not blocked: no reorder, Add's results."""
    m = model(
        [conv_node("x", "w", "c", pads=[2, 1, 0, 1]), helper.make_node("Add", ["c", "z"], ["y"])],
        [tensor("x", TensorProto.FLOAT, [2, 16, 11, 13]), tensor("z", TensorProto.FLOAT, list(z_shape))],
        [tensor("y", TensorProto.FLOAT, None)],
        [weight("w", 32, 16, 3, 3)],
    )
    feeds = {
        "x": RNG.standard_normal((2, 16, 11, 13)).astype(np.float32),
        "z": RNG.standard_normal(z_shape).astype(np.float32),
    }
    got, names = run_profiled(m, feeds, tmp_path=tmp_path)
    np.testing.assert_allclose(got[0], ReferenceEvaluator(m).run(None, feeds)[0], rtol=1e-4, atol=1e-4)
    assert reorders(names) == []


def test_first_layers_and_activations_after_the_kernel(tmp_path):
    """A first layer's 3 channels are read as NCHW into a blocked output (no ReorderInput for x), with a residual
    of the output's shape and LeakyRelu (applied after the blocked kernel, not in its registers), feeding a
    blocked 3x3; batch 2. Alone, the first layer stays NCHW: it is no faster blocked, and its output would
    only be reordered back."""
    first = [
        conv_node("x", "w", "c", pads=[3, 3, 3, 3], strides=[2, 2]),
        helper.make_node("Add", ["c", "z"], ["a"]),
        helper.make_node("LeakyRelu", ["a"], ["l"], alpha=0.3),
    ]
    feeds = {
        "x": RNG.standard_normal((2, 3, 23, 21)).astype(np.float32),
        "z": RNG.standard_normal((2, 32, 12, 11)).astype(np.float32),
    }
    inputs = [tensor("x", TensorProto.FLOAT, [2, 3, 23, 21]), tensor("z", TensorProto.FLOAT, [2, 32, 12, 11])]
    for nodes, want in [
        (first + [conv_node("l", "w2", "y", pads=[1, 1, 1, 1], strides=[2, 2])], ["ReorderInput", "ReorderOutput"]),
        (first + [helper.make_node("Identity", ["l"], ["y"])], []),
    ]:
        m = model(
            nodes,
            inputs,
            [tensor("y", TensorProto.FLOAT, None)],
            [weight("w", 32, 3, 7, 7), weight("w2", 32, 32, 3, 3)],
        )
        got, names = run_profiled(m, feeds, tmp_path=tmp_path)
        np.testing.assert_allclose(got[0], ReferenceEvaluator(m).run(None, feeds)[0], rtol=1e-4, atol=1e-4)
        if BLOCKED:
            assert reorders(names) == want  # z in, y out


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("batch", [1, 2])
def test_depthwise_chains_run_blocked(tmp_path, threads, batch):
    """A MobileNet-style chain (1x1 expansion with ReLU6, depthwise 3x3s with pads 1, with stride 2 and
    asymmetric pads, dilated, a 1x1 projection and a residual of the chain's input): blocked whole, one
    ReorderInput and one ReorderOutput, with a symbolic batch (the residual is known to have the output's
    shape through the input's batch); onnx.reference's results."""
    m, feeds = nchwc_depthwise_model(batch=batch)
    want = ReferenceEvaluator(m).run(None, feeds)[0]
    got, names = run_profiled(m, feeds, threads, tmp_path=tmp_path)
    plain, _ = run_profiled(m, feeds, threads, disabled=["NchwcTransformer"], tmp_path=tmp_path)
    np.testing.assert_allclose(got[0], want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got[0], plain[0], rtol=1e-4, atol=1e-4)
    if BLOCKED:
        assert reorders(names) == ["ReorderInput", "ReorderOutput"]


def test_depthwise_alone_and_other_groupings_stay_nchw(tmp_path):
    """A depthwise convolution with no other convolution in its region stays NCHW (its reorders would cost more
    than it gains), and so do grouped convolutions the blocked kernel does not run (two channels a group, a
    channel multiplier of 2, channels not a multiple of the block): no reorders, the reference's results."""
    x = RNG.standard_normal((1, 48, 9, 10)).astype(np.float32)
    cases = {
        "depthwise alone": ([("dw", 48, 1, 48)], 48),
        "two channels a group": ([("g2", 48, 2, 24), ("pw", 48, 48, 1)], 48),
        "multiplier 2": ([("m2", 96, 1, 48), ("pw", 48, 96, 1)], 48),
        "20 channels": ([("dw", 20, 1, 20), ("pw", 20, 20, 1)], 20),
    }
    for name, (convs, C) in cases.items():
        nodes, inits, cur = [], [], "x"
        for i, (kind, M, per_group, group) in enumerate(convs):
            k = 1 if kind == "pw" else 3
            inits.append(weight(f"w{i}", M, per_group, k, k))
            nodes.append(conv_node(cur, f"w{i}", f"c{i}", group=group, pads=[k // 2] * 4))
            cur = f"c{i}"
        nodes.append(helper.make_node("Relu", [cur], ["y"]))
        m = model(nodes, [tensor("x", TensorProto.FLOAT, [1, C, 9, 10])], [tensor("y", TensorProto.FLOAT, None)], inits)
        feeds = {"x": x[:, :C]}
        got, names = run_profiled(m, feeds, tmp_path=tmp_path)
        np.testing.assert_allclose(
            got[0], ReferenceEvaluator(m).run(None, feeds)[0], rtol=1e-4, atol=1e-4, err_msg=name
        )
        assert reorders(names) == [], name


def test_residual_of_another_input_with_a_symbolic_batch_stays_nchw(tmp_path):
    """Two graph inputs with the same symbolic batch name are not assumed to have one batch: a residual from
    the other input stays NCHW, and Add's broadcast of a batch of 1 against 2 holds."""
    m = model(
        [
            conv_node("x", "w", "c", pads=[1, 1, 1, 1], strides=[2, 2]),
            helper.make_node("Add", ["c", "z"], ["a"]),
            conv_node("a", "w2", "y", pads=[1, 1, 1, 1]),
        ],
        [tensor("x", TensorProto.FLOAT, ["batch", 16, 12, 10]), tensor("z", TensorProto.FLOAT, ["batch", 32, 6, 5])],
        [tensor("y", TensorProto.FLOAT, None)],
        [weight("w", 32, 16, 3, 3), weight("w2", 32, 32, 3, 3)],
    )
    feeds = {
        "x": RNG.standard_normal((2, 16, 12, 10)).astype(np.float32),
        "z": RNG.standard_normal((1, 32, 6, 5)).astype(np.float32),
    }
    got, names = run_profiled(m, feeds, tmp_path=tmp_path)
    np.testing.assert_allclose(got[0], ReferenceEvaluator(m).run(None, feeds)[0], rtol=1e-4, atol=1e-4)
    if BLOCKED:  # the first convolution (with its residual) NCHW, the second blocked between reorders
        assert reorders(names) == ["ReorderInput", "ReorderOutput"]


def test_saved_optimized_model_stays_portable(tmp_path):
    """optimized_model_filepath gets the graph before the layout level: no com.microsoft.nchwc operator (its
    blocks are this CPU's), and onnxruntime loads it and agrees."""
    ort = pytest.importorskip("onnxruntime")
    m, feeds = nchwc_chain_model(batch=1)
    opts = pionnx.SessionOptions()
    opts.optimized_model_filepath = str(tmp_path / "opt.onnx")
    got = pionnx.InferenceSession(m.SerializeToString(), opts).run(None, feeds)
    saved = onnx.load(str(tmp_path / "opt.onnx"))
    assert not [n for n in saved.graph.node if n.domain == "com.microsoft.nchwc"]
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    theirs = ort.InferenceSession(saved.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, feeds)
    for i, (g, t) in enumerate(zip(got, theirs)):
        np.testing.assert_allclose(g, t, rtol=1e-4, atol=1e-4, err_msg=f"output {i}")


def test_onnxruntime_nchwc_models_are_refused():
    """A model holding onnxruntime's com.microsoft.nchwc operators (its ORT_ENABLE_ALL output, weights blocked
    for the CPU it ran on) is refused with what to do instead, not run with misread weights."""
    m = model(
        [helper.make_node("Conv", ["x", "w"], ["y"], domain="com.microsoft.nchwc")],
        [tensor("x", TensorProto.FLOAT, [1, 16, 4, 4])],
        [tensor("y", TensorProto.FLOAT, None)],
        [weight("w", 16, 16, 1, 1)],
        extra_opsets=[("com.microsoft.nchwc", 1)],
    )
    with pytest.raises(pionnx.NotImplemented, match="NCHWc layout.*ORT_ENABLE_EXTENDED"):
        pionnx.InferenceSession(m.SerializeToString())
