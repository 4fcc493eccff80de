// pionnx._core: the thin layer between numpy and the C++ runtime. No logic
// of its own beyond converting values and exceptions.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "pionnx/log.h"
#include "pionnx/operators.h"
#include "pionnx/session.h"
#include "pionnx/simd.h"

namespace nb = nanobind;
using namespace pionnx;

namespace {

struct DTypeMap {
  DType dt;
  uint8_t code;
  uint8_t bits;
};

const DTypeMap kDTypes[] = {
    {DType::Float, (uint8_t)nb::dlpack::dtype_code::Float, 32},
    {DType::Double, (uint8_t)nb::dlpack::dtype_code::Float, 64},
    {DType::Float16, (uint8_t)nb::dlpack::dtype_code::Float, 16},
    {DType::Int8, (uint8_t)nb::dlpack::dtype_code::Int, 8},
    {DType::Int16, (uint8_t)nb::dlpack::dtype_code::Int, 16},
    {DType::Int32, (uint8_t)nb::dlpack::dtype_code::Int, 32},
    {DType::Int64, (uint8_t)nb::dlpack::dtype_code::Int, 64},
    {DType::UInt8, (uint8_t)nb::dlpack::dtype_code::UInt, 8},
    {DType::UInt16, (uint8_t)nb::dlpack::dtype_code::UInt, 16},
    {DType::UInt32, (uint8_t)nb::dlpack::dtype_code::UInt, 32},
    {DType::UInt64, (uint8_t)nb::dlpack::dtype_code::UInt, 64},
    {DType::Bool, (uint8_t)nb::dlpack::dtype_code::Bool, 8},
};

using Array = nb::ndarray<nb::numpy, nb::c_contig, nb::device::cpu>;
// Inputs are never written: accept read-only arrays (np.frombuffer, views).
using InArray = nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>;

// Python-side owner of a zero-copy input: dropped with the GIL held, from
// whichever thread releases the last reference.
std::shared_ptr<void> keep_alive(nb::handle h) {
  h.inc_ref();
  return std::shared_ptr<void>(h.ptr(), [](void* p) {
    nb::gil_scoped_acquire gil;
    Py_DECREF(static_cast<PyObject*>(p));
  });
}

// `as` overrides the element type: a uint8/uint16 view of an ml_dtypes array
// (bfloat16, float8, int4, ...) whose bytes already are pionnx's layout.
Tensor tensor_from_array(const std::string& name, nb::handle obj, DType as = DType::Undefined) {
  InArray a;
  if (!nb::try_cast(obj, a, false))
    throw nb::type_error(("input '" + name + "': expected a C-contiguous numpy array").c_str());
  for (const DTypeMap& m : kDTypes) {
    if (a.dtype().code == m.code && a.dtype().bits == m.bits && a.dtype().lanes == 1) {
      Shape shape(a.ndim());
      for (size_t i = 0; i < shape.size(); ++i) shape[i] = static_cast<int64_t>(a.shape(i));
      DType dt = m.dt;
      if (as != DType::Undefined) {
        if (dtype_size(as) * 8 != m.bits || dtype_size(as) != dtype_size(m.dt) ||
            m.code != (uint8_t)nb::dlpack::dtype_code::UInt)
          throw nb::type_error(("input '" + name + "': a " + dtype_name(as) + " tensor must be passed as a uint" +
                                std::to_string(dtype_size(as) * 8) + " view")
                                   .c_str());
        dt = as;
      }
      // A view into the middle of a buffer (np.frombuffer with an offset) may be
      // unaligned: kernels load whole elements, which armv7 may fault on, so such
      // a feed is copied once instead of handed over in place.
      const size_t align = std::min<size_t>(dtype_size(dt), alignof(std::max_align_t));
      if (align > 1 && reinterpret_cast<uintptr_t>(a.data()) % align != 0) {
        Tensor copy(dt, shape);
        std::memcpy(copy.raw(), a.data(), copy.nbytes());
        return copy;
      }
      return Tensor::wrap(dt, shape, const_cast<void*>(a.data()), keep_alive(obj));
    }
  }
  throw nb::type_error(("input '" + name + "': numpy dtype is not supported by pionnx").c_str());
}

// A feed: numpy array, ("strings", list, shape) for string tensors,
// ("rawdtype", onnx dtype code, uint8/uint16 array) for types numpy lacks, a
// list of such for a sequence, or None for an empty optional.
Value value_from_python(const std::string& name, nb::handle obj) {
  if (obj.is_none()) return Value();
  if (nb::isinstance<nb::tuple>(obj)) {
    nb::tuple t = nb::borrow<nb::tuple>(obj);
    if (nb::cast<std::string>(t[0]) == "rawdtype") {
      int code = nb::cast<int>(t[1]);
      if (!dtype_is_valid(code) || code == static_cast<int>(DType::String))
        throw nb::type_error(("input '" + name + "': unknown dtype code " + std::to_string(code)).c_str());
      return Value(tensor_from_array(name, t[2], static_cast<DType>(code)));
    }
    std::vector<std::string> strs = nb::cast<std::vector<std::string>>(t[1]);
    Shape shape = nb::cast<std::vector<int64_t>>(t[2]);
    Tensor out(DType::String, shape);
    if (static_cast<size_t>(out.numel()) != strs.size())
      throw nb::value_error(("input '" + name + "': string count does not match shape").c_str());
    for (size_t i = 0; i < strs.size(); ++i) out.data<std::string>()[i] = std::move(strs[i]);
    return Value(out);
  }
  if (nb::isinstance<nb::list>(obj)) {
    std::vector<Tensor> seq;
    for (nb::handle h : nb::borrow<nb::list>(obj)) {
      Value v = value_from_python(name, h);
      if (!v.is_tensor()) throw nb::type_error(("input '" + name + "': sequence items must be arrays").c_str());
      seq.push_back(v.tensor);
    }
    DType elem = seq.empty() ? DType::Undefined : seq[0].dtype();
    return Value::make_sequence(std::move(seq), elem);
  }
  return Value(tensor_from_array(name, obj));
}

nb::object tensor_to_python(const Tensor& t) {
  std::vector<size_t> shape(t.shape().begin(), t.shape().end());
  if (t.dtype() == DType::String) {
    nb::list items;
    const std::string* s = t.data<std::string>();
    for (int64_t i = 0; i < t.numel(); ++i) items.append(nb::bytes(s[i].data(), s[i].size()));
    return nb::make_tuple("strings", items, t.shape());
  }
  // An output that shares storage with anything else (a weight, a feed,
  // another output) is copied: the caller may write into what it gets back.
  // Counted before taking a reference here (`t` itself is the run's one).
  const bool shared = t.storage().use_count() > 1;
  Tensor src = shared ? t.clone() : t;
  auto make = [&](uint8_t code, uint8_t bits) {
    auto* keep = new Tensor(src);
    nb::capsule owner(keep, [](void* p) noexcept { delete static_cast<Tensor*>(p); });
    nb::dlpack::dtype dt{code, bits, 1};
    Array arr(keep->raw(), shape.size(), shape.data(), owner, nullptr, dt);
    return nb::cast(arr, nb::rv_policy::reference);
  };
  // numpy has no bfloat16/float8/int4: the raw bits as uint8/uint16, which
  // the Python side views as the ml_dtypes type.
  if (src.dtype() == DType::BFloat16 || dtype_is_small(src.dtype())) {
    auto bits = static_cast<uint8_t>(dtype_size(src.dtype()) * 8);
    return nb::make_tuple("rawdtype", static_cast<int>(src.dtype()), make((uint8_t)nb::dlpack::dtype_code::UInt, bits));
  }
  for (const DTypeMap& m : kDTypes)
    if (m.dt == src.dtype()) return make(m.code, m.bits);
  throw NotImplemented(std::string("output dtype ") + dtype_name(t.dtype()) + " cannot be returned to numpy");
}

nb::object value_to_python(const Value& v) {
  switch (v.kind) {
    case Value::Kind::Tensor: return tensor_to_python(v.tensor);
    case Value::Kind::Sequence: {
      nb::list l;
      for (const Tensor& t : v.sequence) l.append(tensor_to_python(t));
      return l;
    }
    default: return nb::none();
  }
}

// A string from the model (a name, metadata, an error message quoting them)
// as Python text. ONNX's strings should be UTF-8 but a file can hold any
// bytes; strict decoding would turn them into a UnicodeDecodeError from deep
// inside nanobind instead of pionnx's own answer, so invalid bytes are shown
// as \xNN escapes.
nb::str model_text(const std::string& s) {
  PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "backslashreplace");
  if (!o) throw nb::python_error();
  return nb::steal<nb::str>(o);
}

