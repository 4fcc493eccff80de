#include "proto/writer.h"

#include <cstring>
#include <fstream>

#include "core/small_floats.h"
#include "proto/onnx_fields.h"

namespace pionnx {
namespace proto {
namespace {

class Out {
 public:
  std::string buf;

  void varint(uint64_t v) {
    while (v >= 0x80) {
      buf.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    buf.push_back(static_cast<char>(v));
  }
  void key(uint32_t field, int wire) { varint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire)); }
  void int_field(uint32_t field, int64_t v) {
    key(field, 0);
    varint(static_cast<uint64_t>(v));
  }
  void float_field(uint32_t field, float f) {
    key(field, 5);
    char b[4];
    std::memcpy(b, &f, 4);
    buf.append(b, 4);
  }
  void bytes_field(uint32_t field, const std::string& s) {
    key(field, 2);
    varint(s.size());
    buf += s;
  }
  void bytes_field(uint32_t field, const void* p, size_t n) {
    key(field, 2);
    varint(n);
    buf.append(static_cast<const char*>(p), n);
  }
  // Omits empty strings (proto3-style default), as onnx's writer does.
  void str(uint32_t field, const std::string& s) {
    if (!s.empty()) bytes_field(field, s);
  }
  void msg(uint32_t field, const Out& o) { bytes_field(field, o.buf); }
  void packed_ints(uint32_t field, const std::vector<int64_t>& v) {
    if (v.empty()) return;
    Out o;
    for (int64_t x : v) o.varint(static_cast<uint64_t>(x));
    msg(field, o);
  }
  void packed_floats(uint32_t field, const std::vector<float>& v) {
    if (v.empty()) return;
    bytes_field(field, v.data(), v.size() * sizeof(float));
  }
};

Out tensor(const Tensor& t, const std::string& name) {
  Out o;
  o.packed_ints(fields::TensorProto::dims, t.shape());
  o.int_field(fields::TensorProto::data_type, static_cast<int64_t>(t.dtype()));
  if (t.dtype() == DType::String) {
    const std::string* s = t.data<std::string>();
    for (int64_t i = 0; i < t.numel(); ++i) o.bytes_field(fields::TensorProto::string_data, s[i]);
  } else if (dtype_is_packed(t.dtype())) {
    std::string packed(static_cast<size_t>(packed_size(t.dtype(), t.numel())), '\0');
    pack_packed(t.dtype(), static_cast<const uint8_t*>(t.raw()), reinterpret_cast<uint8_t*>(&packed[0]), t.numel());
    if (!packed.empty()) o.bytes_field(fields::TensorProto::raw_data, packed.data(), packed.size());
  } else if (t.nbytes() > 0) {
    o.bytes_field(fields::TensorProto::raw_data, t.raw(), t.nbytes());
  }
  o.str(fields::TensorProto::name, name);
  return o;
}

Out type_proto(const TypeInfo& t) {
  Out o;
  switch (t.kind) {
    case TypeInfo::Kind::Tensor: {
      Out tt;
      if (t.elem != DType::Undefined) tt.int_field(fields::TypeProto_Tensor::elem_type, static_cast<int64_t>(t.elem));
      if (t.has_shape) {
        Out sh;
        for (const Dim& d : t.dims) {
          Out dm;
          if (d.value >= 0) dm.int_field(fields::TensorShapeProto_Dimension::dim_value, d.value);
          else dm.str(fields::TensorShapeProto_Dimension::dim_param, d.param);
          sh.msg(fields::TensorShapeProto::dim, dm);
        }
        tt.msg(fields::TypeProto_Tensor::shape, sh);
      }
      o.msg(fields::TypeProto::tensor_type, tt);
      break;
    }
    case TypeInfo::Kind::Sequence:
    case TypeInfo::Kind::Optional: {
      Out inner;
      if (t.inner) inner.msg(fields::TypeProto_Sequence::elem_type, type_proto(*t.inner));
      o.msg(t.kind == TypeInfo::Kind::Sequence ? fields::TypeProto::sequence_type : fields::TypeProto::optional_type,
            inner);
      break;
    }
    case TypeInfo::Kind::Map: {
      Out m;
      if (t.elem != DType::Undefined) m.int_field(fields::TypeProto_Map::key_type, static_cast<int64_t>(t.elem));
      if (t.inner) m.msg(fields::TypeProto_Map::value_type, type_proto(*t.inner));
      o.msg(fields::TypeProto::map_type, m);
      break;
    }
    default: break;  // Unknown: nothing to write
  }
  return o;
}

Out value_info(const ValueInfo& v) {
  Out o;
  o.str(fields::ValueInfoProto::name, v.name);
  if (v.type.kind != TypeInfo::Kind::Unknown) o.msg(fields::ValueInfoProto::type, type_proto(v.type));
  o.str(fields::ValueInfoProto::doc_string, v.doc);
  return o;
}

Out graph(const Graph& g, bool* uses_ms);

Out attribute(const Attribute& a, bool* uses_ms) {
  Out o;
  o.str(fields::AttributeProto::name, a.name);
  using T = Attribute::Type;
  switch (a.type) {
    case T::Float: o.float_field(fields::AttributeProto::f, a.f); break;
    case T::Int: o.int_field(fields::AttributeProto::i, a.i); break;
    case T::String: o.bytes_field(fields::AttributeProto::s, a.s); break;
    case T::Tensor: o.msg(fields::AttributeProto::t, tensor(a.t, "")); break;
    case T::Graph:
      if (a.g) o.msg(fields::AttributeProto::g, graph(*a.g, uses_ms));
      break;
    case T::Floats: o.packed_floats(fields::AttributeProto::floats, a.floats); break;
    case T::Ints: o.packed_ints(fields::AttributeProto::ints, a.ints); break;
    case T::Strings:
      for (const auto& s : a.strings) o.bytes_field(fields::AttributeProto::strings, s);
      break;
    case T::Tensors:
      for (const auto& t : a.tensors) o.msg(fields::AttributeProto::tensors, tensor(t, ""));
      break;
    case T::Graphs:
      for (const auto& sg : a.graphs) o.msg(fields::AttributeProto::graphs, graph(*sg, uses_ms));
      break;
    case T::TypeProto: o.msg(fields::AttributeProto::tp, type_proto(a.tp)); break;
    default: break;
  }
  o.str(fields::AttributeProto::ref_attr_name, a.ref_attr_name);
  o.int_field(fields::AttributeProto::type, static_cast<int64_t>(a.type));
  return o;
}

Out node(const Node& n, bool* uses_ms) {
  Out o;
  for (const auto& in : n.inputs) o.bytes_field(fields::NodeProto::input, in);
  for (const auto& out : n.outputs) o.bytes_field(fields::NodeProto::output, out);
  o.str(fields::NodeProto::name, n.name);
  bool fused = n.op_type == "Conv" && n.domain.empty() && n.has("activation");
  o.str(fields::NodeProto::op_type, fused ? std::string("FusedConv") : n.op_type);
  for (const Attribute& a : n.attrs) o.msg(fields::NodeProto::attribute, attribute(a, uses_ms));
  o.str(fields::NodeProto::doc_string, n.doc);
  if (fused) {
    o.str(fields::NodeProto::domain, "com.microsoft");
    *uses_ms = true;
  } else {
    o.str(fields::NodeProto::domain, n.domain);
  }
  return o;
}

Out graph(const Graph& g, bool* uses_ms) {
  Out o;
  for (const Node& n : g.nodes) o.msg(fields::GraphProto::node, node(n, uses_ms));
  o.str(fields::GraphProto::name, g.name);
  for (const std::string& name : g.initializer_order)
    o.msg(fields::GraphProto::initializer, tensor(g.initializers.at(name), name));
  o.str(fields::GraphProto::doc_string, g.doc);
  for (const ValueInfo& v : g.inputs) o.msg(fields::GraphProto::input, value_info(v));
  for (const ValueInfo& v : g.outputs) o.msg(fields::GraphProto::output, value_info(v));
  for (const ValueInfo& v : g.value_info) o.msg(fields::GraphProto::value_info, value_info(v));
  return o;
}

}  // namespace

std::string serialize_model(const Model& m) {
  bool uses_ms = false;
  Out gr = graph(m.graph, &uses_ms);
  Out o;
  // IR < 4 requires every initializer to be a graph input; folded ones are not.
  o.int_field(fields::ModelProto::ir_version, m.ir_version > 4 ? m.ir_version : 4);
  o.str(fields::ModelProto::producer_name, m.producer_name.empty() ? std::string("pionnx") : m.producer_name);
  o.str(fields::ModelProto::producer_version, m.producer_version);
  o.str(fields::ModelProto::domain, m.domain);
  if (m.model_version) o.int_field(fields::ModelProto::model_version, m.model_version);
  o.str(fields::ModelProto::doc_string, m.doc);
  o.msg(fields::ModelProto::graph, gr);
  auto opsets = m.opsets;
  if (uses_ms && !opsets.count("com.microsoft")) opsets["com.microsoft"] = 1;
  for (const auto& kv : opsets) {
    Out op;
    op.str(fields::OperatorSetIdProto::domain, kv.first);
    op.int_field(fields::OperatorSetIdProto::version, kv.second);
    o.msg(fields::ModelProto::opset_import, op);
  }
  for (const auto& kv : m.metadata) {
    Out e;
    e.str(fields::StringStringEntryProto::key, kv.first);
    e.str(fields::StringStringEntryProto::value, kv.second);
    o.msg(fields::ModelProto::metadata_props, e);
  }
  return o.buf;
}

void write_model_file(const Model& m, const std::string& path) {
  std::string bytes = serialize_model(m);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  PIONNX_ENFORCE(f.good(), Error, "cannot open '", path, "' to write the optimized model");
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  f.close();
  PIONNX_ENFORCE(f.good(), Error, "writing the optimized model to '", path, "' failed");
}

}  // namespace proto
}  // namespace pionnx
