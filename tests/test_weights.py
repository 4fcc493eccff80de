"""Weights that kernels prepare once per session (Conv's packed panels, the
recurrent kernels' transposed R) come only from constant initializers. A
weight that is fed, or an initializer a feed may override, can change from
run to run, and every run must use the values it is given."""

from __future__ import annotations

import numpy as np
import pytest
from models import model, tensor
from onnx import TensorProto, helper, numpy_helper

import pionnx

RNG = np.random.default_rng(11)


def conv_ref(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    n, c, h, wd = x.shape
    m, _, kh, kw = w.shape
    out = np.zeros((n, m, h - kh + 1, wd - kw + 1))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, :, i : i + h - kh + 1, j : j + wd - kw + 1].astype(np.float64)
            out += np.einsum("nchw,mc->nmhw", patch, w[:, :, i, j])
    return out


def conv_model(w_as_input: bool, w_as_initializer: bool, w: np.ndarray) -> bytes:
    inputs = [tensor("x", TensorProto.FLOAT, [1, 8, 12, 12])]
    if w_as_input:
        inputs.append(tensor("w", TensorProto.FLOAT, list(w.shape)))
    inits = [numpy_helper.from_array(w, "w")] if w_as_initializer else []
    m = model(
        [helper.make_node("Conv", ["x", "w"], ["y"])],
        inputs,
        [tensor("y", TensorProto.FLOAT, None)],
        initializers=inits,
    )
    return m.SerializeToString()


def nudged(w: np.ndarray) -> np.ndarray:
    """Same buffer size, a few values changed away from any sampled positions."""
    w2 = w.copy()
    flat = w2.reshape(-1)
    flat[1::97] += 3.0
    return w2


def test_fed_conv_weight_is_used_as_given_each_run():
    w = RNG.standard_normal((16, 8, 3, 3)).astype(np.float32)
    x = RNG.standard_normal((1, 8, 12, 12)).astype(np.float32)
    sess = pionnx.InferenceSession(conv_model(True, False, w))
    buf = w.copy()
    for _ in range(2):
        np.testing.assert_allclose(sess.run(None, {"x": x, "w": buf})[0], conv_ref(x, buf), rtol=1e-4, atol=1e-4)
        buf[...] = nudged(buf)  # same numpy buffer, new values


