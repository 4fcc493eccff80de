#include "pionnx/session.h"

#include <algorithm>
#include <atomic>
#include <unordered_map>
#include <unordered_set>

#include "exec/graph_executor.h"
#include "ir/inline_functions.h"
#include "optimize/passes.h"
#include "pionnx/buffer_pool.h"
#include "platform/file_io.h"
#include "platform/thread_pool.h"
#include "proto/onnx.h"
#include "proto/writer.h"

#ifndef PIONNX_VERSION
#define PIONNX_VERSION "0.0.0"
#endif

namespace pionnx {

const char* version() { return PIONNX_VERSION; }

namespace {

ValueDesc describe(const ValueInfo& vi) {
  ValueDesc d;
  d.name = vi.name;
  d.type = vi.type.str();
  d.elem = vi.type.elem;
  d.has_shape = vi.type.has_shape;
  for (const Dim& dim : vi.type.dims) {
    d.dims.push_back(dim.value);
    d.dim_params.push_back(dim.param);
  }
  return d;
}

std::string type_of(const Value& v) {
  switch (v.kind) {
    case Value::Kind::Tensor: return str_cat("tensor(", dtype_name(v.tensor.dtype()), ")");
    case Value::Kind::Sequence: return str_cat("seq(tensor(", dtype_name(v.seq_elem), "))");
    default: return "none";
  }
}

std::string expected_shape(const ValueInfo& vi) {
  std::string out = "[";
  for (size_t i = 0; i < vi.type.dims.size(); ++i) {
    const Dim& d = vi.type.dims[i];
    out += i ? ", " : "";
    if (d.value >= 0) out += str_cat(d.value);
    else out += d.param.empty() ? std::string("?") : d.param;
  }
  return out + "]";
}

}  // namespace

// onnxruntime's com.microsoft.nchwc operators in a model file: its ORT_ENABLE_ALL optimizer writes them with
// weights already blocked for the CPU it ran on, which pionnx's operators of those names (its own layout pass's,
// optimize/nchwc_layout.cc, whose weights stay [M, C, KH, KW]) would misread. Refused, not run wrong.
void refuse_blocked_layout(const Graph& g) {
  for (const Node& n : g.nodes) {
    PIONNX_ENFORCE(n.domain != "com.microsoft.nchwc", NotImplemented, n.describe(),
                   ": the model holds onnxruntime's NCHWc layout (written by its ORT_ENABLE_ALL optimizer for one "
                   "CPU, with blocked weights); pionnx does not read it: save the model from onnxruntime with "
                   "ORT_ENABLE_EXTENDED, or give pionnx the original model");
    for (const Attribute& a : n.attrs) {
      if (a.g) refuse_blocked_layout(*a.g);
      for (const auto& sub : a.graphs)
        if (sub) refuse_blocked_layout(*sub);
    }
  }
}

class SessionImpl {
 public:
  SessionImpl(std::string_view bytes, const std::string& dir, const SessionConfig& cfg)
      : logger_{cfg.log_severity, cfg.logid},
        limits_(checked_limits(cfg.limits)),
        model_(load(bytes, dir, limits_)),
        pool_(cfg.intra_op_threads > 0 ? cfg.intra_op_threads : ThreadPool::default_threads()) {
    ScopedTensorLimit tensor_limit(limits_.max_tensor_bytes);
    Graph& g = model_.graph;
    nodes_before_ = static_cast<int64_t>(g.nodes.size());
    warn_unused_initializers(g);
    inline_functions(model_, limits_.max_inlined_nodes);
    refuse_blocked_layout(g);
    const int rewrites = optimize_graph(
        g, cfg.opt_level,
        OptimizeContext{model_.opsets, model_.ir_version, subgraph_builder(model_.opsets, KernelRegistry::builtin()),
                        cfg.disabled_optimizers, &logger_});
    nodes_after_ = static_cast<int64_t>(g.nodes.size());
    if (logger_.enabled(Severity::Info)) {
      std::string opsets;
      for (const auto& [domain, version] : model_.opsets)
        opsets += str_cat(opsets.empty() ? "" : ", ", domain.empty() ? "ai.onnx" : domain, " ", version);
      logger_.log(Severity::Info, str_cat("session: graph '", g.name, "' (IR ", model_.ir_version, "; opsets ", opsets,
                                          "): ", nodes_before_, " nodes, ", nodes_after_, " after ", rewrites,
                                          " optimizer rewrites; ", pool_.size(), " threads"));
    }
    // A fusion may write com.microsoft operators (Gelu, MultiHeadAttention) into a model that
    // imports only the default domain: import it, as onnxruntime does.
    for (const Node& n : g.nodes)
      if (n.domain == "com.microsoft" && !model_.opsets.count(n.domain)) model_.opsets[n.domain] = 1;
    // Below IR 4 every initializer is also listed as a graph input, and is a
    // constant all the same (the optimizer already treats it so): drop those
    // entries, so kernels see constant weights (packed once per session) and
    // a feed cannot replace one, as in onnxruntime (get_overridable_initializers
    // is empty; feeding one names an unknown input).
    if (model_.ir_version < 4) {
      std::vector<ValueInfo> inputs;
      for (ValueInfo& v : g.inputs)
        if (!g.initializers.count(v.name)) inputs.push_back(std::move(v));
      g.inputs = std::move(inputs);
    }
    if (!cfg.optimized_model_path.empty()) proto::write_model_file(model_, cfg.optimized_model_path);
    // The layout level after the file: its blocked graph is this CPU's (optimize/nchwc_layout.cc), its packed
    // attention projections are a layout onnxruntime's CPU kernel refuses (optimize/qkv_packing.cc).
    if (optimize_layout(g, cfg.opt_level,
                        OptimizeContext{model_.opsets, model_.ir_version, {}, cfg.disabled_optimizers, &logger_}) > 0)
      model_.opsets.emplace("com.microsoft.nchwc", 1);
    exec_ = std::make_unique<GraphExecutor>(g, model_.opsets, KernelRegistry::builtin(), false);
    exec_->set_memory_limit(limits_.max_memory_bytes ? limits_.max_memory_bytes : machine_ram_bytes(),
                            limits_.max_memory_bytes != 0);

    for (size_t i = 0; i < g.inputs.size(); ++i) {
      const ValueInfo& vi = g.inputs[i];
      input_index_[vi.name] = i;
      if (g.initializers.count(vi.name)) overridable_.push_back(describe(vi));
      else inputs_.push_back(describe(vi));
    }
    for (size_t i = 0; i < g.outputs.size(); ++i) {
      outputs_.push_back(describe(g.outputs[i]));
      output_index_[g.outputs[i].name] = i;
    }
    meta_.producer_name = model_.producer_name;
    meta_.producer_version = model_.producer_version;
    meta_.domain = model_.domain;
    meta_.description = model_.doc;
    meta_.graph_name = g.name;
    meta_.graph_description = g.doc;
    meta_.version = model_.model_version;
    meta_.custom = model_.metadata;
  }

