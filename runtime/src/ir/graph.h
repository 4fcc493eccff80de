// The in-memory model: what the proto decoder fills and the optimizer and
// executor read. Names link values; the executor maps them to slots.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "pionnx/tensor.h"

namespace pionnx {

struct Graph;

struct Dim {
  int64_t value = -1;  // >= 0 when known
  std::string param;   // symbolic name, when given
};

// The type of a graph input/output/value_info.
struct TypeInfo {
  enum class Kind { Unknown, Tensor, Sequence, Optional, Map };
  Kind kind = Kind::Unknown;
  DType elem = DType::Undefined;  // tensor element type
  bool has_shape = false;
  std::vector<Dim> dims;
  std::shared_ptr<TypeInfo> inner;  // element type of Sequence/Optional

  std::string str() const;  // "tensor(float)", "seq(tensor(int64))", ...
};

struct ValueInfo {
  std::string name;
  TypeInfo type;
  std::string doc;
};

struct Attribute {
  // Numbered as ONNX's AttributeProto.AttributeType.
  enum class Type {
    Undefined = 0,
    Float = 1,
    Int = 2,
    String = 3,
    Tensor = 4,
    Graph = 5,
    Floats = 6,
    Ints = 7,
    Strings = 8,
    Tensors = 9,
    Graphs = 10,
    SparseTensor = 11,
    SparseTensors = 12,
    TypeProto = 13,
    TypeProtos = 14,
  };
  std::string name;
  Type type = Type::Undefined;
  std::string ref_attr_name;  // inside functions: bound at inlining
  float f = 0;
  int64_t i = 0;
  std::string s;
  Tensor t;
  std::shared_ptr<Graph> g;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<Tensor> tensors;
  std::vector<std::shared_ptr<Graph>> graphs;
  TypeInfo tp;
};

struct Node {
  std::string name, op_type, domain;  // domain "" means ai.onnx
  std::vector<std::string> inputs;    // "" for an omitted optional input
  std::vector<std::string> outputs;
  std::vector<Attribute> attrs;
  std::string doc;

  const Attribute* find(const std::string& attr) const;
  bool has(const std::string& attr) const { return find(attr) != nullptr; }
  int64_t attr_i(const std::string& a, int64_t def) const;
  float attr_f(const std::string& a, float def) const;
  std::string attr_s(const std::string& a, const std::string& def) const;
  std::vector<int64_t> attr_ints(const std::string& a, std::vector<int64_t> def = {}) const;
  std::vector<float> attr_floats(const std::string& a, std::vector<float> def = {}) const;
  std::vector<std::string> attr_strings(const std::string& a, std::vector<std::string> def = {}) const;
  const Tensor* attr_t(const std::string& a) const;  // nullptr when absent
  const Graph* attr_g(const std::string& a) const;   // nullptr when absent
  // Throws InvalidGraph naming node and attribute when missing.
  const Attribute& require(const std::string& a) const;
  // "Conv (node 'conv1', domain ai.onnx)" for messages.
  std::string describe() const;
  size_t num_inputs_present() const;
  bool input_present(size_t i) const { return i < inputs.size() && !inputs[i].empty(); }
};

struct Graph {
  std::string name, doc;
  std::vector<Node> nodes;
  std::vector<ValueInfo> inputs, outputs, value_info;
  std::vector<std::string> initializer_order;
  std::unordered_map<std::string, Tensor> initializers;

  void add_initializer(const std::string& name, Tensor t);
  const ValueInfo* find_value_info(const std::string& name) const;
};

// A model-local function (FunctionProto); inlined before execution.
struct Function {
  std::string name, domain;
  std::vector<std::string> inputs, outputs, attributes;
  std::vector<Attribute> attribute_defaults;
  std::vector<Node> nodes;
  std::map<std::string, int64_t> opsets;
};

struct Model {
  int64_t ir_version = 0;
  std::map<std::string, int64_t> opsets;  // domain ("" = ai.onnx) -> version
  std::string producer_name, producer_version, domain, doc;
  int64_t model_version = 0;
  std::vector<std::pair<std::string, std::string>> metadata;
  Graph graph;
  std::vector<Function> functions;

  int64_t opset(const std::string& domain) const;  // 0 when not imported
};

// Every name read inside g (node inputs and graph outputs, at any depth of
// nested subgraphs). For a node's subgraph these are the outer-scope names
// it may capture, which keep their producers alive.
void collect_names_read(const Graph& g, std::unordered_set<std::string>& out);
// The same for all subgraphs attached to one node.
void collect_subgraph_reads(const Node& n, std::unordered_set<std::string>& out);

// "" and "ai.onnx" are the same domain.
inline std::string canonical_domain(const std::string& d) { return d == "ai.onnx" ? std::string() : d; }

}  // namespace pionnx
