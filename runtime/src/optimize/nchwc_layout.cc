// onnxruntime's NchwcTransformer, the layout level (ORT_ENABLE_ALL): float 2-D convolutions of one group whose input
// and output channel counts are multiples of the NCHWc block (simd::nchwc_block(): 16 on AVX-512, 8 on AVX2, 4 on NEON;
// none on the generic path, and the pass does nothing), or whose input has fewer channels than a block (a first layer's
// image, read as NCHW), become com.microsoft.nchwc Conv, reading and writing channels in blocks
// (kernels/simd/conv_nchwc.h). Output channels that are not a multiple of the block are padded by the kernel (zero
// filters, at most a quarter more: a classifier's 1000 as 1008), as onnxruntime's transformer pads them; such an output
// is only reordered back (ReorderOutput's `channels` drops the padding), never read blocked: SqueezeNet's last
// convolution, 2.0 -> 1.7 ms. Between two of them a tensor stays blocked: through 2-D max and average pools
// (com.microsoft.nchwc MaxPool, AveragePool), elementwise activations, elementwise operators of two blocked inputs of
// one known shape, and a channel Concat of blocked inputs (the last three run unchanged: their results do not depend on
// where an element sits), and an inference BatchNormalization of a blocked input runs as a blocked depthwise 1x1
// convolution (with a Relu that alone reads it as its activation). A global pool of a blocked tensor writes [N, C, 1,
// 1], whose blocked and NCHW orders are the same. ReorderInput goes before the first blocked reader of an NCHW tensor,
// ReorderOutput before the first NCHW reader of a blocked one (and for graph outputs and values a subgraph reads), so
// the model's inputs, outputs and every other node see NCHW as before.
//
// Not every such convolution is worth its reorders. Where the input's shape
// is known (graph inputs and value_info, carried through the operators
// below), a 3x3 stride-1 convolution that conv.cc runs by Winograd stays
// NCHW: Winograd beats the direct blocked kernel by more than the reorders
// around it cost. And a region of blocked nodes (joined by blocked tensors)
// whose only convolutions are 1x1 ones or read an NCHW image stays NCHW: a
// 1x1 convolution runs about as fast either way, a first layer's no faster,
// and the reorders at the region's ends would be extra (VGG-19's first
// layer, whose 64 x 224 x 224 output took 1.6 ms to reorder). Depthwise
// convolutions (one channel a group, channels a multiple of the block) are
// blocked too, so MobileNet-style chains of 1x1 expansions, depthwise 3x3s
// and 1x1 projections are one region. A FusedConv's
// residual is blocked only where it is known to have the output's shape
// (Add broadcasts; the blocked kernel adds Z of its own shape only).
//
// The session runs this pass after writing `optimized_model_filepath`: the
// blocked graph depends on this CPU's block size (onnxruntime's own layout
// level is likewise hardware-specific), and the file keeps the portable
// graph. W stays [M, C, KH, KW] in the graph; the kernel blocks it once.
#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "kernels/nn/conv_winograd.h"
#include "kernels/nn/window.h"
#include "kernels/simd/conv_nchwc.h"
#include "optimize/graph_util.h"
#include "optimize/passes.h"

