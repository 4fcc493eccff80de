// The public entry point: load a model, run it.
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pionnx/tensor.h"
#include "pionnx/value.h"

namespace pionnx {

enum class OptLevel { Disabled = 0, Basic = 1, Extended = 2, All = 99 };

// What one model may claim; each refusal names its limit and how to raise it.
struct SessionLimits {
  uint64_t max_tensor_bytes = 0;        // one tensor (0: this machine's RAM)
  uint64_t max_memory_bytes = 0;        // a run's live intermediates together (0: this machine's RAM)
  int max_nesting_depth = 64;           // nested messages and graphs in the model file
  int64_t max_inlined_nodes = 1000000;  // nodes after expanding the model's own functions
};

struct SessionConfig {
  int intra_op_threads = 0;  // 0: physical cores
  OptLevel opt_level = OptLevel::All;
  int log_severity = -1;  // pionnx/log.h: -1 follows the default logger severity
  std::string logid;
  std::string optimized_model_path;  // write the optimized graph here if set
  // Optimizer passes not to run, by name (optimizer_names()); unknown names
  // are logged as a warning and ignored, as onnxruntime ignores them.
  std::vector<std::string> disabled_optimizers;
  SessionLimits limits;
};

// One node's run, for profiling: when it started (steady clock, ns), how
// long it took, and the types and shapes of what it read and wrote.
struct NodeEvent {
  std::string name, op_type;
  int64_t start_ns = 0, duration_ns = 0;
  struct Arg {
    std::string type;  // "float", "int64", ...; "seq" or "none" for non-tensors
    std::vector<int64_t> shape;
  };
  std::vector<Arg> inputs, outputs;
};

// Per-run controls. terminate: checked between nodes; once set, the run
// stops with pionnx::Error("Exiting due to terminate flag being set to
// true."). node_events: when given, receives one NodeEvent per node of the
// top-level graph.
struct RunControl {
  const std::atomic<bool>* terminate = nullptr;
  std::vector<NodeEvent>* node_events = nullptr;
};

// The optimizer passes, by the names SessionConfig::disabled_optimizers takes.
std::vector<std::string> optimizer_names();
// Nanoseconds of the steady clock NodeEvent::start_ns is measured on.
int64_t steady_clock_ns();

// One input/output as the user sees it. dims: -1 with a param name for a
// symbolic dimension, -1 with empty name for unknown.
struct ValueDesc {
  std::string name;
  std::string type;  // "tensor(float)", "seq(tensor(float))", ...
  DType elem = DType::Undefined;
  bool has_shape = false;
  std::vector<int64_t> dims;
  std::vector<std::string> dim_params;
};

struct ModelMeta {
  std::string producer_name, producer_version, domain, description, graph_name, graph_description;
  int64_t version = 0;
  std::vector<std::pair<std::string, std::string>> custom;
};

class SessionImpl;

class Session {
 public:
  // model_dir: folder for external data ("" when loading from bytes with no
  // external data allowed).
  Session(std::string_view model_bytes, const std::string& model_dir, const SessionConfig& cfg);
  static std::unique_ptr<Session> from_file(const std::string& path, const SessionConfig& cfg);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const std::vector<ValueDesc>& inputs() const;
  const std::vector<ValueDesc>& outputs() const;
  const std::vector<ValueDesc>& overridable_initializers() const;
  const ModelMeta& meta() const;

  // feeds: name -> value. output_names empty: all outputs in graph order.
  // Safe to call from several threads at once; the calls run in parallel,
  // each with its own intermediate values (the weights are shared).
  std::vector<Value> run(const std::vector<std::pair<std::string, Value>>& feeds,
                         const std::vector<std::string>& output_names, const RunControl& control = {});

  // Debug/profile facts: node count before/after optimization, peak bytes,
  // the most run() calls seen in progress at once.
  std::map<std::string, int64_t> profile() const;

 private:
  std::unique_ptr<SessionImpl> impl_;
};

// Parses a serialized TensorProto (no external data).
Tensor tensor_from_proto_bytes(const std::string& bytes);
// kind: "tensor", "sequence" or "optional" (TensorProto, SequenceProto,
// OptionalProto).
Value value_from_proto_bytes(const std::string& bytes, const std::string& kind);
// Threads a session uses when not told: the machine's physical cores.
int default_threads();
// Threads busy in parallel regions now, over all sessions, and the highest
// count seen (reset=true clears it): sessions share default_threads() cores.
int busy_threads();
int peak_busy_threads(bool reset = false);

const char* version();

}  // namespace pionnx
