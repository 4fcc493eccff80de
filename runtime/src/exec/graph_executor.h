// Runs one graph: the top-level model graph, or a subgraph of If/Loop/Scan.
//
// Built once: nodes sorted, names mapped to slots, a kernel made per node,
// and for every slot the step after which nothing reads it (so its buffer is
// released as early as possible). Run many times.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "ir/graph.h"
#include "kernels/base/kernel.h"
#include "pionnx/session.h"

namespace pionnx {

class GraphExecutor {
 public:
  // outer_names: names this graph may read from an enclosing scope (for
  // subgraphs); unresolved names are an error at build time for the top
  // level graph (allow_outer = false).
  GraphExecutor(const Graph& graph, const std::map<std::string, int64_t>& opsets, const KernelRegistry& registry,
                bool allow_outer);

  // inputs: values for graph.inputs in order (nullptr for an input that keeps
  // its initializer default). outer: enclosing scope for captured names.
  // peak_bytes: when given, receives the peak bytes held by intermediate
  // values during this run. control: a terminate flag checked between nodes
  // and where node timings go (pionnx/session.h RunControl).
  //
  // Reentrant: every value of a run lives in that run's own slots, kernels
  // are const once made (what they derive from weights is made once, under
  // std::call_once), so several threads may run one executor at once.
  std::vector<Value> run(const std::vector<const Value*>& inputs, ThreadPool& pool, const Scope* outer,
                         const std::vector<size_t>& wanted_outputs, int64_t* peak_bytes = nullptr,
                         const RunControl* control = nullptr) const;

  const Graph& graph() const { return graph_; }
  // A run whose live intermediates together pass `bytes` stops with an
  // InvalidArgument naming the node (`from_option`: the limit is the session's
  // max_memory_bytes, else this machine's RAM).
  void set_memory_limit(uint64_t bytes, bool from_option) {
    memory_limit_ = bytes;
    memory_limit_is_option_ = from_option;
  }

 private:
  struct Step {
    const Node* node;
    std::unique_ptr<Kernel> kernel;
    std::vector<int> inputs;   // slot per input, -1 when omitted
    std::vector<int> outputs;  // slot per output, -1 when unused
    std::vector<int> release;  // slots whose last reader is this step
    // Inputs the step may overwrite (kernels that compute in place): made by
    // an earlier node of this graph and read by nothing after this step.
    std::vector<int> donatable;
  };

  int slot_of(const std::string& name);

  const Graph& graph_;
  std::unordered_map<std::string, int> slots_;
  std::vector<std::string> slot_names_;
  std::vector<int> input_slots_, output_slots_;
  std::vector<std::pair<int, const Tensor*>> constants_;  // initializers
  // Each initializer as a Value, made once: a run reads them where they lie
  // (copying every one into the run's slots cost a shape allocation and a
  // reference count each, per run). constant_of_slot_[s]: slot s's, or null.
  std::vector<Value> constant_values_;
  std::vector<const Value*> constant_of_slot_;
  std::vector<int> outer_slots_;  // read from the enclosing scope
  std::vector<Step> steps_;
  uint64_t memory_limit_ = 0;  // 0: none (subgraphs)
  bool memory_limit_is_option_ = false;
};

// What kernels that run subgraphs get (KernelInfo::build_subgraph): a
// GraphExecutor over the subgraph, with the same opsets and registry.
// `opsets` and `registry` must outlive every subgraph made.
SubgraphBuilder subgraph_builder(const std::map<std::string, int64_t>& opsets, const KernelRegistry& registry);

}  // namespace pionnx
