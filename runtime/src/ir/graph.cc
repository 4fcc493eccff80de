#include "ir/graph.h"

#include "pionnx/status.h"

namespace pionnx {

std::string TypeInfo::str() const {
  switch (kind) {
    case Kind::Tensor: return str_cat("tensor(", dtype_name(elem), ")");
    case Kind::Sequence: return str_cat("seq(", inner ? inner->str() : std::string("unknown"), ")");
    case Kind::Optional: return str_cat("optional(", inner ? inner->str() : std::string("unknown"), ")");
    case Kind::Map: return str_cat("map(", dtype_name(elem), ",", inner ? inner->str() : std::string("unknown"), ")");
    default: return "unknown";
  }
}

const Attribute* Node::find(const std::string& attr) const {
  for (const Attribute& a : attrs)
    if (a.name == attr) return &a;
  return nullptr;
}

const Attribute& Node::require(const std::string& a) const {
  const Attribute* p = find(a);
  PIONNX_ENFORCE(p, InvalidGraph, describe(), ": required attribute '", a, "' is missing");
  return *p;
}

namespace {
void expect_type(const Node& n, const Attribute& a, Attribute::Type t, const char* want) {
  PIONNX_ENFORCE(a.type == t, InvalidGraph, n.describe(), ": attribute '", a.name, "' should be ", want, " (type code ",
                 static_cast<int>(a.type), ")");
}
}  // namespace

int64_t Node::attr_i(const std::string& a, int64_t def) const {
  const Attribute* p = find(a);
  if (!p) return def;
  expect_type(*this, *p, Attribute::Type::Int, "an int");
  return p->i;
}

float Node::attr_f(const std::string& a, float def) const {
  const Attribute* p = find(a);
  if (!p) return def;
  if (p->type == Attribute::Type::Int) return static_cast<float>(p->i);
  expect_type(*this, *p, Attribute::Type::Float, "a float");
  return p->f;
}

std::string Node::attr_s(const std::string& a, const std::string& def) const {
  const Attribute* p = find(a);
  if (!p) return def;
  expect_type(*this, *p, Attribute::Type::String, "a string");
  return p->s;
}

std::vector<int64_t> Node::attr_ints(const std::string& a, std::vector<int64_t> def) const {
  const Attribute* p = find(a);
  if (!p) return def;
  expect_type(*this, *p, Attribute::Type::Ints, "a list of ints");
  return p->ints;
}

std::vector<float> Node::attr_floats(const std::string& a, std::vector<float> def) const {
  const Attribute* p = find(a);
  if (!p) return def;
  expect_type(*this, *p, Attribute::Type::Floats, "a list of floats");
  return p->floats;
}

std::vector<std::string> Node::attr_strings(const std::string& a, std::vector<std::string> def) const {
  const Attribute* p = find(a);
  if (!p) return def;
  expect_type(*this, *p, Attribute::Type::Strings, "a list of strings");
  return p->strings;
}

const Tensor* Node::attr_t(const std::string& a) const {
  const Attribute* p = find(a);
  if (!p) return nullptr;
  expect_type(*this, *p, Attribute::Type::Tensor, "a tensor");
  return &p->t;
}

const Graph* Node::attr_g(const std::string& a) const {
  const Attribute* p = find(a);
  if (!p) return nullptr;
  expect_type(*this, *p, Attribute::Type::Graph, "a graph");
  return p->g.get();
}

std::string Node::describe() const {
  return str_cat(op_type, " (node '", name, "', domain ", domain.empty() ? "ai.onnx" : domain, ")");
}

size_t Node::num_inputs_present() const {
  size_t n = 0;
  for (const auto& s : inputs) n += !s.empty();
  return n;
}

void Graph::add_initializer(const std::string& name, Tensor t) {
  if (!initializers.count(name)) initializer_order.push_back(name);
  initializers[name] = std::move(t);
}

const ValueInfo* Graph::find_value_info(const std::string& name) const {
  for (const auto* list : {&inputs, &outputs, &value_info})
    for (const ValueInfo& v : *list)
      if (v.name == name) return &v;
  return nullptr;
}

void collect_names_read(const Graph& g, std::unordered_set<std::string>& out) {
  for (const Node& n : g.nodes) {
    for (const auto& in : n.inputs) out.insert(in);
    collect_subgraph_reads(n, out);
  }
  for (const ValueInfo& o : g.outputs) out.insert(o.name);
}

void collect_subgraph_reads(const Node& n, std::unordered_set<std::string>& out) {
  for (const Attribute& a : n.attrs) {
    if (a.g) collect_names_read(*a.g, out);
    for (const auto& sg : a.graphs) collect_names_read(*sg, out);
  }
}

int64_t Model::opset(const std::string& d) const {
  auto it = opsets.find(canonical_domain(d));
  return it == opsets.end() ? 0 : it->second;
}

}  // namespace pionnx