namespace pionnx {

namespace {

const char* const kDomain = "com.microsoft.nchwc";
using Shape4 = std::vector<int64_t>;  // [N, C, H, W], known (N may be a graph input's batch id, see seed_shapes)

// One data input and one output, both named (any node may reach the pass malformed: it runs before the
// kernels check their nodes).
bool is_conv(const Node& n) {
  return (n.op_type == "Conv" && n.domain.empty()) || (n.op_type == "FusedConv" && n.domain == "com.microsoft");
}

bool one_in_one_out(const Node& n) {
  return !n.inputs.empty() && !n.inputs[0].empty() && !n.outputs.empty() && !n.outputs[0].empty();
}

// Elementwise operators of one input whose output, element by element, does not depend on where the element
// sits: they run on a blocked tensor unchanged.
bool layout_free_unary(const Node& n) {
  static const std::unordered_set<std::string> ops = {
      "Relu", "LeakyRelu", "Sigmoid",  "Tanh",     "Clip", "HardSigmoid", "HardSwish",
      "Elu",  "Selu",      "Softplus", "Softsign", "Mish", "Celu",        "ThresholdedRelu"};
  return n.domain.empty() && ops.count(n.op_type) && n.outputs.size() == 1 && one_in_one_out(n);
}

// Elementwise operators of two inputs: blocked together when both are blocked and of one known shape.
bool layout_free_binary(const Node& n) {
  static const std::unordered_set<std::string> ops = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Sum"};
  return n.domain.empty() && ops.count(n.op_type) && n.outputs.size() == 1 && n.inputs.size() == 2 &&
         one_in_one_out(n) && !n.inputs[1].empty();
}

bool is_pool(const Node& n) {
  return n.domain.empty() && (n.op_type == "MaxPool" || n.op_type == "AveragePool") && one_in_one_out(n) &&
         n.inputs.size() == 1 && (n.outputs.size() == 1 || n.outputs[1].empty()) &&
         n.attr_ints("kernel_shape").size() == 2 && n.attr_ints("dilations", {1, 1}) == std::vector<int64_t>{1, 1};
}

bool is_global_pool(const Node& n) {
  return n.domain.empty() && (n.op_type == "GlobalMaxPool" || n.op_type == "GlobalAveragePool") && one_in_one_out(n) &&
         n.inputs.size() == 1 && n.outputs.size() == 1;
}

bool is_channel_concat(const Node& n) {
  if (n.op_type != "Concat" || !n.domain.empty() || !one_in_one_out(n) || n.outputs.size() != 1) return false;
  for (const std::string& in : n.inputs)
    if (in.empty()) return false;
  return n.attr_i("axis", 0) == 1 || n.attr_i("axis", 0) == -3;
}

// The output window of a Conv or pool over a known 4-D input, or false (an invalid window is left for the
// kernel to report).
bool window_of(const Node& n, const Shape4& x, const std::vector<int64_t>& kernel, WindowGeometry* g) {
  try {
    *g = resolve_window(WindowAttrs::from_node(n), {x[2], x[3]}, kernel, n.describe());
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

struct Facts {
  const Graph& g;
  const opt::GraphFacts& f;
  int64_t b;
  std::unordered_map<std::string, Shape4> shapes;  // values whose 4-D shape is known

  const Shape4* shape(const std::string& v) const {
    auto it = shapes.find(v);
    return it == shapes.end() ? nullptr : &it->second;
  }

  // The convolution's channel counts when the NCHWc kernel runs it (float, 2-D, constant W; one group with M
  // a multiple of b and C one too, or fewer than b channels read as NCHW; or depthwise, one channel a group,
  // C = M = group a multiple of b), else false.
  bool blockable_conv(const Node& n, int64_t* C, int64_t* M) const {
    const bool fused = n.op_type == "FusedConv";
    if (!is_conv(n) || n.outputs.size() != 1 || n.outputs[0].empty() || !n.input_present(0) || !n.input_present(1))
      return false;
    const int64_t group = n.attr_i("group", 1);
    if (n.inputs.size() > (fused ? 4u : 3u)) return false;
    const Tensor* w = opt::constant(g, f, n.inputs[1]);
    if (!w || w->dtype() != DType::Float || w->rank() != 4) return false;
    *M = w->dim(0);
    *C = w->dim(1) * group;
    if (group != 1) return group == *M && w->dim(1) == 1 && *M > 0 && *M % b == 0;
    return *M > 0 && *C > 0 && padding_fits(*M) && (*C % b == 0 || *C < b);
  }

  // Output channels the blocked kernel pads to a multiple of b (with zero filters) at most a quarter more: a
  // classifier's 1000 channels (SqueezeNet's last convolution, 1008 at b = 16), not 24 as 32.
  static bool padding_fits(int64_t M) { return simd::nchwc_padded(M) * 4 <= M * 5; }

  // A convolution whose output channels the kernel pads: its output is only ever reordered back to NCHW
  // (ReorderOutput's `channels` drops the padding), never read blocked.
  bool padded(const Node& n) const {
    const Tensor* w = is_conv(n) && n.input_present(1) ? opt::constant(g, f, n.inputs[1]) : nullptr;
    return w && w->rank() == 4 && w->dim(0) % b != 0;
  }

  static bool depthwise(const Node& n) { return n.attr_i("group", 1) != 1; }

  // An inference BatchNormalization of constant float statistics over C channels, C a multiple of b: on a
  // blocked input it runs as a blocked depthwise 1x1 convolution (onnxruntime's transformer does the same), so
  // a pre-activation network's BatchNormalization -> Relu -> Conv (DenseNet's, after each Concat) stays blocked.
  bool blockable_bn(const Node& n, int64_t* C, opt::BatchNormParams* p) const {
    if (!opt::inference_batchnorm(n, f) || !one_in_one_out(n) || !n.input_present(1)) return false;
    const Tensor* gamma = opt::constant(g, f, n.inputs[1]);
    if (!gamma || gamma->rank() != 1) return false;
    *C = gamma->dim(0);
    return *C > 0 && *C % b == 0 && opt::batchnorm_params(g, f, n, *C, p);
  }

  // A FusedConv's residual is blocked only where it is known to have the output's shape (Add broadcasts,
  // and a residual of another shape, or rank, or one that makes the output larger, is not one the blocked
  // kernel adds).
  bool residual_fits(const Node& n) const {
    if (!n.input_present(3)) return true;
    if (padded(n)) return false;  // the kernel adds no residual to padded channels
    const Shape4* z = shape(n.inputs[3]);
    Shape4 y;
    return z && conv_output(n, &y, nullptr) && *z == y;
  }

  // Better left to Winograd in NCHW (conv_winograd.h), on the known input shape (never a depthwise one).
  bool winograd(const Node& n, int64_t C, int64_t M) const {
    Shape4 y;
    WindowGeometry geo;
    return !depthwise(n) && conv_output(n, &y, &geo) && winograd_beats_nchwc(geo, C, M);
  }

  // A Conv's or FusedConv's output shape (before any residual's broadcast) and window, where its input's shape
  // and a constant 4-D W are known.
  bool conv_output(const Node& n, Shape4* y, WindowGeometry* geo) const {
    const Shape4* x = n.input_present(0) ? shape(n.inputs[0]) : nullptr;
    const Tensor* w = n.input_present(1) ? opt::constant(g, f, n.inputs[1]) : nullptr;
    WindowGeometry local;
    if (!x || !w || w->rank() != 4 || !window_of(n, *x, {w->dim(2), w->dim(3)}, geo ? geo : &local)) return false;
    const WindowGeometry& wg = geo ? *geo : local;
    *y = {(*x)[0], w->dim(0), wg.out[0], wg.out[1]};
    return true;
  }

  bool pointwise(const Node& n) const {
    const Tensor* w = opt::constant(g, f, n.inputs[1]);
    for (int64_t s : n.attr_ints("strides", {1, 1}))
      if (s != 1) return false;
    for (int64_t p : n.attr_ints("pads", {0, 0, 0, 0}))
      if (p != 0) return false;
    return w->dim(2) == 1 && w->dim(3) == 1;
  }

  // Carries known shapes through the node (the operators the pass looks at, and those that keep a shape).
  void infer(const Node& n) {
    if (n.outputs.empty() || n.outputs[0].empty() || shapes.count(n.outputs[0])) return;
    const Shape4* x = n.input_present(0) ? shape(n.inputs[0]) : nullptr;
    if (!x) return;
    static const std::unordered_set<std::string> same = {"BatchNormalization", "LRN", "Dropout", "Identity",
                                                         "InstanceNormalization"};
    WindowGeometry geo;
    if (is_conv(n)) {
      // A residual of another shape may broadcast the output larger: known only where it fits.
      Shape4 y;
      const Shape4* z = n.input_present(3) ? shape(n.inputs[3]) : nullptr;
      if (conv_output(n, &y, nullptr) && (!n.input_present(3) || (z && *z == y))) shapes[n.outputs[0]] = y;
    } else if (is_pool(n)) {
      if (window_of(n, *x, n.attr_ints("kernel_shape"), &geo))
        shapes[n.outputs[0]] = {(*x)[0], (*x)[1], geo.out[0], geo.out[1]};
    } else if (is_global_pool(n)) {
      shapes[n.outputs[0]] = {(*x)[0], (*x)[1], 1, 1};
    } else if (layout_free_unary(n) || (n.domain.empty() && same.count(n.op_type))) {
      shapes[n.outputs[0]] = *x;
    } else if (layout_free_binary(n)) {
      const Shape4* y = shape(n.inputs[1]);
      if (y && *y == *x) shapes[n.outputs[0]] = *x;
    } else if (is_channel_concat(n)) {
      Shape4 s = *x;
      s[1] = 0;
      for (const std::string& in : n.inputs) {
        const Shape4* y = shape(in);
        if (!y || (*y)[0] != s[0] || (*y)[2] != s[2] || (*y)[3] != s[3]) return;
        s[1] += (*y)[1];
      }
      shapes[n.outputs[0]] = s;
    }
  }
};

// Shapes from the graph's inputs and value_info. A graph input's unknown batch (a symbolic or missing first
// dimension) is carried as its own negative id: the shapes that follow from that input compare equal through
// it (a residual of one image's layers), those of different inputs never do, and nothing reads its value.
void seed_shapes(const Graph& g, Facts* facts) {
  int64_t batch_id = -1;
  auto add = [facts, &batch_id](const ValueInfo& v, bool input) {
    if (v.type.kind != TypeInfo::Kind::Tensor || !v.type.has_shape || v.type.dims.size() != 4) return;
    Shape4 s;
    for (size_t i = 0; i < v.type.dims.size(); ++i) {
      const int64_t d = v.type.dims[i].value;
      if (d < 0 && !(i == 0 && input)) return;
      s.push_back(d < 0 ? batch_id-- : d);
    }
    facts->shapes[v.name] = s;
  };
  for (const ValueInfo& v : g.inputs) add(v, true);
  for (const ValueInfo& v : g.value_info) add(v, false);
}

// Which nodes would read blocked inputs if every convolution in `convs` were blocked: the convolutions, and the
// pools, activations, elementwise pairs and Concats all of whose data inputs come from such nodes.
std::vector<bool> blocked_nodes(const Graph& g, const Facts& facts, const std::vector<bool>& convs) {
  std::vector<bool> on(g.nodes.size(), false);
  std::unordered_set<std::string> blocked;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& n = g.nodes[k];
    bool b = convs[k];
    int64_t C = 0;
    opt::BatchNormParams bn;
    if (!b && (is_pool(n) || layout_free_unary(n) || is_global_pool(n) || facts.blockable_bn(n, &C, &bn)))
      b = blocked.count(n.inputs[0]) > 0;
    if (!b && layout_free_binary(n)) {
      const Shape4 *x = facts.shape(n.inputs[0]), *y = facts.shape(n.inputs[1]);
      b = blocked.count(n.inputs[0]) && blocked.count(n.inputs[1]) && x && y && *x == *y;
    }
    if (!b && is_channel_concat(n)) {
      b = true;
      for (const std::string& in : n.inputs) b = b && blocked.count(in) > 0;
    }
    on[k] = b;
    if (b && !is_global_pool(n) && !(convs[k] && facts.padded(n))) blocked.insert(n.outputs[0]);
  }
  return on;
}

}  // namespace

bool nchwc_layout(Graph& g, const OptimizeContext& ctx) {
  const int64_t b = simd::nchwc_block();
  if (b == 0) return false;
  const opt::GraphFacts f(g, ctx);
  Facts facts{g, f, b, {}};
  seed_shapes(g, &facts);
  for (const Node& n : g.nodes) facts.infer(n);

  // The convolutions to block: every blockable one but known Winograd ones, less those in blocked regions
  // (nodes joined by blocked tensors) with no convolution but 1x1s and NCHW-input ones, to a fixed point
  // (dropping a region's convolutions may split another).
  std::vector<bool> convs(g.nodes.size(), false);
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    int64_t C = 0, M = 0;
    convs[k] = facts.blockable_conv(g.nodes[k], &C, &M) && facts.residual_fits(g.nodes[k]) &&
               !facts.winograd(g.nodes[k], C, M);
  }
  std::vector<bool> on;
  for (bool dropped = true; dropped;) {
    dropped = false;
    on = blocked_nodes(g, facts, convs);
    std::vector<size_t> root(g.nodes.size());
    for (size_t k = 0; k < root.size(); ++k) root[k] = k;
    auto find = [&root](size_t k) {
      while (root[k] != k) k = root[k] = root[root[k]];
      return k;
    };
    std::unordered_map<std::string, size_t> producer;
    for (size_t k = 0; k < g.nodes.size(); ++k) {
      if (!on[k]) continue;
      for (const std::string& in : g.nodes[k].inputs) {
        auto it = producer.find(in);
        if (it != producer.end()) root[find(k)] = find(it->second);
      }
      if (!is_global_pool(g.nodes[k])) producer[g.nodes[k].outputs[0]] = k;
    }
    // Worth its reorders: a region with a blocked convolution other than a 1x1, a first layer or a depthwise
    // one, or with a depthwise one and another convolution (a depthwise convolution alone gains less than
    // the two reorders around it cost: ShuffleNet's, between channel shuffles).
    std::vector<bool> worth(g.nodes.size(), false);
    std::vector<int> dw(g.nodes.size(), 0), conv_count(g.nodes.size(), 0);
    for (size_t k = 0; k < g.nodes.size(); ++k) {
      int64_t C = 0, M = 0;
      if (!convs[k] || !facts.blockable_conv(g.nodes[k], &C, &M)) continue;
      const size_t r = find(k);
      ++conv_count[r];
      if (facts.depthwise(g.nodes[k])) ++dw[r];
      else if (!facts.pointwise(g.nodes[k]) && C % b == 0) worth[r] = true;
    }
    for (size_t r = 0; r < g.nodes.size(); ++r)
      if (dw[r] > 0 && conv_count[r] > 1) worth[r] = true;
    for (size_t k = 0; k < g.nodes.size(); ++k)
      if (convs[k] && !worth[find(k)]) convs[k] = false, dropped = true;
  }

