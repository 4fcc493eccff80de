#include "proto/onnx.h"

#include <sys/stat.h>

#include <climits>
#include <cstdlib>
#include <utility>
#include <vector>

#include "core/small_floats.h"
#include "platform/file_io.h"
#include "proto/onnx_fields.h"
#include "proto/wire.h"

namespace pionnx {
namespace proto {

static_assert(fields::TypeProto_Sequence::elem_type == fields::TypeProto_Optional::elem_type,
              "type_proto reads sequence_type and optional_type alike");
namespace {

struct Reader {
  const LoadContext& ctx;
  int depth = 0;

  struct DepthGuard {
    Reader& r;
    explicit DepthGuard(Reader& r, size_t at) : r(r) {
      if (++r.depth > r.ctx.max_depth)
        WireReader::fail(at, str_cat("messages nested too deeply (more than ", r.ctx.max_depth,
                                     " levels; SessionOptions.max_nesting_depth)"));
    }
    ~DepthGuard() { --r.depth; }
  };

  // Repeated scalar fields may come packed (one length-delimited run) or one
  // per key; accept both.
  template <typename T, typename ReadOne>
  void repeated(WireReader& r, int wire, std::vector<T>& out, ReadOne read_one) {
    if (wire == kLengthDelimited) {
      WireReader s = r.sub();
      while (!s.done()) out.push_back(read_one(s));
    } else {
      out.push_back(read_one(r));
    }
  }
  static int64_t as_i64(WireReader& r) { return static_cast<int64_t>(r.varint()); }
  static float as_f32(WireReader& r) { return r.float32(); }
  static double as_f64(WireReader& r) { return r.float64(); }
  static uint64_t as_u64(WireReader& r) { return r.varint(); }

  static void expect_wire(WireReader& r, int wire, int want, uint32_t field, const char* msg) {
    if (wire != want)
      WireReader::fail(r.offset(), str_cat(msg, " field ", field, " has wire type ", wire, ", expected ", want));
  }

  // ---- TensorProto ----
  struct RawTensor {
    std::vector<int64_t> dims;
    int32_t data_type = 0;
    std::string name;
    std::vector<float> float_data;
    std::vector<int64_t> int32_data, int64_data;
    std::vector<uint64_t> uint64_data;
    std::vector<double> double_data;
    std::vector<std::string> string_data;
    std::string_view raw;   // raw_data in the model buffer, or in raw_owned
    std::string raw_owned;  // external data read from its file
    bool has_raw = false;
    std::vector<std::pair<std::string, std::string>> external;
    int64_t data_location = 0;
  };

  static std::pair<std::string, std::string> string_pair(WireReader r) {
    std::pair<std::string, std::string> kv;
    uint32_t f;
    int w;
    while (r.next(&f, &w)) {
      if (f == fields::StringStringEntryProto::key && w == kLengthDelimited) kv.first = r.bytes();
      else if (f == fields::StringStringEntryProto::value && w == kLengthDelimited) kv.second = r.bytes();
      else r.skip(w);
    }
    return kv;
  }

