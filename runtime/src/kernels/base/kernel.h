// The contract between the executor and every operator.
//
// A kernel is made once per node at session creation (reading attributes,
// checking what can be checked statically) and run many times. compute()
// reads inputs through the context and allocates outputs through it; it never
// writes into an input.
#pragma once
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "pionnx/operators.h"
#include "pionnx/status.h"
#include "pionnx/tensor.h"
#include "pionnx/value.h"

namespace pionnx {

class ThreadPool;
class KernelContext;

// Values visible to a node by name: its own graph's, then enclosing graphs'
// (subgraphs of If/Loop/Scan read outer values this way).
class Scope {
 public:
  virtual ~Scope() = default;
  virtual const Value* lookup(const std::string& name) const = 0;
  // The run's RunOptions.terminate flag (nullptr: none), for subgraphs and
  // loops to stop between their nodes and iterations as the top level does.
  virtual const std::atomic<bool>* terminate_flag() const { return nullptr; }
};

// Throws onnxruntime's terminate error when `flag` (RunOptions.terminate, or
// nullptr) is set: between a graph's nodes and a Loop's iterations.
inline void stop_if_terminated(const std::atomic<bool>* flag) {
  if (flag && flag->load(std::memory_order_relaxed)) throw Error("Exiting due to terminate flag being set to true.");
}

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual void compute(KernelContext& ctx) const = 0;
  // True when output 0 may be written into an input of the same dtype and
  // shape: element i of the output depends only on element i of that input
  // (and anything of the others), read before it is written. The executor
  // then offers inputs that die at this node (KernelContext::output).
  virtual bool computes_in_place() const { return false; }
};

// A subgraph (the body of If, Loop, Scan, SequenceMap) made runnable by the
// executor. Kernels see only this interface, never the executor itself: the
// executor hands a SubgraphBuilder to every kernel it makes (KernelInfo).
class Subgraph {
 public:
  virtual ~Subgraph() = default;
  virtual const Graph& graph() const = 0;
  // inputs: one value per graph input (nullptr keeps its default); outer: the
  // enclosing scope for names the subgraph captures.
  virtual std::vector<Value> run(const std::vector<const Value*>& inputs, ThreadPool& pool, const Scope* outer,
                                 const std::vector<size_t>& wanted_outputs) const = 0;
};
using SubgraphBuilder = std::function<std::unique_ptr<Subgraph>(const Graph&)>;

// What a factory may look at when making a kernel.
struct KernelInfo {
  const Node& node;
  int64_t opset;  // the model's opset for the node's domain
  // Opsets of the whole model, for kernels that build subgraph executors.
  const std::map<std::string, int64_t>& model_opsets;
  // Per input: the graph's initializer when the input is a constant no feed
  // can override (not also a graph input, not produced by a node), else
  // nullptr. Kernels prepare such weights (pack, transpose) once instead of
  // on every run. The tensor lives as long as the session.
  std::vector<const Tensor*> constant_inputs = {};
  // Makes a runnable subgraph with the same opsets and kernels (see
  // subgraph()); empty where nothing can run one.
  SubgraphBuilder build_subgraph = {};
  // Per output: the number of heads an attention reads it as, when its only
  // reader is a MultiHeadAttention (directly, or through one Reshape: a packed
  // query or key/value), else 0. Each head's columns are then read by one
  // thread, so a product making the output can split its columns, not its
  // rows, between threads (graph_executor.cc).
  std::vector<int64_t> output_heads = {};

  const Tensor* constant_input(size_t i) const { return i < constant_inputs.size() ? constant_inputs[i] : nullptr; }
  int64_t heads_reading_output(size_t i) const { return i < output_heads.size() ? output_heads[i] : 0; }
  // The node's graph attribute `attr`, made runnable; throws InvalidGraph
  // when the attribute is missing.
  std::unique_ptr<Subgraph> subgraph(const char* attr) const;
};

using KernelFactory = std::function<std::unique_ptr<Kernel>(const KernelInfo&)>;

class KernelContext {
 public:
  KernelContext(const Node& node, std::vector<const Value*> inputs, std::vector<Value*> outputs, ThreadPool* pool,
                const Scope* scope = nullptr)
      : node_(node), inputs_(std::move(inputs)), outputs_(std::move(outputs)), pool_(pool), scope_(scope) {}

  const Node& node() const { return node_; }
  size_t num_inputs() const { return inputs_.size(); }
  size_t num_outputs() const { return outputs_.size(); }