  std::unordered_set<std::string> names;
  for (const auto& [name, t] : g.initializers) names.insert(name);
  for (const ValueInfo& v : g.inputs) names.insert(v.name);
  for (const Node& n : g.nodes)
    for (const std::string& o : n.outputs) names.insert(o);
  auto fresh = [&names](const std::string& base) {
    std::string name = base;
    for (int k = 1; names.count(name); ++k) name = base + "_" + std::to_string(k);
    names.insert(name);
    return name;
  };
  int reorders = 0;
  auto reorder = [&](const char* op, const std::string& in, const std::string& out, int64_t channels) {
    Node r;
    r.op_type = op;
    r.domain = kDomain;
    r.name = fresh(std::string(op) + "_" + std::to_string(reorders++));
    r.inputs = {in};
    r.outputs = {out};
    if (std::string(op) == "ReorderOutput") r.attrs.push_back(opt::int_attr("channels", channels));
    return r;
  };

  std::unordered_map<std::string, std::string> blocked;  // an NCHW value -> its blocked twin
  std::unordered_map<std::string, int64_t> channels;     // a blocked value -> its channels
  std::unordered_set<std::string> produced_blocked;      // NCHW names of values a blocked node made
  std::unordered_set<std::string> nchw_made;             // those reordered back
  std::vector<Node> out;
  out.reserve(g.nodes.size() * 2);
  bool changed = false;
  // The blocked twin of an NCHW value with C channels, reordered in before the current node if it has none.
  auto blocked_of = [&](const std::string& v, int64_t C) {
    auto it = blocked.find(v);
    if (it != blocked.end()) return it->second;
    const std::string t = fresh(v + "_nchwc");
    out.push_back(reorder("ReorderInput", v, t, C));
    blocked[v] = t;
    channels[t] = C;
    return t;
  };
  // Each NCHW value of a blocked producer, reordered back before its first NCHW reader.
  auto need_nchw = [&](const std::string& v) {
    if (!produced_blocked.count(v) || nchw_made.count(v)) return;
    const std::string& t = blocked.at(v);
    out.push_back(reorder("ReorderOutput", t, v, channels.at(t)));
    nchw_made.insert(v);
  };
  // A node's output now blocked: its NCHW name only where someone outside reads it.
  auto make_blocked = [&](Node& n, int64_t C) {
    const std::string v = n.outputs[0];
    const std::string t = fresh(v + "_nchwc");
    n.outputs[0] = t;
    blocked[v] = t;
    channels[t] = C;
    produced_blocked.insert(v);
    out.push_back(n);
    if (!f.is_internal(v)) need_nchw(v);  // graph outputs, values a subgraph reads
    changed = true;
  };
  auto channels_of = [&](const std::string& v) { return channels.at(blocked.at(v)); };