def test_overridable_conv_initializer_can_be_overridden():
    w = RNG.standard_normal((16, 8, 3, 3)).astype(np.float32)
    x = RNG.standard_normal((1, 8, 12, 12)).astype(np.float32)
    sess = pionnx.InferenceSession(conv_model(True, True, w))
    assert [i.name for i in sess.get_overridable_initializers()] == ["w"]
    np.testing.assert_allclose(sess.run(None, {"x": x})[0], conv_ref(x, w), rtol=1e-4, atol=1e-4)
    w2 = nudged(w)
    np.testing.assert_allclose(sess.run(None, {"x": x, "w": w2})[0], conv_ref(x, w2), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(sess.run(None, {"x": x})[0], conv_ref(x, w), rtol=1e-4, atol=1e-4)


def lstm_ref(x, w, r, hidden):
    h = np.zeros(hidden)
    c = np.zeros(hidden)
    ys = []
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    for t in range(x.shape[0]):
        g = x[t, 0].astype(np.float64) @ w[0].T + h @ r[0].T
        i, o, f, cc = np.split(g, 4)
        c = sig(f) * c + sig(i) * np.tanh(cc)
        h = sig(o) * np.tanh(c)
        ys.append(h)
    return np.array(ys)


@pytest.mark.parametrize("r_kind", ["constant", "fed", "overridable"])
def test_lstm_recurrence_weight_sources(r_kind):
    hidden, inp, seq = 32, 8, 5
    w = (RNG.standard_normal((1, 4 * hidden, inp)) * 0.3).astype(np.float32)
    r = (RNG.standard_normal((1, 4 * hidden, hidden)) * 0.3).astype(np.float32)
    inputs = [tensor("x", TensorProto.FLOAT, [seq, 1, inp])]
    inits = [numpy_helper.from_array(w, "w")]
    if r_kind in ("fed", "overridable"):
        inputs.append(tensor("r", TensorProto.FLOAT, list(r.shape)))
    if r_kind in ("constant", "overridable"):
        inits.append(numpy_helper.from_array(r, "r"))
    m = model(
        [helper.make_node("LSTM", ["x", "w", "r"], ["y"], hidden_size=hidden)],
        inputs,
        [tensor("y", TensorProto.FLOAT, None)],
        initializers=inits,
    )
    sess = pionnx.InferenceSession(m.SerializeToString())
    x = RNG.standard_normal((seq, 1, inp)).astype(np.float32)
    feeds = {"x": x} if r_kind == "constant" else {"x": x, "r": r}
    for _ in range(2):
        np.testing.assert_allclose(sess.run(None, feeds)[0][:, 0, 0], lstm_ref(x, w, r, hidden), rtol=1e-4, atol=1e-5)
    if r_kind != "constant":
        r2 = (r * -0.5).astype(np.float32)
        got = sess.run(None, {"x": x, "r": r2})[0][:, 0, 0]
        np.testing.assert_allclose(got, lstm_ref(x, w, r2, hidden), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cell", ["RNN", "GRU", "GRU-linear-before-reset", "LSTM"])
@pytest.mark.parametrize("threads", [1, 2])
def test_recurrent_cells_match_the_reference_on_odd_sizes(cell, threads):
    """The cached R^T is laid out in panels of gate columns (one batch row) and R and W are packed once
    for the SGEMM (several rows); hidden sizes that leave a partial panel (gates x 37 and x 70
    columns), batches of 1 and 3, R constant or fed (never cached), and 1 or 2 threads give
    onnx.reference's outputs (which implement the forward direction only)."""
    from onnx.reference import ReferenceEvaluator

    op = cell.split("-")[0]
    gates = {"RNN": 1, "GRU": 3, "LSTM": 4}[op]
    for hidden, batch, r_fed in ((37, 3, False), (70, 3, False), (37, 1, False), (70, 1, True), (37, 3, True)):
        inp, seq = 11, 4
        w = (RNG.standard_normal((1, gates * hidden, inp)) * 0.3).astype(np.float32)
        r = (RNG.standard_normal((1, gates * hidden, hidden)) * 0.3).astype(np.float32)
        b = (RNG.standard_normal((1, 2 * gates * hidden)) * 0.1).astype(np.float32)
        attrs = {"hidden_size": hidden}
        if cell == "GRU-linear-before-reset":
            attrs["linear_before_reset"] = 1
        inputs = [tensor("x", TensorProto.FLOAT, [seq, batch, inp])]
        inits = [numpy_helper.from_array(a, n) for a, n in ((w, "w"), (b, "b"))]
        if r_fed:
            inputs.append(tensor("r", TensorProto.FLOAT, list(r.shape)))
        else:
            inits.append(numpy_helper.from_array(r, "r"))
        m = model(
            [helper.make_node(op, ["x", "w", "r", "b"], ["y", "yh"], **attrs)],
            inputs,
            [tensor("y", TensorProto.FLOAT, None), tensor("yh", TensorProto.FLOAT, None)],
            initializers=inits,
        )
        x = RNG.standard_normal((seq, batch, inp)).astype(np.float32)
        feeds = {"x": x, "r": r} if r_fed else {"x": x}
        opts = pionnx.SessionOptions()
        opts.intra_op_num_threads = threads
        sess = pionnx.InferenceSession(m.SerializeToString(), opts)
        want = ReferenceEvaluator(m).run(None, feeds)
        for _ in range(2):  # the second run reads what the first packed
            for g, ref in zip(sess.run(None, feeds), want):
                np.testing.assert_allclose(g, ref, rtol=1e-4, atol=1e-5, err_msg=f"hidden {hidden} batch {batch}")


@pytest.mark.parametrize("b_kind", ["constant", "fed", "overridable"])
@pytest.mark.parametrize("threads", [1, 2])
def test_matmul_with_a_packed_constant_b(b_kind, threads):
    """MatMul packs a constant float B once per session when A has many rows: odd N (a partial panel),
    a depth over two blocks, A with batch dims, 1 or 2 threads, and a fed or overridable B that is
    never cached (new values each run) all give numpy's product."""
    for m_rows, k, n in ((3 * 50, 777, 67), (2 * 8, 40, 200)):
        batch, rows = (3, 50) if m_rows == 150 else (2, 8)
        b = RNG.standard_normal((k, n)).astype(np.float32)
        inputs = [tensor("a", TensorProto.FLOAT, [batch, rows, k])]
        inits = []
        if b_kind in ("fed", "overridable"):
            inputs.append(tensor("b", TensorProto.FLOAT, [k, n]))
        if b_kind in ("constant", "overridable"):
            inits.append(numpy_helper.from_array(b, "b"))
        m = model(
            [helper.make_node("MatMul", ["a", "b"], ["y"])], inputs, [tensor("y", TensorProto.FLOAT, None)], inits
        )
        opts = pionnx.SessionOptions()
        opts.intra_op_num_threads = threads
        sess = pionnx.InferenceSession(m.SerializeToString(), opts)
        for step in range(2):
            a = RNG.standard_normal((batch, rows, k)).astype(np.float32)
            bb = b if b_kind == "constant" or step == 0 else (b * -0.5).astype(np.float32)
            feeds = {"a": a} if b_kind == "constant" else {"a": a, "b": bb}
            want = (a.astype(np.float64) @ bb.astype(np.float64)).astype(np.float32)
            np.testing.assert_allclose(sess.run(None, feeds)[0], want, rtol=1e-4, atol=1e-3)


def conv_against_reference(x_shape, w, b, threads=None, relu=False, act=None, **attrs):
    """pionnx's and onnx.reference's outputs of Conv(x, w, b) (then Relu, or the activation `act`: "Relu",
    "Clip" (to [-0.5, 0.7], which the optimizer fuses into the Conv) or "LeakyRelu"), w and b (when not
    None) constant initializers, on a random x."""
    from onnx.reference import ReferenceEvaluator

    act = "Relu" if relu else act
    inits = [numpy_helper.from_array(w, "w")]
    if b is not None:
        inits.append(numpy_helper.from_array(b, "b"))
    nodes = [helper.make_node("Conv", ["x", "w"] + (["b"] if b is not None else []), ["c" if act else "y"], **attrs)]
    if act == "Clip":
        inits += [numpy_helper.from_array(np.float32(-0.5), "lo"), numpy_helper.from_array(np.float32(0.7), "hi")]
        nodes.append(helper.make_node("Clip", ["c", "lo", "hi"], ["y"]))
    elif act:
        nodes.append(helper.make_node(act, ["c"], ["y"]))
    m = model(nodes, [tensor("x", TensorProto.FLOAT, list(x_shape))], [tensor("y", TensorProto.FLOAT, None)], inits)
    x = RNG.standard_normal(x_shape).astype(np.float32)
    opts = pionnx.SessionOptions()
    if threads is not None:
        opts.intra_op_num_threads = threads
    got = pionnx.InferenceSession(m.SerializeToString(), opts).run(None, {"x": x})[0]
    return got, ReferenceEvaluator(m).run(None, {"x": x})[0]


def assert_conv_matches_reference(spatial, channels, m_out, kernel, threads, with_bias, group=None, **attrs):
    """conv_against_reference on batch 2 of `spatial` maps with random weights of `kernel` (and a random bias
    when with_bias; `group` set on the node when given): same shape, and within 1e-4."""
    w = RNG.standard_normal((m_out, channels // (group or 1), *kernel)).astype(np.float32)
    b = RNG.standard_normal((m_out,)).astype(np.float32) if with_bias else None
    if group is not None:
        attrs["group"] = group
    got, want = conv_against_reference((2, channels, *spatial), w, b, threads, **attrs)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=f"bias {with_bias}")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("act", [None, "Relu", "Clip", "LeakyRelu"])
@pytest.mark.parametrize(
    ("spatial", "channels", "m_out"),
    [((7, 7), 40, 96), ((3, 3), 24, 33), ((5, 9), 17, 64), ((9,), 32, 50), ((14, 14), 24, 70)],
)
def test_pointwise_conv_on_small_maps_matches_the_reference(spatial, channels, m_out, act, threads):
    """1x1 convolutions over a few positions (14x14 and smaller maps, a 1-D one) run as the transposed product
    W^T-packed (conv.cc's conv_transposed, where the tile padding it saves is large enough), with or
    without a bias and each kind of fused activation (Relu and Clip applied as the transposition stores,
    LeakyRelu in a pass after), batch 2, against onnx.reference. cpu_matrix runs it on every SGEMM
    path (each has its own tile, so its own choice of path)."""
    for with_bias in (True, False):
        assert_conv_matches_reference(spatial, channels, m_out, (1,) * len(spatial), threads, with_bias, act=act)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("act", [None, "Relu", "Clip", "LeakyRelu"])
@pytest.mark.parametrize(
    ("spatial", "channels", "m_out", "group"),
    [((48, 50), 16, 24, 1), ((46, 45), 32, 7, 1), ((64, 40), 1, 13, 1), ((50, 50), 3, 96, 1), ((45, 48), 24, 40, 2)],
)
def test_pointwise_conv_on_large_maps_reads_its_planes_in_place(spatial, channels, m_out, group, act, threads):
    """1x1 convolutions of up to 32 input channels per group over 2048 positions or more read the input
    planes in place (conv.cc: row k of the product's B is plane k, no panels packed): output channels
    off the micro-kernel's rows, widths off its columns (the last tile overlaps the one before), one and
    three input channels, two groups, with or without a bias, each fused activation, batch 2, 1 and 2
    threads, against onnx.reference."""
    for with_bias in (True, False):
        assert_conv_matches_reference(spatial, channels, m_out, (1, 1), threads, with_bias, group, act=act)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("act", [None, "Relu", "LeakyRelu"])
@pytest.mark.parametrize(
    ("x_spatial", "kernel", "strides", "pads", "channels", "m_out"),
    [
        ((7, 7), (3, 3), (1, 1), (1, 1, 1, 1), 24, 40),
        ((14, 14), (3, 3), (2, 2), (1, 1, 1, 1), 16, 64),
        ((7, 7), (5, 5), (1, 1), (2, 1, 2, 3), 8, 33),
        ((6, 8), (3, 1), (1, 1), (0, 0, 2, 0), 12, 48),
        ((9,), (3,), (1,), (1, 1), 20, 32),
    ],
)
def test_conv_on_small_maps_runs_transposed(x_spatial, kernel, strides, pads, channels, m_out, act, threads):
    """Convolutions with a window over few output positions (7x7 and smaller) run transposed too: the
    im2col matrix against W^T packed once (conv.cc's conv_transposed): 3x3 and 5x5 kernels, stride 2,
    asymmetric pads, a 1-D one, with or without a bias, batch 2, against onnx.reference."""
    for with_bias in (True, False):
        assert_conv_matches_reference(
            x_spatial,
            channels,
            m_out,
            kernel,
            threads,
            with_bias,
            act=act,
            kernel_shape=list(kernel),
            strides=list(strides),
            pads=list(pads),
        )


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(
    ("x_spatial", "kernel", "strides", "pads", "channels", "m_out"),
    [
        ((56, 56), (3, 3), (2, 2), (1, 1, 1, 1), 20, 24),  # 28 wide: every 32- or 16-column panel spans two rows
        ((40, 37), (3, 3), (2, 2), (0, 1, 1, 0), 24, 17),  # 19 wide, odd height, asymmetric pads
        ((44, 44), (5, 5), (1, 1), (2, 2, 2, 2), 20, 40),  # 44 wide at stride 1 (5x5: no Winograd)
        ((30, 23), (5, 3), (1, 1), (2, 1, 2, 1), 18, 9),  # 23 wide, a panel over up to three rows of a short map
        ((52, 36), (3, 3), (2, 1), (1, 1, 1, 1), 20, 16),  # strides 2 (rows) and 1 (columns)
    ],
)
def test_conv_panels_across_output_rows_match_the_reference(x_spatial, kernel, strides, pads, channels, m_out, threads):
    """More than 16 input channels over maps wider than 14 are packed into SGEMM panels from the padded
    input (conv.cc's pack_padded_panels); a panel that spans output rows is copied row run by row run at
    the column stride (1 or 2): the runs' boundaries, widths off the panel width and both strides, with a
    bias and Relu, batch 2, 1 and 2 threads, against onnx.reference. cpu_matrix runs it on every SGEMM
    path (panel widths 32, 16 and the portable one)."""
    assert_conv_matches_reference(
        x_spatial,
        channels,
        m_out,
        kernel,
        threads,
        True,
        relu=True,
        kernel_shape=list(kernel),
        strides=list(strides),
        pads=list(pads),
    )


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("act", [None, "Relu", "LeakyRelu"])
@pytest.mark.parametrize(
    ("x_spatial", "strides", "channels", "m_out", "group"),
    [
        ((56, 56), (2, 2), 40, 64, 1),  # ResNet's downsampling shortcut, scaled down
        ((29, 31), (2, 2), 24, 48, 1),  # odd sizes: the last row and column of the input unread
        ((28, 30), (2, 1), 16, 33, 1),  # strided in one dimension only
        ((27, 27), (3, 3), 20, 40, 2),  # stride 3, two groups
        ((14, 14), (2, 2), 64, 96, 1),  # a 7x7 output: the transposed product, its im2col the subsample
        ((61,), (2,), 24, 40, 1),  # 1-D
    ],
)
def test_strided_pointwise_conv_matches_the_reference(x_spatial, strides, channels, m_out, group, act, threads):
    """A 1x1 convolution with a stride and no padding runs as a pointwise one on the positions it reads
    (conv.cc's subsample), or over a small output transposed as before: strides 2 and 3, one dimension
    strided, odd input sizes, two groups, a 7x7 output, 1-D, with or without a bias, each kind of
    activation, batch 2, 1 and 2 threads, against onnx.reference."""
    for with_bias in (True, False):
        assert_conv_matches_reference(
            x_spatial, channels, m_out, (1,) * len(x_spatial), threads, with_bias, group, act=act, strides=list(strides)
        )


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("dilation", [1, 2])
def test_depthwise_conv_matches_the_reference(stride, dilation):
    """Depthwise 3x3 convolutions (group = channels), the depthwise family's row kernels: widths around
    the 8-output vector blocks (the stride-2 kernel's block reads 18 inputs), pads, dilation, against
    onnx.reference. cpu_matrix runs this on every depthwise path."""
    for width in (5, 8, 9, 16, 17, 18, 19, 33, 40):
        c = 3
        w = RNG.standard_normal((c, 1, 3, 3)).astype(np.float32)
        b = RNG.standard_normal((c,)).astype(np.float32)
        got, want = conv_against_reference(
            (1, c, 11, width),
            w,
            b,
            group=c,
            kernel_shape=[3, 3],
            strides=[stride, stride],
            dilations=[dilation, dilation],
            pads=[1, 1, 1, 1],
        )
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=f"width {width}")


@pytest.mark.parametrize("channels", [5, 13])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("act", [None, "Relu", "Clip", "LeakyRelu"])
@pytest.mark.parametrize(
    ("strides", "pads"),
    [([1, 1], [1, 1, 1, 1]), ([2, 2], [1, 1, 1, 1]), ([2, 2], [0, 0, 1, 1]), ([1, 2], [2, 0, 1, 2]), ([2, 1], [0] * 4)],
)
def test_depthwise_conv_on_padded_planes_matches_the_reference(strides, pads, act, threads, channels):
    """Depthwise 3x3 convolutions with pads up to 2 copy each plane into a zero-padded one (its border
    written once per thread) and run the row kernel over whole rows rounded up to 8 outputs, the extra
    outputs landing on the next rows or, at the plane's end, in a scratch row (conv.cc's depthwise_plane);
    with 13 channels, outputs up to 128 wide (64 at stride 2) run 8 channels interleaved
    (simd::depthwise3x3_c8, on AVX2 and AVX-512) and the other 5 on the rows: odd and even sizes from 1 to 56 a side, rows narrower than one vector
    (the extra outputs then cross several rows), each stride and asymmetric pads up to 2 on either side,
    bias and a fused activation (Relu and Clip applied in the eight-channel kernel's registers, LeakyRelu
    in a pass after), 2 images over 1 and 2 threads (no plane may write into another's), against
    onnx.reference."""
    sizes = ((7, 7), (14, 14), (5, 9), (28, 28), (3, 4), (33, 30), (1, 1), (9, 1), (2, 3), (56, 56), (41, 23))
    for height, width in sizes:
        if height + pads[0] + pads[2] < 3 or width + pads[1] + pads[3] < 3:
            continue  # no window fits
        c = channels
        w = RNG.standard_normal((c, 1, 3, 3)).astype(np.float32)
        b = RNG.standard_normal((c,)).astype(np.float32)
        got, want = conv_against_reference(
            (2, c, height, width),
            w,
            b,
            threads=threads,
            act=act,
            group=c,
            kernel_shape=[3, 3],
            strides=strides,
            pads=pads,
        )
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=f"{height}x{width}")


RESIDUAL_CONVS = {
    # name: (x shape, W shape, attributes); each reaches a different path of conv.cc
    "im2col": ((1, 20, 9, 11), (8, 20, 3, 3), {"pads": [1] * 4, "strides": [2, 2]}),
    "direct": ((2, 3, 9, 21), (8, 3, 3, 3), {"pads": [1] * 4, "strides": [2, 2]}),
    "pointwise": ((2, 16, 10, 13), (24, 16, 1, 1), {}),
    "pointwise-in-place": ((2, 16, 40, 52), (24, 16, 1, 1), {}),
    "transposed": ((1, 32, 7, 7), (64, 32, 1, 1), {}),
    "winograd": ((1, 16, 16, 16), (48, 16, 3, 3), {"pads": [1] * 4}),
    "depthwise": ((2, 6, 9, 9), (6, 1, 3, 3), {"pads": [1] * 4, "group": 6}),
    "depthwise-c8": ((2, 19, 9, 9), (19, 1, 3, 3), {"pads": [1] * 4, "group": 19, "strides": [2, 2]}),
    "grouped": ((1, 8, 6, 6), (12, 4, 3, 3), {"pads": [1] * 4, "group": 2}),
    "1d": ((1, 5, 20), (7, 5, 3), {"pads": [1, 1]}),
}


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("act", [None, "Relu", "Clip", "LeakyRelu"])
@pytest.mark.parametrize("path", list(RESIDUAL_CONVS))
def test_conv_add_activation_matches_the_reference(path, act, threads):
    """A Conv whose output only an Add of another tensor reads, maybe then an activation (a residual
    block's end), runs as one com.microsoft FusedConv with that tensor as Z, added after the bias and
    before the activation in each path's epilogue (the SGEMM's registers for None/Relu/Clip, its block
    function for the others, the depthwise plane, Winograd's and the transposed path's finish): every
    conv.cc path, against onnx.reference."""
    from onnx.reference import ReferenceEvaluator

    x_shape, w_shape, attrs = RESIDUAL_CONVS[path]
    # Scaled by the fan-in, so the outputs are O(1) and an absolute tolerance fits every path (Winograd's
    # rounding grows with the products' size).
    w = (RNG.standard_normal(w_shape) / np.sqrt(np.prod(w_shape[1:]))).astype(np.float32)
    b = RNG.standard_normal(w_shape[0]).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")]
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], **attrs),
        helper.make_node("Add", ["z", "c"], ["s" if act else "y"]),
    ]
    if act == "Clip":
        inits += [numpy_helper.from_array(np.float32(-0.5), "lo"), numpy_helper.from_array(np.float32(0.7), "hi")]
        nodes.append(helper.make_node("Clip", ["s", "lo", "hi"], ["y"]))
    elif act:
        nodes.append(helper.make_node(act, ["s"], ["y"]))
    ref_conv = ReferenceEvaluator(
        model(
            [nodes[0]], [tensor("x", TensorProto.FLOAT, list(x_shape))], [tensor("c", TensorProto.FLOAT, None)], inits
        )
    )
    x = RNG.standard_normal(x_shape).astype(np.float32)
    z = RNG.standard_normal(ref_conv.run(None, {"x": x})[0].shape).astype(np.float32)
    m = model(
        nodes,
        [tensor("x", TensorProto.FLOAT, list(x_shape)), tensor("z", TensorProto.FLOAT, list(z.shape))],
        [tensor("y", TensorProto.FLOAT, None)],
        inits,
    )
    opts = pionnx.SessionOptions()
    opts.intra_op_num_threads = threads
    sess = pionnx.InferenceSession(m.SerializeToString(), opts)
    got = sess.run(None, {"x": x, "z": z})[0]
    assert sess.get_profile()["nodes_executed"] == 1, "Conv + Add (+ activation) did not fuse"
    want = ReferenceEvaluator(m).run(None, {"x": x, "z": z})[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("z_shape", [(1, 8, 1, 1), (8, 5, 6), (3, 8, 5, 6), (1,)])
def test_conv_add_with_a_broadcast_residual_matches_the_reference(z_shape):
    """The fused Conv + Add keeps Add's broadcasting: a Z smaller than the output, or one that makes the
    output larger (a batch of 3 from the Conv's 1), gives Add's result and shape."""
    got, want = conv_residual_pair((1, 3, 5, 6), (8, 3, 3, 3), z_shape, pads=[1] * 4)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def conv_residual_pair(x_shape, w_shape, z_shape, **attrs):
    """pionnx's and onnx.reference's Relu(Conv(x) + z) on random inputs."""
    from onnx.reference import ReferenceEvaluator

    w = RNG.standard_normal(w_shape).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], **attrs),
        helper.make_node("Add", ["c", "z"], ["s"]),
        helper.make_node("Relu", ["s"], ["y"]),
    ]
    m = model(
        nodes,
        [tensor("x", TensorProto.FLOAT, list(x_shape)), tensor("z", TensorProto.FLOAT, list(z_shape))],
        [tensor("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "w")],
    )
    feeds = {"x": RNG.standard_normal(x_shape).astype(np.float32), "z": RNG.standard_normal(z_shape).astype(np.float32)}
    return pionnx.InferenceSession(m.SerializeToString()).run(None, feeds)[0], ReferenceEvaluator(m).run(None, feeds)[0]


def test_fused_conv_with_z_as_onnxruntime_writes_it():
    """com.microsoft FusedConv(X, W, B, Z) with activation="Relu", as onnxruntime's optimizer saves it:
    Relu(Conv(X, W) + B + Z); a float64 Z is refused by name."""
    w = RNG.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = RNG.standard_normal(4).astype(np.float32)
    x = RNG.standard_normal((1, 3, 6, 6)).astype(np.float32)
    z = RNG.standard_normal((1, 4, 6, 6)).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")]

    def fused(z_type):
        node = helper.make_node(
            "FusedConv", ["x", "w", "b", "z"], ["y"], domain="com.microsoft", pads=[1] * 4, activation="Relu"
        )
        m = model(
            [node],
            [tensor("x", TensorProto.FLOAT, [1, 3, 6, 6]), tensor("z", z_type, [1, 4, 6, 6])],
            [tensor("y", TensorProto.FLOAT, None)],
            inits,
        )
        m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
        return pionnx.InferenceSession(m.SerializeToString())

    conv = model(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1] * 4)],
        [tensor("x", TensorProto.FLOAT, [1, 3, 6, 6])],
        [tensor("y", TensorProto.FLOAT, None)],
        inits,
    )
    from onnx.reference import ReferenceEvaluator

    want = np.maximum(ReferenceEvaluator(conv).run(None, {"x": x})[0] + z, 0)
    np.testing.assert_allclose(fused(TensorProto.FLOAT).run(None, {"x": x, "z": z})[0], want, rtol=1e-5, atol=1e-5)
    with pytest.raises(pionnx.NotImplemented, match="Z input is supported for float32 only"):
        fused(TensorProto.DOUBLE).run(None, {"x": x, "z": z.astype(np.float64)})


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(
    ("kernel", "stride", "dilation", "pads"),
    [
        (3, 1, 1, [1] * 4),
        (3, 2, 1, [1] * 4),
        (3, 1, 2, [2] * 4),
        (5, 2, 1, [0] * 4),
        (1, 2, 1, [0] * 4),
        (7, 2, 1, [3] * 4),
        (3, 1, 1, [0] * 4),
        (3, 2, 1, [2, 0, 1, 3]),  # asymmetric: the padded copy's rows and columns differ per side
        (3, 1, 2, [0, 3, 4, 1]),
        (5, 1, 1, [4, 4, 0, 0]),
        (3, 1, 1, [9, 0, 0, 9]),  # wider than the window reaches: the row-by-row packer instead
        (2, 3, 1, [0, 0, 1, 1]),  # stride past the window: padded columns no window reads
    ],
)
def test_conv_with_constant_weights_matches_the_reference(kernel, stride, dilation, pads, threads):
    """A constant-weight Conv with up to 16 input channels has the SGEMM read its input in place (conv.cc's
    direct path, from a zero-padded copy split by column phase); with more (17 here) it unfolds its input
    straight into the SGEMM's panels (padded_im2col_packer, from a zero-padded copy of the input holding only
    what some window reads, for any mix of pads per side); both take im2col_packer where the pads are wider
    than the window reaches:
    output widths around the 8/12/16/32-column panels and the 256-column sub-blocks, rows that cross a
    panel, the image edges' zeros, strides and dilations, 1 and 2 threads (each thread packs its own
    columns) -- against onnx.reference. cpu_matrix runs it on every SGEMM path (each has its own panel
    width)."""
    for width, height, channels in ((7, 5, 3), (13, 9, 4), (17, 6, 5), (40, 9, 3), (70, 8, 2), (19, 7, 17)):
        m_out = 5
        w = RNG.standard_normal((m_out, channels, kernel, kernel)).astype(np.float32)
        b = RNG.standard_normal((m_out,)).astype(np.float32)
        if (height + pads[0] + pads[2] - dilation * (kernel - 1) - 1) < 0:
            continue
        got, want = conv_against_reference(
            (2, channels, height, width),
            w,
            b,
            threads,
            kernel_shape=[kernel, kernel],
            strides=[stride, stride],
            dilations=[dilation, dilation],
            pads=pads,
        )
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=f"{width}x{height}x{channels}")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("act", [None, "Relu", "Clip", "LeakyRelu"])
@pytest.mark.parametrize(
    ("channels", "m_out", "kernel", "stride", "dilation", "pads", "height", "width"),
    [
        (3, 64, 3, 2, 1, [0] * 4, 23, 47),  # SqueezeNet's first layer, smaller: 23 outputs wide
        (3, 13, 3, 1, 1, [1] * 4, 12, 16),  # a whole 16-column tile; 13 channels: bands of 6, 6 and 1
        (3, 7, 3, 1, 1, [1] * 4, 9, 37),  # 37 wide: the last tile overlaps the one before it
        (2, 5, 3, 2, 1, [1] * 4, 14, 17),  # 9 wide: one partial tile per row
        (4, 7, 5, 2, 2, [3, 1, 2, 4], 31, 40),  # dilated, asymmetric pads
        (1, 6, 7, 3, 1, [2, 3, 1, 0], 30, 50),  # stride 3: three column phases; one channel
        (8, 16, 11, 4, 1, [0] * 4, 47, 61),  # AlexNet's window and stride
        (16, 20, 3, 2, 1, [1] * 4, 33, 33),  # 16 channels, the most it is taken for
        (16, 24, 5, 1, 1, [2] * 4, 12, 75),  # 400 taps: 75-wide rows in column blocks of 16, 16, 16 and 27
    ],
)
def test_direct_conv_matches_the_reference(
    channels, m_out, kernel, stride, dilation, pads, height, width, act, threads
):
    """Convolutions with few input channels (conv.cc's direct_applies) have the SGEMM read the input in place,
    split by column phase (sgemm_prepacked_shifted): output widths under, at and past a tile, channel bands
    with 1 to 6 rows, strides 1 to 4, dilation, pads per side, with and without a bias, each kind of fused
    activation (None/Relu/Clip in the micro-kernel's registers, LeakyRelu by the row epilogue), batch 2, 1 and
    2 threads, against onnx.reference. PIONNX_CONV=im2col (cpu_matrix's first rung) and the SGEMM paths
    without an in-place kernel run the same cases through packed panels."""
    for with_bias in (True, False):
        w = (RNG.standard_normal((m_out, channels, kernel, kernel)) / np.sqrt(channels * kernel * kernel)).astype(
            np.float32
        )
        b = RNG.standard_normal((m_out,)).astype(np.float32) if with_bias else None
        got, want = conv_against_reference(
            (2, channels, height, width),
            w,
            b,
            threads,
            act=act,
            kernel_shape=[kernel, kernel],
            strides=[stride, stride],
            dilations=[dilation, dilation],
            pads=pads,
        )
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=f"bias={with_bias}")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(
    ("channels", "m_out", "height", "width", "pads"),
    [
        (32, 32, 28, 28, 1),  # 7x7 whole tiles
        (40, 36, 27, 30, 1),  # partial tiles at the right and bottom edges
        (33, 48, 26, 29, 2),  # wide pads: tiles in the padding
        (256, 256, 14, 14, 1),  # 16 tiles: the fewest it is taken for
        # 16 tiles with 32-column panels (AVX-512): the products transposed (winograd_transposed), channel
        # counts that leave a partial group of four, clipped tiles at the edges
        (64, 70, 13, 13, 1),
        (48, 66, 13, 15, 1),
        (16, 48, 58, 61, 1),  # 16 channels, the fewest it is taken for (with over 32 outputs); 15x16 tiles
        (512, 40, 48, 48, 1),  # 144 tiles in two blocks (112 + 32): the Relu once both are done
    ],
)
def test_winograd_conv_matches_the_reference(channels, m_out, height, width, pads, threads):
    """3x3 stride-1 convolutions with enough channels and tiles take the Winograd path (conv_winograd.cc;
    winograd_applies says which, winograd_tile whether F(4x4, 3x3) or, on 13-16 wide maps with AVX-512's
    panels, F(2x2, 3x3)), with a bias and a fused Relu; against onnx.reference. Winograd rounds differently
    from a direct sum (F(4x4)'s transforms scale values by up to 8 and 1/24): the error is checked relative
    to the output's largest value, as the conformance suite's tolerances would see it. PIONNX_CONV=im2col
    (cpu_matrix) forces the im2col GEMM instead; test_every_winograd_tile_matches_the_reference forces each
    tile."""
    w = RNG.standard_normal((m_out, channels, 3, 3)).astype(np.float32)
    b = RNG.standard_normal((m_out,)).astype(np.float32)
    got, want = conv_against_reference(
        (2, channels, height, width), w, b, threads, relu=True, kernel_shape=[3, 3], pads=[pads] * 4
    )
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=5e-5 * np.abs(want).max())