nb::dict desc_to_python(const ValueDesc& d) {
  nb::dict out;
  out["name"] = model_text(d.name);
  out["type"] = d.type;
  if (d.has_shape) {
    nb::list dims;
    for (size_t i = 0; i < d.dims.size(); ++i) {
      if (d.dims[i] >= 0) dims.append(d.dims[i]);
      else if (!d.dim_params[i].empty()) dims.append(model_text(d.dim_params[i]));
      else dims.append(nb::none());
    }
    out["shape"] = dims;
  } else {
    out["shape"] = nb::none();
  }
  return out;
}

nb::list descs_to_python(const std::vector<ValueDesc>& ds) {
  nb::list l;
  for (const auto& d : ds) l.append(desc_to_python(d));
  return l;
}

struct RunFlag {
  std::atomic<bool> value{false};
};

SessionConfig make_config(int threads, int opt_level, int log_severity, const std::string& optimized_path,
                          const std::map<std::string, int64_t>& limits, const std::string& logid,
                          const std::vector<std::string>& disabled_optimizers) {
  SessionConfig c;
  c.intra_op_threads = threads;
  c.opt_level = static_cast<OptLevel>(opt_level);
  PIONNX_ENFORCE(log_severity >= -1 && log_severity <= 4, InvalidArgument,
                 "log_severity_level must be -1 (the default logger's) or 0..4, got ", log_severity);
  c.log_severity = log_severity;
  c.logid = logid;
  c.disabled_optimizers = disabled_optimizers;
  c.optimized_model_path = optimized_path;
  for (const auto& [key, v] : limits) {
    PIONNX_ENFORCE(v >= 0, InvalidArgument, key, " must be >= 0, got ", v);
    if (key == "max_tensor_bytes") c.limits.max_tensor_bytes = static_cast<uint64_t>(v);
    else if (key == "max_memory_bytes") c.limits.max_memory_bytes = static_cast<uint64_t>(v);
    else if (key == "max_nesting_depth") c.limits.max_nesting_depth = static_cast<int>(std::min<int64_t>(v, 1 << 20));
    else if (key == "max_inlined_nodes") c.limits.max_inlined_nodes = v;
    else throw InvalidArgument(str_cat("unknown session limit '", key, "'"));
  }
  return c;
}

}  // namespace

