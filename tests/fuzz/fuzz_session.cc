// libFuzzer target: load a model (bytes), create the session, run it once on
// feeds made from the inputs it declares. Built with clang under
// AddressSanitizer + UndefinedBehaviorSanitizer by `nox -s fuzz`
// (ci/checks/fuzz.py). Anything the runtime refuses with an exception is a pass; a
// crash, a sanitizer report, a hang or an allocation over the limits below is
// a finding.
//
// The mutator is structure-aware (proto_mutator.h): it decodes the protobuf
// wire format without a schema and changes fields (a dimension, a dtype, an
// attribute value, a node's input name, an axis), duplicates or drops
// fields, and otherwise falls back to libFuzzer's byte mutations. Feeds
// follow the declared input types, so a mutated dtype or dimension in the
// model is also a mutated feed.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "kernels/base/cast.h"
#include "kernels/base/families.h"
#include "kernels/base/kernel.h"
#include "pionnx/session.h"
#include "pionnx/status.h"
#include "proto_mutator.h"

namespace {

using pionnx::DType;
using pionnx::Shape;
using pionnx::Tensor;
using pionnx::Value;

// Feeds are small: the point is the model's handling of them, not their size.
constexpr int64_t kMaxFeedElems = 4096;
constexpr int64_t kMaxDim = 16;

Value feed_for(const pionnx::ValueDesc& d) {
  Shape shape;
  int64_t n = 1;
  for (int64_t dim : d.dims) {
    int64_t v = dim < 0 ? 2 : std::min(dim, kMaxDim);
    if (n * std::max<int64_t>(v, 1) > kMaxFeedElems) v = 1;
    shape.push_back(v);
    n *= std::max<int64_t>(v, 1);
  }
  if (d.elem == DType::String) return Value(Tensor(DType::String, shape));
  Tensor f(DType::Float, shape);
  float* p = f.data<float>();
  for (int64_t i = 0; i < f.numel(); ++i) p[i] = static_cast<float>(i % 7 - 3) * 0.5f;
  if (d.elem == DType::Float || d.elem == DType::Undefined) return Value(f);
  return Value(pionnx::cast_tensor(f, d.elem));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pionnx::SessionConfig cfg;
  cfg.intra_op_threads = 1;
  // Far below the machine: a model that asks for more must be refused, not
  // served. Small, because the work a node does grows with its tensors, and
  // under ASan at -O1 a legitimate 8 MB convolution output already takes
  // 30 s (0.4 s in the release build): the campaign is about robustness,
  // not scale, and a timeout should mean a hang.
  cfg.limits.max_tensor_bytes = uint64_t(4) << 20;
  cfg.limits.max_memory_bytes = uint64_t(64) << 20;
  cfg.limits.max_inlined_nodes = 20000;
  // A Loop runs the iterations it asks for (no run timeout): a mutated trip
  // count of 2^62 would be a hang here, not a bug.
  pionnx::set_loop_iteration_cap(10000);
  try {
    pionnx::Session s(std::string_view(reinterpret_cast<const char*>(data), size), "", cfg);
    std::vector<std::pair<std::string, Value>> feeds;
    for (const pionnx::ValueDesc& d : s.inputs()) {
      if (d.type.rfind("tensor(", 0) != 0) continue;  // sequences, maps: left missing (refused)
      feeds.emplace_back(d.name, feed_for(d));
    }
    s.run(feeds, {});
  } catch (const pionnx::Error&) {
    // Refused with a message: what a broken model must get.
  } catch (const std::bad_alloc&) {
    // Within the limits above but more than this process may have: not a bug of the model path.
  }
  // Any other exception escapes: libFuzzer reports it as a crash (an unnamed
  // std::out_of_range is a bug to fix, not a refusal).
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  return pionnx_fuzz::mutate_protobuf(data, size, max_size, seed);
}
