#include "exec/graph_executor.h"

#include <atomic>
#include <chrono>

#include <algorithm>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "platform/thread_pool.h"

namespace pionnx {

namespace {

// Kahn's algorithm over name dependencies; keeps the file order among ready
// nodes so execution is deterministic.
std::vector<const Node*> topo_sort(const Graph& g, const std::unordered_set<std::string>& available) {
  std::unordered_map<std::string, size_t> producer;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (const auto& o : g.nodes[i].outputs)
      if (!o.empty()) producer[o] = i;
  std::vector<int> pending(g.nodes.size(), 0);
  std::vector<std::vector<size_t>> users(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    std::unordered_set<size_t> deps;
    for (const auto& in : g.nodes[i].inputs) {
      if (in.empty()) continue;
      auto it = producer.find(in);
      if (it != producer.end()) {
        // A name produced by a node shadows an input/initializer of the same
        // name only if the node is not this one.
        if (it->second != i) deps.insert(it->second);
      }
    }
    // Subgraphs may read values of this graph by name: those are
    // dependencies too.
    std::unordered_set<std::string> captured;
    collect_subgraph_reads(g.nodes[i], captured);
    for (const auto& in : captured) {
      auto it = producer.find(in);
      if (!in.empty() && it != producer.end() && it->second != i) deps.insert(it->second);
    }
    pending[i] = static_cast<int>(deps.size());
    for (size_t d : deps) users[d].push_back(i);
  }
  std::priority_queue<size_t, std::vector<size_t>, std::greater<size_t>> ready;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (pending[i] == 0) ready.push(i);
  std::vector<const Node*> order;
  while (!ready.empty()) {
    size_t i = ready.top();
    ready.pop();
    order.push_back(&g.nodes[i]);
    for (size_t u : users[i])
      if (--pending[u] == 0) ready.push(u);
  }
  if (order.size() != g.nodes.size()) {
    for (size_t i = 0; i < g.nodes.size(); ++i)
      if (pending[i] > 0)
        throw InvalidGraph(str_cat("graph '", g.name, "' has a cycle through ", g.nodes[i].describe()));
  }
  (void)available;
  return order;
}

// Slot s of a run: its value, else (unset) the graph's initializer there.
const Value* slot_value(const std::vector<Value>& values, const std::vector<const Value*>& constants, int s) {
  if (values[s].kind != Value::Kind::None) return &values[s];
  return constants[s];
}

class RunScope : public Scope {
 public:
  RunScope(const std::unordered_map<std::string, int>& slots, const std::vector<Value>& values,
           const std::vector<const Value*>& constants, const Scope* outer, const std::atomic<bool>* terminate)
      : slots_(slots), values_(values), constants_(constants), outer_(outer), terminate_(terminate) {}
  const Value* lookup(const std::string& name) const override {
    auto it = slots_.find(name);
    if (it != slots_.end())
      if (const Value* v = slot_value(values_, constants_, it->second)) return v;
    return outer_ ? outer_->lookup(name) : nullptr;
  }
  const std::atomic<bool>* terminate_flag() const override { return terminate_; }