NB_MODULE(_core, m) {
  m.doc() = "pionnx C++ runtime core";
  m.attr("__version__") = pionnx::version();

  // Registered base first: nanobind tries the newest translator first, so
  // subclasses registered later win.
  static nb::exception<pionnx::Error> fail(m, "Fail", PyExc_RuntimeError);
  static nb::exception<pionnx::InvalidGraph> invalid_graph(m, "InvalidGraph", fail.ptr());
  static nb::exception<pionnx::InvalidProtobuf> invalid_protobuf(m, "InvalidProtobuf", fail.ptr());
  static nb::exception<pionnx::NotImplemented> not_implemented(m, "NotImplemented", fail.ptr());
  static nb::exception<pionnx::InvalidArgument> invalid_argument(m, "InvalidArgument", PyExc_ValueError);
  // Registered last, so tried first: the same classes, with messages decoded
  // like model_text (a message quotes names from the model, which may not be
  // UTF-8; nanobind's default would raise UnicodeDecodeError instead).
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    auto raise = [](PyObject* type, const char* what) {
      nb::str msg = model_text(what);
      PyErr_SetObject(type, msg.ptr());
    };
    try {
      std::rethrow_exception(p);
    } catch (const pionnx::InvalidArgument& e) {
      raise(invalid_argument.ptr(), e.what());
    } catch (const pionnx::InvalidGraph& e) {
      raise(invalid_graph.ptr(), e.what());
    } catch (const pionnx::InvalidProtobuf& e) {
      raise(invalid_protobuf.ptr(), e.what());
    } catch (const pionnx::NotImplemented& e) {
      raise(not_implemented.ptr(), e.what());
    } catch (const pionnx::Error& e) {
      raise(fail.ptr(), e.what());
    }
  });

  nb::class_<Session>(m, "Session")
      .def_static(
          "from_bytes",
          [](nb::bytes data, int threads, int opt, int sev, const std::string& opt_path,
             const std::map<std::string, int64_t>& limits, const std::string& logid,
             const std::vector<std::string>& disabled) {
            // Decoded in place: `data` is immutable and held by this call.
            std::string_view bytes(static_cast<const char*>(data.c_str()), data.size());
            SessionConfig cfg = make_config(threads, opt, sev, opt_path, limits, logid, disabled);
            nb::gil_scoped_release nogil;
            return new Session(bytes, "", cfg);
          },
          nb::arg("data"), nb::arg("threads") = 0, nb::arg("opt_level") = 99, nb::arg("log_severity") = -1,
          nb::arg("optimized_model_path") = "", nb::arg("limits") = std::map<std::string, int64_t>(),
          nb::arg("logid") = "", nb::arg("disabled_optimizers") = std::vector<std::string>(),
          nb::rv_policy::take_ownership)
      .def_static(
          "from_path",
          [](const std::string& path, int threads, int opt, int sev, const std::string& opt_path,
             const std::map<std::string, int64_t>& limits, const std::string& logid,
             const std::vector<std::string>& disabled) {
            SessionConfig cfg = make_config(threads, opt, sev, opt_path, limits, logid, disabled);
            nb::gil_scoped_release nogil;
            return Session::from_file(path, cfg).release();
          },
          nb::arg("path"), nb::arg("threads") = 0, nb::arg("opt_level") = 99, nb::arg("log_severity") = -1,
          nb::arg("optimized_model_path") = "", nb::arg("limits") = std::map<std::string, int64_t>(),
          nb::arg("logid") = "", nb::arg("disabled_optimizers") = std::vector<std::string>(),
          nb::rv_policy::take_ownership)
      .def("inputs", [](const Session& s) { return descs_to_python(s.inputs()); })
      .def("outputs", [](const Session& s) { return descs_to_python(s.outputs()); })
      .def("overridable_initializers", [](const Session& s) { return descs_to_python(s.overridable_initializers()); })
      .def("meta",
           [](const Session& s) {
             const ModelMeta& mm = s.meta();
             nb::dict d;
             d["producer_name"] = model_text(mm.producer_name);
             d["producer_version"] = model_text(mm.producer_version);
             d["domain"] = model_text(mm.domain);
             d["description"] = model_text(mm.description);
             d["graph_name"] = model_text(mm.graph_name);
             d["graph_description"] = model_text(mm.graph_description);
             d["version"] = mm.version;
             nb::dict custom;
             for (const auto& kv : mm.custom) custom[model_text(kv.first)] = model_text(kv.second);
             d["custom_metadata_map"] = custom;
             return d;
           })
      .def("profile", &Session::profile)
      // flag: a RunFlag whose set() stops the run between nodes; profile: also
      // return one dict per node (name, op_type, start_ns, duration_ns,
      // inputs/outputs as (type, shape)).
      .def(
          "run",
          [](Session& s, nb::list feeds, std::vector<std::string> names, const RunFlag* flag,
             bool profile) -> nb::object {
            std::vector<std::pair<std::string, Value>> in;
            for (nb::handle item : feeds) {
              nb::tuple kv = nb::borrow<nb::tuple>(item);
              std::string name = nb::cast<std::string>(kv[0]);
              in.emplace_back(name, value_from_python(name, kv[1]));
            }
            std::vector<Value> out;
            std::vector<NodeEvent> events;
            RunControl control;
            control.terminate = flag ? &flag->value : nullptr;
            control.node_events = profile ? &events : nullptr;
            {
              nb::gil_scoped_release nogil;
              out = s.run(in, names, control);
            }
            nb::list res;
            for (const Value& v : out) res.append(value_to_python(v));
            if (!profile) return res;
            auto args = [](const std::vector<NodeEvent::Arg>& a) {
              nb::list l;
              for (const NodeEvent::Arg& x : a) l.append(nb::make_tuple(x.type, x.shape));
              return l;
            };
            nb::list evs;
            for (const NodeEvent& e : events) {
              nb::dict d;
              d["name"] = model_text(e.name);
              d["op_type"] = model_text(e.op_type);
              d["start_ns"] = e.start_ns;
              d["duration_ns"] = e.duration_ns;
              d["inputs"] = args(e.inputs);
              d["outputs"] = args(e.outputs);
              evs.append(d);
            }
            return nb::make_tuple(res, evs);
          },
          nb::arg("feeds"), nb::arg("names"), nb::arg("flag") = nb::none(), nb::arg("profile") = false);

  // RunOptions.terminate's flag: set from any thread, read by a run between nodes.
  nb::class_<RunFlag>(m, "RunFlag")
      .def(nb::init<>())
      .def("set", [](RunFlag& f, bool v) { f.value.store(v); })
      .def("get", [](const RunFlag& f) { return f.value.load(); });

  m.def("set_default_logger_severity", &pionnx::set_default_logger_severity);
  m.def("default_logger_severity", &pionnx::default_logger_severity);
  m.def("optimizer_names", &pionnx::optimizer_names);
  m.def("steady_clock_ns", &pionnx::steady_clock_ns);

  m.def("tensor_from_proto", [](nb::bytes data) {
    std::string bytes(static_cast<const char*>(data.c_str()), data.size());
    return tensor_to_python(tensor_from_proto_bytes(bytes));
  });
  m.def("value_from_proto", [](nb::bytes data, const std::string& kind) {
    std::string bytes(static_cast<const char*>(data.c_str()), data.size());
    return value_to_python(value_from_proto_bytes(bytes, kind));
  });
  m.def("default_threads", &pionnx::default_threads);
  m.def("busy_threads", &pionnx::busy_threads);
  m.def("peak_busy_threads", &pionnx::peak_busy_threads, nb::arg("reset") = false);
  // The path each kernel family runs (PIONNX_SGEMM, PIONNX_QGEMM, PIONNX_FASTMATH
  // cap them) and what the CPU has.
  m.def("simd_info", [] {
    nb::dict d;
    for (const KernelFamily& f : kernel_families()) d[f.name.c_str()] = f.active;
    d["hwcap_neon"] = pionnx::cpu_has_neon();
#if defined(__aarch64__)
    d["arch"] = "aarch64";
#elif defined(__arm__)
    d["arch"] = "armv7l";
#elif defined(__x86_64__)
    d["arch"] = "x86_64";
#elif defined(__i386__)
    d["arch"] = "i686";
#else
    d["arch"] = "unknown";
#endif
    return d;
  });
  // The operator table: (domain, op, since, until) per row; domain "" is ai.onnx.
  m.def("supported_operators", [] {
    nb::list l;
    for (const pionnx::OperatorSupport& r : pionnx::supported_operators())
      l.append(nb::make_tuple(r.domain, r.op, r.since, r.until));
    return l;
  });
  m.def("latest_opset", &pionnx::latest_opset);
  // Every path each family can run on this CPU, portable first (PIONNX_<FAMILY> forces one).
  m.def("simd_paths", [] {
    nb::dict d;
    for (const KernelFamily& f : kernel_families()) d[f.name.c_str()] = f.available;
    return d;
  });
}