WINOGRAD_CASES = [
    (32, 32, 28, 28, 1),
    (40, 36, 27, 30, 1),
    (33, 48, 26, 29, 2),
    (256, 256, 14, 14, 1),
    (64, 70, 13, 13, 1),
    (48, 66, 13, 15, 1),
    (16, 48, 58, 61, 1),
    (512, 40, 48, 48, 1),
    (24, 40, 16, 16, 0),  # 16x16 input, no padding: 14x14 outputs
]

_WINOGRAD_RUNNER = r"""
import sys, numpy as np, pionnx
models, feeds, out = sys.argv[1], sys.argv[2], sys.argv[3]
x = np.load(feeds)
ys = {}
for i, path in enumerate(models.split(",")):
    for threads in (1, 2):
        o = pionnx.SessionOptions()
        o.intra_op_num_threads = threads
        ys[f"{i}_{threads}"] = pionnx.InferenceSession(path, o).run(None, {"x": x[str(i)]})[0]
np.savez(out, **ys)
"""


@pytest.mark.parametrize("tile", ["2", "4"])
def test_every_winograd_tile_matches_the_reference(tile, tmp_path):
    """PIONNX_WINOGRAD_TILE=2 or 4 forces F(2x2, 3x3) or F(4x4, 3x3) on every Winograd convolution (read once
    per process: one child process each), so every CPU runs both whatever its rule picks: whole and partial
    tiles, tiles in the padding, transposed and plain products, several tile blocks, 1 and 2 threads, with a
    bias and a fused Relu, against onnx.reference."""
    import os
    import subprocess
    import sys

    from onnx.reference import ReferenceEvaluator

    paths, feeds, wants = [], {}, []
    for i, (channels, m_out, height, width, pads) in enumerate(WINOGRAD_CASES):
        w = RNG.standard_normal((m_out, channels, 3, 3)).astype(np.float32)
        b = RNG.standard_normal((m_out,)).astype(np.float32)
        nodes = [
            helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[pads] * 4),
            helper.make_node("Relu", ["c"], ["y"]),
        ]
        x_shape = [2, channels, height, width]
        m = model(
            nodes,
            [tensor("x", TensorProto.FLOAT, x_shape)],
            [tensor("y", TensorProto.FLOAT, None)],
            [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
        )
        path = tmp_path / f"conv{i}.onnx"
        path.write_bytes(m.SerializeToString())
        paths.append(str(path))
        feeds[str(i)] = RNG.standard_normal(x_shape).astype(np.float32)
        wants.append(ReferenceEvaluator(m).run(None, {"x": feeds[str(i)]})[0])
    np.savez(tmp_path / "x.npz", **feeds)
    subprocess.run(
        [sys.executable, "-c", _WINOGRAD_RUNNER, ",".join(paths), str(tmp_path / "x.npz"), str(tmp_path / "y.npz")],
        env={**os.environ, "PIONNX_WINOGRAD_TILE": tile},
        check=True,
    )
    with np.load(tmp_path / "y.npz") as got:
        for i, want in enumerate(wants):
            for threads in (1, 2):
                np.testing.assert_allclose(
                    got[f"{i}_{threads}"],
                    want,
                    rtol=0,
                    atol=5e-5 * np.abs(want).max(),
                    err_msg=f"case {WINOGRAD_CASES[i]}, {threads} thread(s), tile {tile}",
                )