  void check_feed(const ValueInfo& vi, const Value& v) const {
    const TypeInfo& t = vi.type;
    if (t.kind == TypeInfo::Kind::Tensor) {
      PIONNX_ENFORCE(v.is_tensor(), InvalidArgument, "input '", vi.name, "': expected ", t.str(), ", got ", type_of(v));
      PIONNX_ENFORCE(t.elem == DType::Undefined || v.tensor.dtype() == t.elem, InvalidArgument, "input '", vi.name,
                     "': expected ", t.str(), ", got tensor(", dtype_name(v.tensor.dtype()), ")");
      if (!t.has_shape) return;
      const Shape& s = v.tensor.shape();
      PIONNX_ENFORCE(s.size() == t.dims.size(), InvalidArgument, "input '", vi.name, "': expected rank ", t.dims.size(),
                     " (shape ", expected_shape(vi), "), got rank ", s.size(), " (shape ", shape_str(s), ")");
      for (size_t i = 0; i < s.size(); ++i)
        PIONNX_ENFORCE(t.dims[i].value < 0 || t.dims[i].value == s[i], InvalidArgument, "input '", vi.name,
                       "': dimension ", i, " must be ", t.dims[i].value, " (shape ", expected_shape(vi), "), got ",
                       s[i], " (shape ", shape_str(s), ")");
    } else if (t.kind == TypeInfo::Kind::Sequence) {
      PIONNX_ENFORCE(v.kind == Value::Kind::Sequence, InvalidArgument, "input '", vi.name, "': expected ", t.str(),
                     ", got ", type_of(v));
    }
  }