  RawTensor raw_tensor(WireReader r) {
    RawTensor t;
    uint32_t f;
    int w;
    while (r.next(&f, &w)) {
      switch (f) {
        case fields::TensorProto::dims: repeated(r, w, t.dims, as_i64); break;
        case fields::TensorProto::data_type:
          expect_wire(r, w, kVarint, f, "TensorProto");
          t.data_type = static_cast<int32_t>(r.varint());
          break;
        case fields::TensorProto::float_data: repeated(r, w, t.float_data, as_f32); break;
        case fields::TensorProto::int32_data: repeated(r, w, t.int32_data, as_i64); break;
        case fields::TensorProto::string_data:
          expect_wire(r, w, kLengthDelimited, f, "TensorProto");
          t.string_data.push_back(r.bytes());
          break;
        case fields::TensorProto::int64_data: repeated(r, w, t.int64_data, as_i64); break;
        case fields::TensorProto::name:
          expect_wire(r, w, kLengthDelimited, f, "TensorProto");
          t.name = r.bytes();
          break;
        case fields::TensorProto::raw_data:
          expect_wire(r, w, kLengthDelimited, f, "TensorProto");
          t.raw = r.bytes_view();
          t.has_raw = true;
          break;
        case fields::TensorProto::double_data: repeated(r, w, t.double_data, as_f64); break;
        case fields::TensorProto::uint64_data: repeated(r, w, t.uint64_data, as_u64); break;
        case fields::TensorProto::external_data:
          expect_wire(r, w, kLengthDelimited, f, "TensorProto");
          t.external.push_back(string_pair(r.sub()));
          break;
        case fields::TensorProto::data_location:
          expect_wire(r, w, kVarint, f, "TensorProto");
          t.data_location = static_cast<int64_t>(r.varint());
          break;
        default: r.skip(w);
      }
    }
    return t;
  }

  // An external_data "offset" or "length": decimal digits only, within int64.
  static int64_t external_number(const RawTensor& t, const std::string& key, const std::string& text) {
    bool ok = !text.empty() && text.size() <= 19;
    int64_t v = 0;
    for (char c : text) {
      ok = ok && c >= '0' && c <= '9';
      if (ok) v = v * 10 + (c - '0');  // 19 digits cannot overflow
    }
    PIONNX_ENFORCE(ok, InvalidProtobuf, "tensor '", t.name, "': external data ", key, " '", text,
                   "' is not a non-negative decimal integer");
    return v;
  }

