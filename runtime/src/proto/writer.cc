#include "proto/writer.h"

#include <cstring>
#include <fstream>

#include "core/small_floats.h"

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
  o.packed_ints(1, t.shape());
  o.int_field(2, static_cast<int64_t>(t.dtype()));
  if (t.dtype() == DType::String) {
    const std::string* s = t.data<std::string>();
    for (int64_t i = 0; i < t.numel(); ++i) o.bytes_field(6, s[i]);
  } else if (dtype_is_4bit(t.dtype())) {
    std::string packed(static_cast<size_t>((t.numel() + 1) / 2), '\0');
    pack_4bit(static_cast<const uint8_t*>(t.raw()), reinterpret_cast<uint8_t*>(&packed[0]), t.numel());
    if (!packed.empty()) o.bytes_field(9, packed.data(), packed.size());
  } else if (t.nbytes() > 0) {
    o.bytes_field(9, t.raw(), t.nbytes());
  }
  o.str(8, name);
  return o;
}

Out type_proto(const TypeInfo& t) {
  Out o;
  switch (t.kind) {
    case TypeInfo::Kind::Tensor: {
      Out tt;
      if (t.elem != DType::Undefined) tt.int_field(1, static_cast<int64_t>(t.elem));
      if (t.has_shape) {
        Out sh;
        for (const Dim& d : t.dims) {
          Out dm;
          if (d.value >= 0) dm.int_field(1, d.value);
          else dm.str(2, d.param);
          sh.msg(1, dm);
        }
        tt.msg(2, sh);
      }
      o.msg(1, tt);
      break;
    }
    case TypeInfo::Kind::Sequence:
    case TypeInfo::Kind::Optional: {
      Out inner;
      if (t.inner) inner.msg(1, type_proto(*t.inner));
      o.msg(t.kind == TypeInfo::Kind::Sequence ? 4 : 9, inner);
      break;
    }
    case TypeInfo::Kind::Map: {
      Out m;
      if (t.elem != DType::Undefined) m.int_field(1, static_cast<int64_t>(t.elem));
      if (t.inner) m.msg(2, type_proto(*t.inner));
      o.msg(5, m);
      break;
    }
    default: break;  // Unknown: nothing to write
  }
  return o;
}

Out value_info(const ValueInfo& v) {
  Out o;
  o.str(1, v.name);
  if (v.type.kind != TypeInfo::Kind::Unknown) o.msg(2, type_proto(v.type));
  o.str(3, v.doc);
  return o;
}

Out graph(const Graph& g, bool* uses_ms);

Out attribute(const Attribute& a, bool* uses_ms) {
  Out o;
  o.str(1, a.name);
  using T = Attribute::Type;
  switch (a.type) {
    case T::Float: o.float_field(2, a.f); break;
    case T::Int: o.int_field(3, a.i); break;
    case T::String: o.bytes_field(4, a.s); break;
    case T::Tensor: o.msg(5, tensor(a.t, "")); break;
    case T::Graph:
      if (a.g) o.msg(6, graph(*a.g, uses_ms));
      break;
    case T::Floats: o.packed_floats(7, a.floats); break;
    case T::Ints: o.packed_ints(8, a.ints); break;
    case T::Strings:
      for (const auto& s : a.strings) o.bytes_field(9, s);
      break;
    case T::Tensors:
      for (const auto& t : a.tensors) o.msg(10, tensor(t, ""));
      break;
    case T::Graphs:
      for (const auto& sg : a.graphs) o.msg(11, graph(*sg, uses_ms));
      break;
    case T::TypeProto: o.msg(14, type_proto(a.tp)); break;
    default: break;
  }
  o.str(21, a.ref_attr_name);
  o.int_field(20, static_cast<int64_t>(a.type));
  return o;
}

Out node(const Node& n, bool* uses_ms) {
  Out o;
  for (const auto& in : n.inputs) o.bytes_field(1, in);
  for (const auto& out : n.outputs) o.bytes_field(2, out);
  o.str(3, n.name);
  bool fused = n.op_type == "Conv" && n.domain.empty() && n.has("activation");
  o.str(4, fused ? std::string("FusedConv") : n.op_type);
  for (const Attribute& a : n.attrs) o.msg(5, attribute(a, uses_ms));
  o.str(6, n.doc);
  if (fused) {
    o.str(7, "com.microsoft");
    *uses_ms = true;
  } else {
    o.str(7, n.domain);
  }
  return o;
}

Out graph(const Graph& g, bool* uses_ms) {
  Out o;
  for (const Node& n : g.nodes) o.msg(1, node(n, uses_ms));
  o.str(2, g.name);
  for (const std::string& name : g.initializer_order) o.msg(5, tensor(g.initializers.at(name), name));
  o.str(10, g.doc);
  for (const ValueInfo& v : g.inputs) o.msg(11, value_info(v));
  for (const ValueInfo& v : g.outputs) o.msg(12, value_info(v));
  for (const ValueInfo& v : g.value_info) o.msg(13, value_info(v));
  return o;
}

}  // namespace

std::string serialize_model(const Model& m) {
  bool uses_ms = false;
  Out gr = graph(m.graph, &uses_ms);
  Out o;
  // IR < 4 requires every initializer to be a graph input; folded ones are not.
  o.int_field(1, m.ir_version > 4 ? m.ir_version : 4);
  o.str(2, m.producer_name.empty() ? std::string("pionnx") : m.producer_name);
  o.str(3, m.producer_version);
  o.str(4, m.domain);
  if (m.model_version) o.int_field(5, m.model_version);
  o.str(6, m.doc);
  o.msg(7, gr);
  auto opsets = m.opsets;
  if (uses_ms && !opsets.count("com.microsoft")) opsets["com.microsoft"] = 1;
  for (const auto& kv : opsets) {
    Out op;
    op.str(1, kv.first);
    op.int_field(2, kv.second);
    o.msg(8, op);
  }
  for (const auto& kv : m.metadata) {
    Out e;
    e.str(1, kv.first);
    e.str(2, kv.second);
    o.msg(14, e);
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