  // onnxruntime's warning for an initializer no node reads (before any
  // rewrite: the optimizer's own leftovers are not the model's fault).
  void warn_unused_initializers(const Graph& g) const {
    if (!logger_.enabled(Severity::Warning)) return;
    std::unordered_set<std::string> read;
    collect_names_read(g, read);
    for (const ValueInfo& v : g.outputs) read.insert(v.name);
    for (const std::string& name : g.initializer_order)
      if (!read.count(name))
        logger_.log(Severity::Warning, str_cat("Removing initializer '", name,
                                               "'. It is not used by any node and should be removed from the model."));
  }

  std::vector<Value> run(const std::vector<std::pair<std::string, Value>>& feeds, const std::vector<std::string>& names,
                         const RunControl& control) const {
    const Graph& g = model_.graph;
    std::vector<const Value*> in(g.inputs.size(), nullptr);
    for (const auto& kv : feeds) {
      auto it = input_index_.find(kv.first);
      if (it == input_index_.end()) {
        std::string known;
        for (const ValueDesc& d : inputs_) known += (known.empty() ? "'" : ", '") + d.name + "'";
        throw InvalidArgument(str_cat("unknown input '", kv.first, "'; the model's inputs are: ", known));
      }
      check_feed(g.inputs[it->second], kv.second);
      in[it->second] = &kv.second;
    }
    for (size_t i = 0; i < g.inputs.size(); ++i) {
      const ValueInfo& vi = g.inputs[i];
      PIONNX_ENFORCE(in[i] || g.initializers.count(vi.name) || vi.type.kind == TypeInfo::Kind::Optional,
                     InvalidArgument, "missing input '", vi.name, "' (expected ", vi.type.str(), " with shape ",
                     expected_shape(vi), ")");
    }
    std::vector<size_t> wanted;
    if (names.empty()) {
      for (size_t i = 0; i < g.outputs.size(); ++i) wanted.push_back(i);
    } else {
      for (const std::string& n : names) {
        auto it = output_index_.find(n);
        PIONNX_ENFORCE(it != output_index_.end(), InvalidArgument, "unknown output '", n, "'");
        wanted.push_back(it->second);
      }
    }
    // Runs of one session may overlap (threads calling run() at once): each
    // has its own values; the weights, the kernels and the buffer pool are
    // shared and safe to share. A parallel region of the pool taken by one
    // run makes the other run's regions run inline on its own thread.
    ScopedBufferPool buffers(buffers_.get());
    ScopedTensorLimit tensor_limit(limits_.max_tensor_bytes);
    InFlight in_flight(*this);
    int64_t peak = 0;
    std::vector<Value> out = exec_->run(in, pool_, nullptr, wanted, &peak, &control);
    raise_to(peak_bytes_, peak);
    return out;
  }

  static void raise_to(std::atomic<int64_t>& high, int64_t v) {
    int64_t seen = high.load(std::memory_order_relaxed);
    while (v > seen && !high.compare_exchange_weak(seen, v, std::memory_order_relaxed)) {
    }
  }
  // Counts the runs of this session in progress (profile(): the most seen at once).
  struct InFlight {
    explicit InFlight(const SessionImpl& s) : s_(s) { raise_to(s_.peak_runs_, ++s_.runs_now_); }
    ~InFlight() { --s_.runs_now_; }
    const SessionImpl& s_;
  };