  std::string read_external(const RawTensor& t) {
    std::string location;
    int64_t offset = 0, length = -1;
    for (const auto& kv : t.external) {
      if (kv.first == "location") location = kv.second;
      else if (kv.first == "offset") offset = external_number(t, "offset", kv.second);
      else if (kv.first == "length") length = external_number(t, "length", kv.second);
    }
    PIONNX_ENFORCE(!location.empty(), InvalidGraph, "tensor '", t.name, "' has external data without a location");
    PIONNX_ENFORCE(!ctx.model_dir.empty(), InvalidArgument, "tensor '", t.name, "' stores its data in external file '",
                   location, "', but the model was given as bytes: load it from its path so the file can be found");
    PIONNX_ENFORCE(location[0] != '/', InvalidArgument, "tensor '", t.name, "': external data location '", location,
                   "' is an absolute path; only files inside the model's folder are read");
    // Refuse any '..' component, then check the resolved path (symlinks
    // included) is still inside the model folder.
    size_t start = 0;
    while (start <= location.size()) {
      size_t slash = location.find('/', start);
      std::string part = location.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
      PIONNX_ENFORCE(part != "..", InvalidArgument, "tensor '", t.name, "': external data location '", location,
                     "' leaves the model's folder ('..' is not allowed)");
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    std::string path = ctx.model_dir + "/" + location;
    char dir_real[PATH_MAX], file_real[PATH_MAX];
    PIONNX_ENFORCE(realpath(ctx.model_dir.c_str(), dir_real), InvalidArgument, "model folder '", ctx.model_dir,
                   "' cannot be resolved");
    PIONNX_ENFORCE(realpath(path.c_str(), file_real), InvalidArgument, "tensor '", t.name, "': external data file '",
                   path, "' does not exist");
    std::string d(dir_real), fr(file_real);
    if (d.back() != '/') d += '/';
    PIONNX_ENFORCE(fr.compare(0, d.size(), d) == 0, InvalidArgument, "tensor '", t.name, "': external data file '",
                   location, "' resolves to '", fr, "', outside the model's folder '", dir_real, "'");
    struct stat st;
    PIONNX_ENFORCE(stat(file_real, &st) == 0 && S_ISREG(st.st_mode), InvalidArgument, "tensor '", t.name,
                   "': external data '", fr, "' is not a regular file");
    int64_t size = static_cast<int64_t>(st.st_size);
    PIONNX_ENFORCE(offset <= size, InvalidArgument, "tensor '", t.name, "': external data offset ", offset,
                   " is outside file '", fr, "' of ", size, " bytes");
    if (length < 0) length = size - offset;
    // Compared without adding: offset + length may not fit in 64 bits.
    PIONNX_ENFORCE(length <= size - offset, InvalidArgument, "tensor '", t.name, "': external data range [", offset,
                   ", +", length, ") is outside file '", fr, "' of ", size, " bytes");
    std::string data = read_file(file_real, offset, length);
    return data;
  }

  Tensor tensor(WireReader r) {
    size_t at = r.offset();
    RawTensor t = raw_tensor(r);
    PIONNX_ENFORCE(dtype_is_valid(t.data_type), NotImplemented, "tensor '", t.name, "' (byte ", at,
                   ") has unsupported data type ", t.data_type);
    for (int64_t d : t.dims)
      PIONNX_ENFORCE(d >= 0, InvalidProtobuf, "tensor '", t.name, "' has negative dimension ", d);
    DType dt = static_cast<DType>(t.data_type);
    Tensor out(dt, t.dims);
    size_t n = static_cast<size_t>(out.numel());
    auto count_check = [&](size_t got, const char* field) {
      PIONNX_ENFORCE(got == n, InvalidProtobuf, "tensor '", t.name, "' of shape ", shape_str(t.dims), " needs ", n,
                     " values but ", field, " holds ", got);
    };

    if (t.data_location == 1 || !t.external.empty()) {
      t.raw_owned = read_external(t);
      t.raw = t.raw_owned;
      t.has_raw = true;
    }
    if (dt == DType::String) {
      count_check(t.string_data.size(), "string_data");
      std::string* d = out.data<std::string>();
      for (size_t i = 0; i < n; ++i) d[i] = std::move(t.string_data[i]);
      return out;
    }
    if (dtype_is_packed(dt)) {
      // 8 / bits per byte, element 0 in the lowest bits: in raw_data, or in
      // the low byte of each int32_data entry.
      const size_t nbytes = static_cast<size_t>(packed_size(dt, static_cast<int64_t>(n)));
      std::string packed;
      if (t.has_raw) {
        packed = std::string(t.raw);
      } else {
        packed.resize(t.int32_data.size());
        for (size_t i = 0; i < packed.size(); ++i) packed[i] = static_cast<char>(t.int32_data[i] & 0xff);
      }
      PIONNX_ENFORCE(packed.size() == nbytes, InvalidProtobuf, "tensor '", t.name, "' of shape ", shape_str(t.dims),
                     " (", dtype_name(dt), ") needs ", nbytes, " packed bytes but ",
                     t.has_raw ? "raw_data" : "int32_data", " holds ", packed.size());
      unpack_packed(dt, reinterpret_cast<const uint8_t*>(packed.data()), static_cast<uint8_t*>(out.raw()),
                    static_cast<int64_t>(n));
      return out;
    }
    if (t.has_raw) {
      count_check(t.raw.size() / dtype_size(dt), "raw_data");
      PIONNX_ENFORCE(t.raw.size() == out.nbytes(), InvalidProtobuf, "tensor '", t.name, "' raw_data has ", t.raw.size(),
                     " bytes, expected ", out.nbytes());
      if (n) std::memcpy(out.raw(), t.raw.data(), out.nbytes());
      if (dt == DType::Bool) {
        // A bool is one byte that must hold 0 or 1: any other byte in the
        // file means true (as in onnx's numpy view of it), stored as 1.
        uint8_t* b = static_cast<uint8_t*>(out.raw());
        for (size_t i = 0; i < n; ++i) b[i] = b[i] != 0;
      }
      return out;
    }
    switch (dt) {
      case DType::Float: {
        count_check(t.float_data.size(), "float_data");
        if (n) std::memcpy(out.raw(), t.float_data.data(), n * 4);
        break;
      }
      case DType::Double: {
        count_check(t.double_data.size(), "double_data");
        if (n) std::memcpy(out.raw(), t.double_data.data(), n * 8);
        break;
      }
      case DType::Int64: {
        count_check(t.int64_data.size(), "int64_data");
        if (n) std::memcpy(out.raw(), t.int64_data.data(), n * 8);
        break;
      }
      case DType::UInt32:
      case DType::UInt64: {
        count_check(t.uint64_data.size(), "uint64_data");
        for (size_t i = 0; i < n; ++i) {
          if (dt == DType::UInt32) out.data<uint32_t>()[i] = static_cast<uint32_t>(t.uint64_data[i]);
          else out.data<uint64_t>()[i] = t.uint64_data[i];
        }
        break;
      }
      default: {
        // int32_data carries every type of 32 bits or fewer.
        count_check(t.int32_data.size(), "int32_data");
        for (size_t i = 0; i < n; ++i) {
          int64_t v = t.int32_data[i];
          switch (dt) {
            case DType::Int32: out.data<int32_t>()[i] = static_cast<int32_t>(v); break;
            case DType::Int16: out.data<int16_t>()[i] = static_cast<int16_t>(v); break;
            case DType::Int8: out.data<int8_t>()[i] = static_cast<int8_t>(v); break;
            case DType::UInt16: out.data<uint16_t>()[i] = static_cast<uint16_t>(v); break;
            case DType::UInt8: out.data<uint8_t>()[i] = static_cast<uint8_t>(v); break;
            case DType::Bool: out.data<bool>()[i] = v != 0; break;
            case DType::Float16:
            case DType::BFloat16: static_cast<uint16_t*>(out.raw())[i] = static_cast<uint16_t>(v); break;
            case DType::Float8E4M3FN:
            case DType::Float8E4M3FNUZ:
            case DType::Float8E5M2:
            case DType::Float8E5M2FNUZ:
            case DType::Float8E8M0: static_cast<uint8_t*>(out.raw())[i] = static_cast<uint8_t>(v); break;
            default: throw NotImplemented(str_cat("tensor '", t.name, "': dtype ", dtype_name(dt)));
          }
        }
      }
    }
    return out;
  }

  std::string tensor_name(WireReader r) {
    uint32_t f;
    int w;
    while (r.next(&f, &w)) {
      if (f == fields::TensorProto::name && w == kLengthDelimited) return r.bytes();
      r.skip(w);
    }
    return "";
  }

  // SparseTensorProto -> dense tensor.
  std::pair<std::string, Tensor> sparse_tensor(WireReader r) {
    Tensor values, indices;
    std::string name;
    std::vector<int64_t> dims;
    uint32_t f;
    int w;
    while (r.next(&f, &w)) {
      if (f == fields::SparseTensorProto::values && w == kLengthDelimited) {
        WireReader s = r.sub();
        name = tensor_name(s);
        values = tensor(s);
      } else if (f == fields::SparseTensorProto::indices && w == kLengthDelimited) {
        indices = tensor(r.sub());
      } else if (f == fields::SparseTensorProto::dims) {
        repeated(r, w, dims, as_i64);
      } else {
        r.skip(w);
      }
    }
    PIONNX_ENFORCE(values.defined() && indices.defined(), InvalidProtobuf, "sparse tensor '", name,
                   "' lacks values or indices");
    Tensor dense = Tensor::zeros(values.dtype(), dims);
    PIONNX_ENFORCE(values.dtype() != DType::String, NotImplemented, "sparse string tensors are not supported");
    std::vector<int64_t> idx = tensor_to_int64s(indices);
    int64_t nnz = values.numel(), rank = static_cast<int64_t>(dims.size());
    size_t es = dtype_size(values.dtype());
    std::vector<int64_t> strides(dims.size(), 1);
    for (int64_t i = rank - 2; i >= 0; --i) strides[i] = strides[i + 1] * dims[i + 1];
    bool linear = indices.rank() == 1;
    PIONNX_ENFORCE(static_cast<int64_t>(idx.size()) == (linear ? nnz : nnz * rank), InvalidProtobuf, "sparse tensor '",
                   name, "' has ", idx.size(), " indices for ", nnz, " values");
    for (int64_t k = 0; k < nnz; ++k) {
      int64_t off = 0;
      if (linear) off = idx[k];
      else
        for (int64_t d = 0; d < rank; ++d) off += idx[k * rank + d] * strides[d];
      PIONNX_ENFORCE(off >= 0 && off < dense.numel(), InvalidProtobuf, "sparse tensor '", name, "' index out of range");
      std::memcpy(static_cast<char*>(dense.raw()) + off * es, static_cast<const char*>(values.raw()) + k * es, es);
    }
    return {name, dense};
  }

  // ---- TypeProto ----
  void tensor_shape(WireReader r, TypeInfo& ti) {
    ti.has_shape = true;
    uint32_t f;
    int w;
    while (r.next(&f, &w)) {
      if (f != fields::TensorShapeProto::dim || w != kLengthDelimited) {
        r.skip(w);
        continue;
      }
      Dim d;
      WireReader dr = r.sub();
      uint32_t g;
      int v;
      while (dr.next(&g, &v)) {
        if (g == fields::TensorShapeProto_Dimension::dim_value && v == kVarint)
          d.value = static_cast<int64_t>(dr.varint());
        else if (g == fields::TensorShapeProto_Dimension::dim_param && v == kLengthDelimited) d.param = dr.bytes();
        else dr.skip(v);
      }
      ti.dims.push_back(d);
    }
  }

  TypeInfo type_proto(WireReader r) {
    DepthGuard guard(*this, r.offset());
    TypeInfo ti;
    uint32_t f;
    int w;
    while (r.next(&f, &w)) {
      if (w != kLengthDelimited) {
        r.skip(w);
        continue;
      }
      WireReader s = r.sub();
      uint32_t g;
      int v;
      if (f == fields::TypeProto::tensor_type || f == fields::TypeProto::sparse_tensor_type) {
        ti.kind = TypeInfo::Kind::Tensor;
        while (s.next(&g, &v)) {
          if (g == fields::TypeProto_Tensor::elem_type && v == kVarint) ti.elem = static_cast<DType>(s.varint());
          else if (g == fields::TypeProto_Tensor::shape && v == kLengthDelimited) tensor_shape(s.sub(), ti);
          else s.skip(v);
        }
      } else if (f == fields::TypeProto::sequence_type || f == fields::TypeProto::optional_type) {
        ti.kind = f == fields::TypeProto::sequence_type ? TypeInfo::Kind::Sequence : TypeInfo::Kind::Optional;
        while (s.next(&g, &v)) {
          if (g == fields::TypeProto_Sequence::elem_type && v == kLengthDelimited)
            ti.inner = std::make_shared<TypeInfo>(type_proto(s.sub()));
          else s.skip(v);
        }
      } else if (f == fields::TypeProto::map_type) {  // key_type as elem, value_type as inner
        ti.kind = TypeInfo::Kind::Map;
        while (s.next(&g, &v)) {
          if (g == fields::TypeProto_Map::key_type && v == kVarint) ti.elem = static_cast<DType>(s.varint());
          else if (g == fields::TypeProto_Map::value_type && v == kLengthDelimited)
            ti.inner = std::make_shared<TypeInfo>(type_proto(s.sub()));
          else s.skip(v);
        }
      }
    }
    return ti;
  }

  ValueInfo value_info(WireReader r) {
    ValueInfo vi;
    uint32_t f;
    int w;
    while (r.next(&f, &w)) {
      if (f == fields::ValueInfoProto::name && w == kLengthDelimited) vi.name = r.bytes();
      else if (f == fields::ValueInfoProto::type && w == kLengthDelimited) vi.type = type_proto(r.sub());
      else if (f == fields::ValueInfoProto::doc_string && w == kLengthDelimited) vi.doc = r.bytes();
      else r.skip(w);
    }
    return vi;
  }

  // ---- AttributeProto / NodeProto / GraphProto ----
  Attribute attribute(WireReader r) {
    Attribute a;
    uint32_t f;
    int w;
    bool typed = false;
    while (r.next(&f, &w)) {
      switch (f) {
        case fields::AttributeProto::name:
          expect_wire(r, w, kLengthDelimited, f, "AttributeProto");
          a.name = r.bytes();
          break;
        case fields::AttributeProto::f:
          expect_wire(r, w, kFixed32, f, "AttributeProto");
          a.f = r.float32();
          break;
        case fields::AttributeProto::i:
          expect_wire(r, w, kVarint, f, "AttributeProto");
          a.i = static_cast<int64_t>(r.varint());
          break;
        case fields::AttributeProto::s:
          expect_wire(r, w, kLengthDelimited, f, "AttributeProto");
          a.s = r.bytes();
          break;
        case fields::AttributeProto::t:
          expect_wire(r, w, kLengthDelimited, f, "AttributeProto");
          a.t = tensor(r.sub());
          break;
        case fields::AttributeProto::g:
          expect_wire(r, w, kLengthDelimited, f, "AttributeProto");
          a.g = std::make_shared<Graph>(graph(r.sub()));
          break;
        case fields::AttributeProto::floats: repeated(r, w, a.floats, as_f32); break;
        case fields::AttributeProto::ints: repeated(r, w, a.ints, as_i64); break;
        case fields::AttributeProto::strings:
          expect_wire(r, w, kLengthDelimited, f, "AttributeProto");
          a.strings.push_back(r.bytes());
          break;
        case fields::AttributeProto::tensors:
          expect_wire(r, w, kLengthDelimited, f, "AttributeProto");
          a.tensors.push_back(tensor(r.sub()));
          break;
        case fields::AttributeProto::graphs:
          expect_wire(r, w, kLengthDelimited, f, "AttributeProto");
          a.graphs.push_back(std::make_shared<Graph>(graph(r.sub())));
          break;
        case fields::AttributeProto::tp:
          expect_wire(r, w, kLengthDelimited, f, "AttributeProto");
          a.tp = type_proto(r.sub());
          break;
        case fields::AttributeProto::type:
          expect_wire(r, w, kVarint, f, "AttributeProto");
          a.type = static_cast<Attribute::Type>(r.varint());
          typed = true;
          break;
        case fields::AttributeProto::ref_attr_name:
          expect_wire(r, w, kLengthDelimited, f, "AttributeProto");
          a.ref_attr_name = r.bytes();
          break;
        case fields::AttributeProto::sparse_tensor:
          expect_wire(r, w, kLengthDelimited, f, "AttributeProto");
          a.t = sparse_tensor(r.sub()).second;
          if (!typed) a.type = Attribute::Type::Tensor;
          break;
        default: r.skip(w);
      }
    }
    // Sparse tensors are densified: present them as plain tensors.
    if (a.type == Attribute::Type::SparseTensor) a.type = Attribute::Type::Tensor;
    return a;
  }

  Node node(WireReader r) {
    Node n;
    uint32_t f;
    int w;
    while (r.next(&f, &w)) {
      if (w != kLengthDelimited) {
        r.skip(w);
        continue;
      }
      switch (f) {
        case fields::NodeProto::input: n.inputs.push_back(r.bytes()); break;
        case fields::NodeProto::output: n.outputs.push_back(r.bytes()); break;
        case fields::NodeProto::name: n.name = r.bytes(); break;
        case fields::NodeProto::op_type: n.op_type = r.bytes(); break;
        case fields::NodeProto::attribute: n.attrs.push_back(attribute(r.sub())); break;
        case fields::NodeProto::doc_string: n.doc = r.bytes(); break;
        case fields::NodeProto::domain: n.domain = canonical_domain(r.bytes()); break;
        default: r.skip(w);
      }
    }
    PIONNX_ENFORCE(!n.op_type.empty(), InvalidProtobuf, "node '", n.name, "' has no op_type");
    return n;
  }

  Graph graph(WireReader r) {
    DepthGuard guard(*this, r.offset());
    Graph g;
    uint32_t f;
    int w;
    while (r.next(&f, &w)) {
      if (w != kLengthDelimited) {
        r.skip(w);
        continue;
      }
      switch (f) {
        case fields::GraphProto::node: g.nodes.push_back(node(r.sub())); break;
        case fields::GraphProto::name: g.name = r.bytes(); break;
        case fields::GraphProto::initializer: {
          WireReader s = r.sub();
          std::string name = tensor_name(s);
          g.add_initializer(name, tensor(s));
          break;
        }
        case fields::GraphProto::sparse_initializer: {
          auto st = sparse_tensor(r.sub());
          g.add_initializer(st.first, st.second);
          break;
        }
        case fields::GraphProto::doc_string: g.doc = r.bytes(); break;
        case fields::GraphProto::input: g.inputs.push_back(value_info(r.sub())); break;
        case fields::GraphProto::output: g.outputs.push_back(value_info(r.sub())); break;
        case fields::GraphProto::value_info: g.value_info.push_back(value_info(r.sub())); break;
        default: r.skip(w);
      }
    }
    return g;
  }

  std::pair<std::string, int64_t> opset_id(WireReader r) {
    std::pair<std::string, int64_t> id{"", 0};
    uint32_t f;
    int w;
    while (r.next(&f, &w)) {
      if (f == fields::OperatorSetIdProto::domain && w == kLengthDelimited) id.first = canonical_domain(r.bytes());
      else if (f == fields::OperatorSetIdProto::version && w == kVarint) id.second = static_cast<int64_t>(r.varint());
      else r.skip(w);
    }
    return id;
  }

  Function function(WireReader r) {
    Function fn;
    uint32_t f;
    int w;
    while (r.next(&f, &w)) {
      if (w != kLengthDelimited) {
        r.skip(w);
        continue;
      }
      switch (f) {
        case fields::FunctionProto::name: fn.name = r.bytes(); break;
        case fields::FunctionProto::input: fn.inputs.push_back(r.bytes()); break;
        case fields::FunctionProto::output: fn.outputs.push_back(r.bytes()); break;
        case fields::FunctionProto::attribute: fn.attributes.push_back(r.bytes()); break;
        case fields::FunctionProto::attribute_proto: fn.attribute_defaults.push_back(attribute(r.sub())); break;
        case fields::FunctionProto::node: fn.nodes.push_back(node(r.sub())); break;
        case fields::FunctionProto::opset_import: fn.opsets.insert(opset_id(r.sub())); break;
        case fields::FunctionProto::domain: fn.domain = canonical_domain(r.bytes()); break;
        default: r.skip(w);
      }
    }
    return fn;
  }

  Model model(WireReader r) {
    Model m;
    bool has_graph = false;
    uint32_t f;
    int w;
    while (r.next(&f, &w)) {
      switch (f) {
        case fields::ModelProto::ir_version:
          expect_wire(r, w, kVarint, f, "ModelProto");
          m.ir_version = static_cast<int64_t>(r.varint());
          break;
        case fields::ModelProto::producer_name:
          expect_wire(r, w, kLengthDelimited, f, "ModelProto");
          m.producer_name = r.bytes();
          break;
        case fields::ModelProto::producer_version:
          expect_wire(r, w, kLengthDelimited, f, "ModelProto");
          m.producer_version = r.bytes();
          break;
        case fields::ModelProto::domain:
          expect_wire(r, w, kLengthDelimited, f, "ModelProto");
          m.domain = r.bytes();
          break;
        case fields::ModelProto::model_version:
          expect_wire(r, w, kVarint, f, "ModelProto");
          m.model_version = static_cast<int64_t>(r.varint());
          break;
        case fields::ModelProto::doc_string:
          expect_wire(r, w, kLengthDelimited, f, "ModelProto");
          m.doc = r.bytes();
          break;
        case fields::ModelProto::graph:
          expect_wire(r, w, kLengthDelimited, f, "ModelProto");
          m.graph = graph(r.sub());
          has_graph = true;
          break;
        case fields::ModelProto::opset_import:
          expect_wire(r, w, kLengthDelimited, f, "ModelProto");
          m.opsets.insert(opset_id(r.sub()));
          break;
        case fields::ModelProto::metadata_props:
          expect_wire(r, w, kLengthDelimited, f, "ModelProto");
          m.metadata.push_back(string_pair(r.sub()));
          break;
        case fields::ModelProto::functions:
          expect_wire(r, w, kLengthDelimited, f, "ModelProto");
          m.functions.push_back(function(r.sub()));
          break;
        default: r.skip(w);
      }
    }
    PIONNX_ENFORCE(has_graph, InvalidProtobuf, "not an ONNX model: no graph found (ir_version ", m.ir_version, ")");
    PIONNX_ENFORCE(m.ir_version > 0, InvalidProtobuf, "not an ONNX model: ir_version is missing");
    if (m.opsets.empty()) m.opsets[""] = 1;  // IR v2 models have no opset_import
    return m;
  }

  Value value(WireReader r, TypeInfo::Kind kind);
};

// A SequenceProto or an OptionalProto: their tensor and sequence fields share
// numbers, so one reader serves both. An optional with no value field holds
// nothing.
static_assert(fields::SequenceProto::tensor_values == fields::OptionalProto::tensor_value &&
                  fields::SequenceProto::sequence_values == fields::OptionalProto::sequence_value,
              "SequenceProto and OptionalProto no longer share field numbers");
Value Reader::value(WireReader r, TypeInfo::Kind kind) {
  DepthGuard guard(*this, r.offset());
  if (kind == TypeInfo::Kind::Tensor) return Value(tensor(r));
  std::vector<Tensor> tensors;
  Value inner;
  bool has_inner = false;
  uint32_t f;
  int w;
  while (r.next(&f, &w)) {
    if (f == fields::SequenceProto::tensor_values && w == kLengthDelimited) {
      tensors.push_back(tensor(r.sub()));
    } else if (f == fields::SequenceProto::sequence_values && w == kLengthDelimited) {
      inner = value(r.sub(), TypeInfo::Kind::Sequence);
      has_inner = true;
    } else {
      r.skip(w);
    }
  }
  if (kind == TypeInfo::Kind::Optional) {
    if (has_inner) return inner;
    return tensors.empty() ? Value() : Value(tensors[0]);
  }
  DType elem = tensors.empty() ? DType::Undefined : tensors[0].dtype();
  return Value::make_sequence(std::move(tensors), elem);
}

}  // namespace

Model parse_model(std::string_view bytes, const LoadContext& ctx) {
  PIONNX_ENFORCE(!bytes.empty(), InvalidProtobuf, "not an ONNX model: the data is empty");
  Reader r{ctx};
  return r.model(WireReader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

Tensor parse_tensor(const std::string& bytes, const LoadContext& ctx) {
  Reader r{ctx};
  return r.tensor(WireReader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

Value parse_value(const std::string& bytes, TypeInfo::Kind kind, const LoadContext& ctx) {
  Reader r{ctx};
  return r.value(WireReader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), kind);
}

}  // namespace proto
}  // namespace pionnx