  // True when input i was given (not omitted with "" and not past the end).
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i] != nullptr; }
  // Input i as a tensor; throws InvalidArgument naming the node when absent
  // or not a tensor.
  const Tensor& input(size_t i) const;
  // Input i as a tensor, or nullptr when omitted.
  const Tensor* optional_input(size_t i) const;
  // Input i as any value (sequences, optionals); nullptr when omitted.
  const Value* input_value(size_t i) const { return has_input(i) ? inputs_[i] : nullptr; }

  // True when the graph consumes output i (its name is not "").
  bool wants_output(size_t i) const { return i < outputs_.size() && outputs_[i] != nullptr; }
  // Allocates output i. For an unwanted output returns a scratch tensor.
  // Output 0 of an in-place kernel reuses a donated input of the same dtype
  // and shape when the executor offered one.
  Tensor& output(size_t i, DType dtype, Shape shape);
  void set_donors(std::vector<Value*> donors) { donors_ = std::move(donors); }
  // Sets output i to an existing tensor (a view or a reshaped input).
  void set_output(size_t i, Tensor t);
  void set_output_value(size_t i, Value v);

  ThreadPool& pool() const { return *pool_; }
  // The scope the node runs in, for kernels that run subgraphs.
  const Scope* scope() const { return scope_; }

 private:
  const Node& node_;
  std::vector<const Value*> inputs_;
  std::vector<Value*> outputs_;
  ThreadPool* pool_;
  const Scope* scope_;
  std::deque<Value> scratch_;   // deque: references stay valid as it grows
  std::vector<Value*> donors_;  // inputs output 0 may reuse (see Kernel::computes_in_place)
};

// The newest ai.onnx opset the runtime knows.
constexpr int kLatestOpset = 28;
// `until` of a kernel whose semantics no later opset up to kLatestOpset
// changed (those opsets added element types, not behaviour): registered
// through kLatestOpset, and reviewed when kLatestOpset moves.
constexpr int kOpenEnded = kLatestOpset;

// The factory of kernel class K (constructed from the node's KernelInfo), and
// of a stateless kernel from a plain function (in_place: see
// Kernel::computes_in_place).
template <class K>
KernelFactory kernel() {
  return [](const KernelInfo& info) -> std::unique_ptr<Kernel> { return std::make_unique<K>(info); };
}
KernelFactory kernel_fn(std::function<void(KernelContext&)> fn, bool in_place = false);

// An operator's implementation, for KernelRegistry::add_all.
struct Impl {
  const char* op;
  KernelFactory factory;
};
template <class K>
Impl impl(const char* op) {
  return {op, kernel<K>()};
}
inline Impl impl_fn(const char* op, std::function<void(KernelContext&)> fn) { return {op, kernel_fn(std::move(fn))}; }

// One row of kernels/base/operators.inc: an operator and the opset range its
// kernel implements.
struct OperatorRow {
  const char* domain;  // "" = ai.onnx
  const char* op;
  int since, until;
};
// The whole table, in its order.
const std::vector<OperatorRow>& operator_table();

class KernelRegistry {
 public:
  // The registry with every built-in kernel.
  static const KernelRegistry& builtin();

  // Registers the implementation of op in domain ("" = ai.onnx) for the opset
  // range kernels/base/operators.inc gives it: the op's only row, or with `since`
  // the row that starts there. An op the table does not list (or lists more
  // than once without `since`) throws std::logic_error: a programming error
  // the start-up check and the test suite catch.
  void add(const std::string& domain, const std::string& op, KernelFactory f, int since = 0);
  template <class K>
  void add(const std::string& domain, const std::string& op) {
    add(domain, op, kernel<K>());
  }
  // Stateless kernel from a plain function.
  // in_place: see Kernel::computes_in_place.
  void add_fn(const std::string& domain, const std::string& op, std::function<void(KernelContext&)> fn,
              bool in_place = false);
  // A file's operators of one domain at once: {impl<Reshape>("Reshape"), impl_fn("Where", where), ...}.
  void add_all(const std::string& domain, std::initializer_list<Impl> impls) {
    for (const Impl& i : impls) add(domain, i.op, i.factory);
  }

  // Throws std::logic_error naming every row of the table no kernel was
  // registered for (builtin() calls it once every family has registered).
  void check_complete() const;

  // nullptr when no kernel covers (domain, op, opset).
  const KernelFactory* find(const std::string& domain, const std::string& op, int64_t opset) const;
  bool has_op(const std::string& domain, const std::string& op) const;
  // Every (domain, op) registered, for listings.
  std::vector<std::pair<std::string, std::string>> ops() const;

 private:
  struct Entry {
    int since, until;
    KernelFactory factory;
  };
  std::map<std::pair<std::string, std::string>, std::vector<Entry>> table_;
};

}  // namespace pionnx