 private:
  const std::unordered_map<std::string, int>& slots_;
  const std::vector<Value>& values_;
  const std::vector<const Value*>& constants_;
  const Scope* outer_;
  const std::atomic<bool>* terminate_;
};

int64_t value_bytes(const Value& v) {
  if (v.kind == Value::Kind::Tensor) return static_cast<int64_t>(v.tensor.nbytes());
  int64_t b = 0;
  for (const Tensor& t : v.sequence) b += static_cast<int64_t>(t.nbytes());
  return b;
}

// Every value is defined once: a graph input (an initializer may give it a
// default), an initializer, or one output of one node. A second definition
// would let a node read a slot that nothing has written yet.
void check_single_assignment(const Graph& graph) {
  std::unordered_set<std::string> inputs;
  for (const ValueInfo& in : graph.inputs) inputs.insert(in.name);
  std::unordered_map<std::string, const Node*> defined_by;
  for (const Node& n : graph.nodes)
    for (const std::string& out : n.outputs) {
      if (out.empty()) continue;
      PIONNX_ENFORCE(!inputs.count(out), InvalidGraph, n.describe(), ": output '", out,
                     "' is already defined as an input of graph '", graph.name, "'");
      PIONNX_ENFORCE(!graph.initializers.count(out), InvalidGraph, n.describe(), ": output '", out,
                     "' is already defined as an initializer of graph '", graph.name, "'");
      auto [it, fresh] = defined_by.emplace(out, &n);
      PIONNX_ENFORCE(fresh, InvalidGraph, n.describe(), ": output '", out, "' is also written by ",
                     it->second == &n ? std::string("this node") : it->second->describe(),
                     " (each value must be defined once)");
    }
}

// KernelInfo::output_heads for every produced name: the num_heads of the
// MultiHeadAttention nodes that are its only readers, directly or through one
// Reshape whose only readers they are (the packed query AttentionQkvPacking
// makes), as query, key or value; 0 where any other node or a graph output
// reads it, or the attentions disagree.
std::unordered_map<std::string, int64_t> heads_reading(const Graph& graph) {
  std::unordered_map<std::string, std::vector<std::pair<const Node*, size_t>>> readers;
  for (const Node& n : graph.nodes)
    for (size_t i = 0; i < n.inputs.size(); ++i)
      if (!n.inputs[i].empty()) readers[n.inputs[i]].push_back({&n, i});
  for (const ValueInfo& out : graph.outputs) readers[out.name].push_back({nullptr, 0});
  auto attention_heads = [&](const std::string& name) -> int64_t {
    auto it = readers.find(name);
    if (it == readers.end()) return 0;
    int64_t heads = 0;
    for (const auto& [n, i] : it->second) {
      if (n == nullptr || n->domain != "com.microsoft" || n->op_type != "MultiHeadAttention" || i > 2) return 0;
      const int64_t h = n->attr_i("num_heads", 0);
      if (h <= 0 || (heads != 0 && h != heads)) return 0;
      heads = h;
    }
    return heads;
  };
  std::unordered_map<std::string, int64_t> heads;
  for (const Node& n : graph.nodes)
    for (const std::string& out : n.outputs) {
      if (out.empty()) continue;
      int64_t h = attention_heads(out);
      auto it = readers.find(out);
      if (h == 0 && it != readers.end() && it->second.size() == 1 && it->second[0].first != nullptr) {
        const Node& r = *it->second[0].first;
        if (r.domain.empty() && r.op_type == "Reshape" && it->second[0].second == 0 && r.outputs.size() == 1)
          h = attention_heads(r.outputs[0]);
      }
      if (h > 0) heads[out] = h;
    }
  return heads;
}

}  // namespace

int GraphExecutor::slot_of(const std::string& name) {
  auto it = slots_.find(name);
  if (it != slots_.end()) return it->second;
  int s = static_cast<int>(slot_names_.size());
  slots_[name] = s;
  slot_names_.push_back(name);
  return s;
}

GraphExecutor::GraphExecutor(const Graph& graph, const std::map<std::string, int64_t>& opsets,
                             const KernelRegistry& registry, bool allow_outer)
    : graph_(graph) {
  check_single_assignment(graph);
  std::unordered_set<std::string> available;
  for (const ValueInfo& in : graph.inputs) {
    PIONNX_ENFORCE(!in.name.empty(), InvalidGraph, "graph '", graph.name, "' has an input without a name");
    input_slots_.push_back(slot_of(in.name));
    available.insert(in.name);
  }
  for (const std::string& name : graph.initializer_order) {
    constants_.push_back({slot_of(name), &graph.initializers.at(name)});
    available.insert(name);
  }

  std::vector<const Node*> order = topo_sort(graph, available);
  std::unordered_set<std::string> graph_inputs;
  for (const ValueInfo& in : graph.inputs) graph_inputs.insert(in.name);
  std::unordered_set<std::string> produced_anywhere;
  for (const Node& n : graph.nodes)
    for (const std::string& out : n.outputs) produced_anywhere.insert(out);
  std::unordered_set<std::string> produced;
  // One builder for every kernel of this graph that runs a subgraph.
  const SubgraphBuilder build_subgraph = subgraph_builder(opsets, registry);
  const std::unordered_map<std::string, int64_t> heads = heads_reading(graph);
  for (const Node* n : order) {
    Step st;
    st.node = n;
    for (const std::string& in : n->inputs) {
      if (in.empty()) {
        st.inputs.push_back(-1);
        continue;
      }
      if (!available.count(in) && !produced.count(in)) {
        PIONNX_ENFORCE(allow_outer, InvalidGraph, n->describe(), ": input '", in,
                       "' is not a graph input, an initializer or the output of an earlier node");
        outer_slots_.push_back(slot_of(in));
        available.insert(in);
      }
      st.inputs.push_back(slot_of(in));
    }
    for (const std::string& out : n->outputs) {
      st.outputs.push_back(out.empty() ? -1 : slot_of(out));
      if (!out.empty()) produced.insert(out);
    }
    // Names read by subgraphs from this scope must stay alive until this
    // node has run.
    auto it_domain = opsets.find(n->domain);
    PIONNX_ENFORCE(it_domain != opsets.end(), InvalidGraph, n->describe(), ": domain '",
                   n->domain.empty() ? "ai.onnx" : n->domain, "' is not in the model's opset_import");
    int64_t opset = it_domain->second;
    const KernelFactory* f = registry.find(n->domain, n->op_type, opset);
    if (!f) {
      std::string dom = n->domain.empty() ? "ai.onnx" : n->domain;
      if (registry.has_op(n->domain, n->op_type))
        throw NotImplemented(str_cat("operator ", n->op_type, " (domain ", dom, ") is not implemented for opset ",
                                     opset, " (node '", n->name, "')"));
      throw NotImplemented(str_cat("unsupported operator: op type '", n->op_type, "', domain '", dom, "', opset ",
                                   opset, " (node '", n->name, "')"));
    }
    KernelInfo info{*n, opset, opsets};
    info.build_subgraph = build_subgraph;
    for (const std::string& out : n->outputs) {
      auto h = out.empty() ? heads.end() : heads.find(out);
      info.output_heads.push_back(h == heads.end() ? 0 : h->second);
    }
    for (const std::string& in : n->inputs) {
      auto it = in.empty() ? graph.initializers.end() : graph.initializers.find(in);
      const bool constant = it != graph.initializers.end() && !graph_inputs.count(in) && !produced_anywhere.count(in);
      info.constant_inputs.push_back(constant ? &it->second : nullptr);
    }
    st.kernel = (*f)(info);
    steps_.push_back(std::move(st));
  }

  for (const ValueInfo& out : graph.outputs) {
    PIONNX_ENFORCE(available.count(out.name) || produced.count(out.name) || allow_outer, InvalidGraph, "graph '",
                   graph.name, "' output '", out.name, "' is not produced by any node");
    if (!available.count(out.name) && !produced.count(out.name)) outer_slots_.push_back(slot_of(out.name));
    output_slots_.push_back(slot_of(out.name));
  }

  // Last reader of every slot; graph outputs are never released. Names read
  // inside a node's subgraphs count as read by that node.
  std::vector<int> last(slot_names_.size(), -1);
  for (size_t i = 0; i < steps_.size(); ++i) {
    for (int s : steps_[i].inputs)
      if (s >= 0) last[s] = static_cast<int>(i);
    std::unordered_set<std::string> captured;
    collect_subgraph_reads(*steps_[i].node, captured);
    for (const auto& name : captured) {
      auto it = slots_.find(name);
      if (it != slots_.end()) last[it->second] = std::max(last[it->second], static_cast<int>(i));
    }
  }
  for (int s : output_slots_) last[s] = -1;
  for (size_t s = 0; s < last.size(); ++s)
    if (last[s] >= 0) steps_[last[s]].release.push_back(static_cast<int>(s));
  std::vector<bool> made_here(slot_names_.size(), false);
  for (const Step& st : steps_)
    for (int o : st.outputs)
      if (o >= 0) made_here[o] = true;
  for (int s : input_slots_) made_here[s] = false;
  for (const auto& c : constants_) made_here[c.first] = false;
  for (int s : outer_slots_) made_here[s] = false;
  for (Step& st : steps_)
    for (int s : st.release)
      if (made_here[s] && std::find(st.inputs.begin(), st.inputs.end(), s) != st.inputs.end())
        st.donatable.push_back(s);
  constant_values_.reserve(constants_.size());
  for (const auto& c : constants_) constant_values_.emplace_back(*c.second);
  constant_of_slot_.assign(slot_names_.size(), nullptr);
  for (size_t i = 0; i < constants_.size(); ++i) constant_of_slot_[constants_[i].first] = &constant_values_[i];
}

namespace {

// What a profile records of one input or output of a node.
NodeEvent::Arg event_arg(const Value* v) {
  NodeEvent::Arg a;
  if (v == nullptr || v->kind == Value::Kind::None) {
    a.type = "none";
  } else if (v->is_tensor()) {
    a.type = dtype_name(v->tensor.dtype());
    a.shape = v->tensor.shape();
  } else {
    a.type = "seq";
    a.shape = {static_cast<int64_t>(v->sequence.size())};
  }
  return a;
}

}  // namespace

int64_t steady_clock_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::vector<Value> GraphExecutor::run(const std::vector<const Value*>& inputs, ThreadPool& pool, const Scope* outer,
                                      const std::vector<size_t>& wanted_outputs, int64_t* peak_bytes,
                                      const RunControl* control) const {
  // A subgraph's run (If/Loop/Scan bodies) has no RunControl of its own: it takes the enclosing run's terminate
  // flag from its scope, so RunOptions.terminate stops a long loop between the body's nodes too.
  const std::atomic<bool>* terminate = control ? control->terminate : (outer ? outer->terminate_flag() : nullptr);
  std::vector<NodeEvent>* events = control ? control->node_events : nullptr;
  std::vector<Value> values(slot_names_.size());  // initializers: constant_of_slot_ unless an input sets the slot
  for (size_t i = 0; i < input_slots_.size() && i < inputs.size(); ++i)
    if (inputs[i]) values[input_slots_[i]] = *inputs[i];
  for (int s : outer_slots_) {
    const Value* v = outer ? outer->lookup(slot_names_[s]) : nullptr;
    PIONNX_ENFORCE(v, InvalidGraph, "graph '", graph_.name, "' reads '", slot_names_[s],
                   "' from an enclosing scope, but no such value exists");
    values[s] = *v;
  }
  RunScope scope(slots_, values, constant_of_slot_, outer, terminate);

  // Bytes of values made during this run (inputs and weights not counted).
  int64_t live = 0, peak = 0;
  std::vector<int64_t> made(values.size(), 0);
  for (const Step& st : steps_) {
    stop_if_terminated(terminate);
    std::vector<const Value*> ins(st.inputs.size(), nullptr);
    for (size_t i = 0; i < st.inputs.size(); ++i) {
      int s = st.inputs[i];
      if (s < 0) continue;
      // An empty optional flows as None: kernels see it as omitted.
      ins[i] = slot_value(values, constant_of_slot_, s);
    }
    std::vector<Value*> outs(st.outputs.size(), nullptr);
    for (size_t i = 0; i < st.outputs.size(); ++i)
      if (st.outputs[i] >= 0) outs[i] = &values[st.outputs[i]];
    KernelContext ctx(*st.node, std::move(ins), std::move(outs), &pool, &scope);
    if (!st.donatable.empty() && st.kernel->computes_in_place()) {
      std::vector<Value*> donors;
      for (int s : st.donatable)
        if (values[s].is_tensor() && values[s].tensor.storage().use_count() == 1) donors.push_back(&values[s]);
      ctx.set_donors(std::move(donors));
    }
    NodeEvent* event = nullptr;
    if (events) {
      events->push_back(NodeEvent{st.node->name, st.node->op_type, 0, 0, {}, {}});
      event = &events->back();
      for (int s : st.inputs)
        event->inputs.push_back(event_arg(s < 0 ? nullptr : slot_value(values, constant_of_slot_, s)));
      event->start_ns = steady_clock_ns();
    }
    try {
      st.kernel->compute(ctx);
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(str_cat("running ", st.node->describe(), ": ", e.what()));
    } catch (const NotImplemented& e) {
      throw NotImplemented(str_cat("running ", st.node->describe(), ": ", e.what()));
    } catch (const InvalidGraph& e) {
      throw InvalidGraph(str_cat("running ", st.node->describe(), ": ", e.what()));
    } catch (const std::bad_alloc&) {
      throw Error(str_cat("running ", st.node->describe(), ": out of memory"));
    }
    if (event) {
      event->duration_ns = steady_clock_ns() - event->start_ns;
      for (int s : st.outputs) event->outputs.push_back(event_arg(s < 0 ? nullptr : &values[s]));
    }
    for (int s : st.outputs)
      if (s >= 0) {
        made[s] = value_bytes(values[s]);
        live += made[s];
        // An output written into a donated input takes over its bytes.
        for (int d : st.donatable)
          if (made[d] && values[s].is_tensor() && values[d].is_tensor() &&
              values[s].tensor.storage() == values[d].tensor.storage()) {
            live -= made[d];
            made[d] = 0;
          }
      }
    peak = std::max(peak, live);
    PIONNX_ENFORCE(memory_limit_ == 0 || static_cast<uint64_t>(live) <= memory_limit_, InvalidArgument, "running ",
                   st.node->describe(), ": the run's live intermediates reach ", live, " bytes, over the limit of ",
                   memory_limit_, " bytes (",
                   memory_limit_is_option_ ? "SessionOptions.max_memory_bytes" : "this machine's RAM",
                   "; raise it with SessionOptions.max_memory_bytes)");
    for (int s : st.release) {
      live -= made[s];
      made[s] = 0;
      values[s] = Value();
    }
  }
  if (peak_bytes) *peak_bytes = peak;

  std::vector<Value> out;
  out.reserve(wanted_outputs.size());
  for (size_t i : wanted_outputs) {
    const Value* v = slot_value(values, constant_of_slot_, output_slots_.at(i));
    out.push_back(v ? *v : Value());
  }
  return out;
}

namespace {

class ExecutorSubgraph final : public Subgraph {
 public:
  ExecutorSubgraph(const Graph& g, const std::map<std::string, int64_t>& opsets, const KernelRegistry& registry)
      : exec_(g, opsets, registry, /*allow_outer=*/true) {}
  const Graph& graph() const override { return exec_.graph(); }
  std::vector<Value> run(const std::vector<const Value*>& inputs, ThreadPool& pool, const Scope* outer,
                         const std::vector<size_t>& wanted_outputs) const override {
    return exec_.run(inputs, pool, outer, wanted_outputs);
  }

 private:
  GraphExecutor exec_;
};

}  // namespace

SubgraphBuilder subgraph_builder(const std::map<std::string, int64_t>& opsets, const KernelRegistry& registry) {
  return [&opsets, &registry](const Graph& g) -> std::unique_ptr<Subgraph> {
    return std::make_unique<ExecutorSubgraph>(g, opsets, registry);
  };
}

}  // namespace pionnx