  static SessionLimits checked_limits(const SessionLimits& l) {
    PIONNX_ENFORCE(l.max_nesting_depth >= 1, InvalidArgument, "max_nesting_depth must be >= 1, got ",
                   l.max_nesting_depth);
    PIONNX_ENFORCE(l.max_inlined_nodes >= 0, InvalidArgument, "max_inlined_nodes must be >= 0, got ",
                   l.max_inlined_nodes);
    return l;
  }
  static Model load(std::string_view bytes, const std::string& dir, const SessionLimits& l) {
    ScopedTensorLimit tensor_limit(l.max_tensor_bytes);  // initializers are tensors too
    return proto::parse_model(bytes, proto::LoadContext{dir, l.max_nesting_depth});
  }

  Logger logger_;
  SessionLimits limits_;
  Model model_;
  mutable ThreadPool pool_;
  std::unique_ptr<GraphExecutor> exec_;
  std::vector<ValueDesc> inputs_, outputs_, overridable_;
  std::unordered_map<std::string, size_t> input_index_, output_index_;
  ModelMeta meta_;
  int64_t nodes_before_ = 0, nodes_after_ = 0;
  mutable std::atomic<int64_t> peak_bytes_{0};
  mutable std::atomic<int64_t> runs_now_{0}, peak_runs_{0};
  // Freed intermediates are kept for the next run, up to about what a
  // 32-bit board can spare.
  std::shared_ptr<BufferPool> buffers_ =
      std::make_shared<BufferPool>(sizeof(void*) == 4 ? (size_t(256) << 20) : (size_t(1) << 30));
};

Session::Session(std::string_view bytes, const std::string& dir, const SessionConfig& cfg)
    : impl_(std::make_unique<SessionImpl>(bytes, dir, cfg)) {}

std::unique_ptr<Session> Session::from_file(const std::string& path, const SessionConfig& cfg) {
  const MappedFile file(path);  // the model is decoded straight from the mapping
  auto slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  return std::make_unique<Session>(file.view(), dir, cfg);
}

Session::~Session() = default;
const std::vector<ValueDesc>& Session::inputs() const { return impl_->inputs_; }
const std::vector<ValueDesc>& Session::outputs() const { return impl_->outputs_; }
const std::vector<ValueDesc>& Session::overridable_initializers() const { return impl_->overridable_; }
const ModelMeta& Session::meta() const { return impl_->meta_; }

std::vector<Value> Session::run(const std::vector<std::pair<std::string, Value>>& feeds,
                                const std::vector<std::string>& output_names, const RunControl& control) {
  return impl_->run(feeds, output_names, control);
}

std::map<std::string, int64_t> Session::profile() const {
  return {{"nodes_loaded", impl_->nodes_before_},
          {"nodes_executed", impl_->nodes_after_},
          {"peak_intermediate_bytes", impl_->peak_bytes_.load()},
          {"peak_concurrent_runs", impl_->peak_runs_.load()},
          {"threads", impl_->pool_.size()}};
}

Tensor tensor_from_proto_bytes(const std::string& bytes) { return proto::parse_tensor(bytes, proto::LoadContext{}); }

Value value_from_proto_bytes(const std::string& bytes, const std::string& kind) {
  TypeInfo::Kind k = TypeInfo::Kind::Tensor;
  if (kind == "sequence") k = TypeInfo::Kind::Sequence;
  else if (kind == "optional") k = TypeInfo::Kind::Optional;
  else
    PIONNX_ENFORCE(kind == "tensor", InvalidArgument, "value kind must be tensor, sequence or optional, not '", kind,
                   "'");
  return proto::parse_value(bytes, k, proto::LoadContext{});
}

int default_threads() { return ThreadPool::default_threads(); }
int busy_threads() { return ThreadPool::busy_threads(); }
int peak_busy_threads(bool reset) { return ThreadPool::peak_busy_threads(reset); }

}  // namespace pionnx
