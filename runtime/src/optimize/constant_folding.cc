// Runs nodes whose inputs are all constants once, through the real kernels,
// and keeps their outputs as initializers. Shape of a graph input whose dims
// are all declared folds from the declared type.
#include <unordered_set>

#include "kernels/base/kernel.h"
#include "optimize/graph_util.h"
#include "optimize/passes.h"
#include "platform/thread_pool.h"

namespace pionnx {

namespace {

bool nondeterministic(const Node& n) {
  static const std::unordered_set<std::string> ops = {"RandomNormal",      "RandomUniform", "RandomNormalLike",
                                                      "RandomUniformLike", "Bernoulli",     "Multinomial"};
  return ops.count(n.op_type) > 0;
}

// Folded outputs larger than this stay computed at run time. A top-level node
// runs at every run, so its output is in memory during each run anyway:
// folding it keeps that memory between runs and saves rebuilding it. 1 GiB
// covers the largest weights built by ConstantOfShape in practice (VGG-19's
// fc6, 411 MB, was rebuilt at every run under the old 256 MB cap: 25 ms of
// its 400); onnxruntime folds without a cap.
constexpr size_t kMaxFoldedBytes = size_t(1) << 30;

bool fold_static_shape(Graph& g, const opt::GraphFacts& f, const Node& n, int64_t opset) {
  if (n.op_type != "Shape" || !n.domain.empty() || n.inputs.size() != 1 || n.outputs.size() != 1) return false;
  const std::string& x = n.inputs[0];
  if (!f.graph_inputs.count(x) || g.initializers.count(x)) return false;
  const ValueInfo* vi = nullptr;
  for (const ValueInfo& v : g.inputs)
    if (v.name == x) vi = &v;
  if (!vi || vi->type.kind != TypeInfo::Kind::Tensor || !vi->type.has_shape) return false;
  std::vector<int64_t> dims;
  for (const Dim& d : vi->type.dims) {
    if (d.value < 0) return false;
    dims.push_back(d.value);
  }
  int64_t r = static_cast<int64_t>(dims.size());
  int64_t start = opset >= 15 ? n.attr_i("start", 0) : 0;
  int64_t end = opset >= 15 ? n.attr_i("end", r) : r;
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::min(std::max<int64_t>(start, 0), r);
  end = std::min(std::max<int64_t>(end, 0), r);
  std::vector<int64_t> out(dims.begin() + start, dims.begin() + std::max(start, end));
  g.add_initializer(n.outputs[0], Tensor::from_vector(out, {static_cast<int64_t>(out.size())}));
  return true;
}

}  // namespace

bool fold_constants(Graph& g, const OptimizeContext& ctx) {
  opt::GraphFacts f(g, ctx);
  const KernelRegistry& reg = KernelRegistry::builtin();
  ThreadPool pool(1);
  std::vector<bool> drop(g.nodes.size(), false);
  bool changed = false;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& n = g.nodes[k];
    if (nondeterministic(n) || opt::has_subgraph(n)) continue;
    bool pinned = false;
    for (const auto& o : n.outputs)
      pinned = pinned || (!o.empty() && (f.graph_outputs.count(o) || g.initializers.count(o)));
    if (pinned || n.outputs.empty()) continue;
    auto dom = ctx.opsets.find(n.domain);
    if (dom == ctx.opsets.end()) continue;
    if (fold_static_shape(g, f, n, dom->second)) {
      drop[k] = changed = true;
      continue;
    }
    std::vector<const Value*> ins;
    std::vector<Value> in_vals;
    in_vals.reserve(n.inputs.size());
    bool all_const = true;
    for (const auto& in : n.inputs) {
      if (in.empty()) {
        in_vals.emplace_back();
        continue;
      }
      const Tensor* t = opt::constant(g, f, in);
      if (!t) {
        all_const = false;
        break;
      }
      in_vals.emplace_back(*t);
    }
    if (!all_const) continue;
    for (size_t i = 0; i < n.inputs.size(); ++i) ins.push_back(n.inputs[i].empty() ? nullptr : &in_vals[i]);
    const KernelFactory* fac = reg.find(n.domain, n.op_type, dom->second);
    if (!fac) continue;
    std::vector<Value> out_vals(n.outputs.size());
    std::vector<Value*> outs;
    for (size_t i = 0; i < n.outputs.size(); ++i) outs.push_back(n.outputs[i].empty() ? nullptr : &out_vals[i]);
    try {
      std::unique_ptr<Kernel> kernel = (*fac)(KernelInfo{n, dom->second, ctx.opsets, {}, ctx.build_subgraph});
      KernelContext kc(n, ins, outs, &pool, nullptr);
      kernel->compute(kc);
    } catch (...) {
      continue;  // left to run (and report its error) at run time
    }
    bool ok = true;
    size_t bytes = 0;
    for (size_t i = 0; i < n.outputs.size(); ++i) {
      if (n.outputs[i].empty()) continue;
      ok = ok && out_vals[i].is_tensor() && out_vals[i].tensor.defined();
      if (ok) bytes += out_vals[i].tensor.nbytes();
    }
    if (!ok || bytes > kMaxFoldedBytes) continue;
    for (size_t i = 0; i < n.outputs.size(); ++i)
      if (!n.outputs[i].empty()) g.add_initializer(n.outputs[i], std::move(out_vals[i].tensor));
    drop[k] = changed = true;
  }
  if (changed) opt::erase_nodes(g, drop);
  return changed;
}

}  // namespace pionnx