  std::vector<bool> fused_relu(g.nodes.size(), false);  // Relus a blocked BatchNormalization took in
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    if (fused_relu[k]) continue;
    Node n = g.nodes[k];
    int64_t C = 0, M = 0;
    if (convs[k] && facts.blockable_conv(n, &C, &M)) {
      if (C % b == 0) n.inputs[0] = blocked_of(n.inputs[0], C);
      else need_nchw(n.inputs[0]);  // read as NCHW (a padded convolution's few channels may come blocked)
      if (n.input_present(3)) n.inputs[3] = blocked_of(n.inputs[3], M);
      n.domain = kDomain;
      n.op_type = "Conv";
      make_blocked(n, M);
      continue;
    }
    if (on[k] && !convs[k]) {
      // The data inputs: all of them for Concat and the elementwise pairs, the first for the rest (Clip's
      // bounds stay as they are).
      const bool every = n.op_type == "Concat" || layout_free_binary(n);
      const size_t data = every ? n.inputs.size() : 1;
      bool all = true;
      for (size_t i = 0; i < data; ++i) all = all && produced_blocked.count(n.inputs[i]) > 0;
      int64_t bn_channels = 0;
      opt::BatchNormParams bn;
      if (all && facts.blockable_bn(n, &bn_channels, &bn)) {  // y = x * s + (beta - mean * s), s = bn.scale(c)
        const int64_t C = bn_channels;
        Tensor w(DType::Float, {C, 1, 1, 1}), bias(DType::Float, {C});
        for (int64_t c = 0; c < C; ++c) {
          const float scale = bn.scale(c);
          w.data<float>()[c] = scale;
          bias.data<float>()[c] = bn.beta->data<float>()[c] - bn.mean->data<float>()[c] * scale;
        }
        const std::string base = n.name.empty() ? n.outputs[0] : n.name;
        const std::string wn = fresh(base + "_nchwc_scale"), bn_ = fresh(base + "_nchwc_shift");
        g.add_initializer(wn, std::move(w));
        g.add_initializer(bn_, std::move(bias));
        Node conv;
        conv.op_type = "Conv";
        conv.domain = kDomain;
        conv.name = n.name;
        conv.inputs = {blocked.at(n.inputs[0]), wn, bn_};
        conv.outputs = {n.outputs[0]};
        conv.attrs = {opt::int_attr("group", C)};
        // A Relu that alone reads it (DenseNet's) runs in the kernel's registers, as a FusedConv's activation.
        const long r = f.sole_consumer(g, n.outputs[0]);
        if (r > static_cast<long>(k) && on[r] && opt::is_op(g.nodes[r], "Relu", 1)) {
          opt::set_activation(conv, "Relu", {});
          conv.outputs = {g.nodes[r].outputs[0]};
          fused_relu[r] = true;
        }
        make_blocked(conv, C);
        continue;
      }
      if (all && is_global_pool(n)) {  // [N, C, 1, 1]: the output is NCHW as it stands
        n.inputs[0] = blocked.at(n.inputs[0]);
        n.domain = kDomain;
        out.push_back(std::move(n));
        changed = true;
        continue;
      }
      if (all) {
        int64_t c = 0;
        if (n.op_type == "Concat")
          for (const std::string& in : n.inputs) c += channels_of(in);
        else c = channels_of(n.inputs[0]);
        for (size_t i = 0; i < data; ++i) n.inputs[i] = blocked.at(n.inputs[i]);
        if (is_pool(n)) {
          n.domain = kDomain;
          n.attrs.erase(std::remove_if(n.attrs.begin(), n.attrs.end(),
                                       [](const Attribute& a) { return a.name == "storage_order"; }),
                        n.attrs.end());
          n.outputs.resize(1);
        }
        make_blocked(n, c);
        continue;
      }
    }
    for (const std::string& in : n.inputs) need_nchw(in);
    if (opt::has_subgraph(n))
      for (const auto& [v, t] : blocked) need_nchw(v);  // what the bodies read is not listed as inputs
    out.push_back(std::move(n));
  }
  if (!changed) return false;
  for (const ValueInfo& v : g.outputs) need_nchw(v.name);
  g.nodes = std::move(out);
  return true;
}

}  // namespace pionnx
