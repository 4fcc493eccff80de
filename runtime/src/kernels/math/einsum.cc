// Einsum (opset 12+).
//
// Each operand becomes a strided view with one entry per distinct label
// (repeated labels — diagonals — fold into one dimension whose stride is the
// sum of theirs; broadcast ellipsis dims get stride 0). Operands are then
// contracted pairwise, left to right, as a batched matrix product
// [batch, M, K] x [batch, K, N] after packing each into that order; labels
// needed by no later operand and not by the output are summed out first.
#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <type_traits>

#include "kernels/base/cast.h"
#include "kernels/base/dtype_dispatch.h"
#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"
#include "kernels/simd/sgemm.h"
#include "platform/thread_pool.h"

namespace pionnx {
namespace {

// Labels are small ints: letters by their char code, ellipsis dims from 256.
constexpr int kEllipsisBase = 256;

struct Equation {
  std::vector<std::vector<int>> inputs;  // labels per operand (ellipsis expanded)
  std::vector<int> output;
};

// Splits a term into letters, marking the ellipsis with -1.
std::vector<int> parse_term(const std::string& term, const std::string& what) {
  std::vector<int> out;
  bool seen_ellipsis = false;
  for (size_t i = 0; i < term.size(); ++i) {
    const char c = term[i];
    if (c == '.') {
      PIONNX_ENFORCE(term.compare(i, 3, "...") == 0 && !seen_ellipsis, InvalidArgument, what,
                     ": malformed ellipsis in equation term '", term, "'");
      seen_ellipsis = true;
      out.push_back(-1);
      i += 2;
    } else {
      PIONNX_ENFORCE((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'), InvalidArgument, what, ": invalid character '",
                     c, "' in equation");
      out.push_back(static_cast<unsigned char>(c));
    }
  }
  return out;
}

Equation parse_equation(std::string eq, const std::vector<const Tensor*>& ins, const std::string& what) {
  eq.erase(std::remove(eq.begin(), eq.end(), ' '), eq.end());
  const size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<std::vector<int>> terms;
  for (size_t b = 0;;) {
    const size_t e = lhs.find(',', b);
    terms.push_back(parse_term(lhs.substr(b, e == std::string::npos ? std::string::npos : e - b), what));
    if (e == std::string::npos) break;
    b = e + 1;
  }
  PIONNX_ENFORCE(terms.size() == ins.size(), InvalidArgument, what, ": equation has ", terms.size(),
                 " operands but the node has ", ins.size(), " inputs");

  // Expand each ellipsis into right-aligned labels shared by all operands.
  Equation out;
  int64_t ell_rank = 0;
  for (size_t i = 0; i < terms.size(); ++i) {
    const int64_t letters = std::count_if(terms[i].begin(), terms[i].end(), [](int l) { return l >= 0; });
    const bool has_ell = letters != static_cast<int64_t>(terms[i].size());
    const int64_t rank = static_cast<int64_t>(ins[i]->rank());
    PIONNX_ENFORCE(has_ell ? rank >= letters : rank == letters, InvalidArgument, what, ": operand ", i, " has rank ",
                   rank, " but its equation term has ", letters, " labels");
    const int64_t e = rank - letters;
    ell_rank = std::max(ell_rank, e);
    std::vector<int> labels;
    for (int l : terms[i]) {
      if (l >= 0) {
        labels.push_back(l);
        continue;
      }
      for (int64_t k = 0; k < e; ++k) labels.push_back(kEllipsisBase + static_cast<int>(k));
    }
    out.inputs.push_back(labels);
  }
  // Ellipsis labels are numbered from the left of the longest ellipsis; a
  // shorter one covers its trailing part.
  for (size_t i = 0; i < terms.size(); ++i) {
    const int64_t e = static_cast<int64_t>(out.inputs[i].size()) -
                      std::count_if(terms[i].begin(), terms[i].end(), [](int l) { return l >= 0; });
    for (int& l : out.inputs[i])
      if (l >= kEllipsisBase) l += static_cast<int>(ell_rank - e);
  }

  if (arrow != std::string::npos) {
    for (int l : parse_term(eq.substr(arrow + 2), what)) {
      if (l >= 0) {
        out.output.push_back(l);
        continue;
      }
      for (int64_t k = 0; k < ell_rank; ++k) out.output.push_back(kEllipsisBase + static_cast<int>(k));
    }
  } else {
    // Implicit output: the ellipsis dims, then letters used exactly once, in
    // alphabetical order.
    std::map<int, int> count;
    for (const auto& in : out.inputs)
      for (int l : in) ++count[l];
    for (int64_t k = 0; k < ell_rank; ++k) out.output.push_back(kEllipsisBase + static_cast<int>(k));
    for (const auto& [l, c] : count)
      if (l < kEllipsisBase && c == 1) out.output.push_back(l);
  }
  return out;
}

// A strided view over (possibly shared) storage, one dimension per label.
template <typename T>
struct View {
  std::vector<int> labels;
  std::vector<int64_t> dims, strides;
  const T* data = nullptr;
  Tensor owned;  // keeps intermediate results alive; undefined for inputs

  int64_t find(int l) const {
    for (size_t i = 0; i < labels.size(); ++i)
      if (labels[i] == l) return static_cast<int64_t>(i);
    return -1;
  }
  // True when the elements are stored densely in the order of `order`.
  bool contiguous_in(const std::vector<int>& order) const {
    int64_t expect = 1;
    for (size_t i = order.size(); i-- > 0;) {
      const int64_t d = find(order[i]);
      if (dims[d] == 1) continue;
      if (strides[d] != expect) return false;
      expect *= dims[d];
    }
    return true;
  }
  // Labels sorted by decreasing stride: the order the memory is laid out in.
  std::vector<int> memory_order(std::vector<int> ls) const {
    std::stable_sort(ls.begin(), ls.end(), [&](int a, int b) { return strides[find(a)] > strides[find(b)]; });
    return ls;
  }
};

// Copies `v` into a fresh contiguous buffer with its labels in `order`.
template <typename T>
std::vector<T> pack(const View<T>& v, const std::vector<int>& order) {
  Shape dims;
  std::vector<int64_t> strides;
  for (int l : order) {
    const int64_t i = v.find(l);
    dims.push_back(v.dims[i]);
    strides.push_back(v.strides[i]);
  }
  const int64_t n = shape_numel(dims);
  std::vector<T> out(static_cast<size_t>(n));
  if (n == 0) return out;
  if (dims.empty()) {
    out[0] = v.data[0];
    return out;
  }
  const int64_t last = dims.back(), ls = strides.back();
  Shape outer(dims.begin(), dims.end() - 1);
  IndexIter it(outer);
  T* dst = out.data();
  do {
    int64_t off = 0;
    for (size_t d = 0; d < outer.size(); ++d) off += it.idx[d] * strides[d];
    const T* src = v.data + off;
    for (int64_t j = 0; j < last; ++j) *dst++ = src[j * ls];
  } while (!outer.empty() && it.next());
  return out;
}

template <typename T>
View<T> contiguous_view(std::vector<int> labels, Tensor data) {
  View<T> v;
  v.labels = std::move(labels);
  v.dims = data.shape();
  v.strides = strides_of(v.dims);
  v.owned = std::move(data);
  v.data = static_cast<const T*>(v.owned.raw());
  return v;
}

// `v` densely in `order`: the view's own memory when already laid out so,
// else a packed copy held in `keep`.
template <typename T>
const T* dense_in(const View<T>& v, const std::vector<int>& order, std::vector<T>& keep) {
  if (v.contiguous_in(order)) return v.data;
  keep = pack(v, order);
  return keep.data();
}

// Sums `v` over every label not in `keep`.
template <typename T>
View<T> sum_out(const View<T>& v, const std::set<int>& keep) {
  std::vector<int> kept, summed;
  Shape kept_dims;
  int64_t n_sum = 1;
  for (size_t i = 0; i < v.labels.size(); ++i) {
    if (keep.count(v.labels[i])) {
      kept.push_back(v.labels[i]);
      kept_dims.push_back(v.dims[i]);
    } else {
      summed.push_back(v.labels[i]);
      n_sum *= v.dims[i];
    }
  }
  if (summed.empty()) return v;
  std::vector<int> order = kept;
  order.insert(order.end(), summed.begin(), summed.end());
  const std::vector<T> packed = pack(v, order);
  Tensor out(DTypeOf<T>::value, kept_dims);
  T* o = static_cast<T*>(out.raw());
  for (int64_t i = 0; i < out.numel(); ++i) {
    T acc = 0;
    const T* p = packed.data() + i * n_sum;
    for (int64_t k = 0; k < n_sum; ++k) acc += p[k];
    o[i] = acc;
  }
  return contiguous_view<T>(kept, std::move(out));
}

// Batched product [batch] x (M x K) * (K x N), row-major, dense operands.
// op(A) element (i, k) is A[i * K + k], or A[k * M + i] when ta; likewise B.
template <typename T>
void batched_matmul(bool ta, bool tb, int64_t B, int64_t M, int64_t N, int64_t K, const T* a, const T* b, T* c,
                    ThreadPool& pool) {
  if constexpr (std::is_same<T, float>::value) {
    // Small products: one thread per batch entry; big ones: sgemm splits.
    const bool per_batch = B >= 2 * pool.size() && M * N * K < (1 << 21);
    if (per_batch) {
      pool.parallel_for(B, 1, [&](int64_t s, int64_t e) {
        for (int64_t i = s; i < e; ++i)
          simd::sgemm(ta, tb, M, N, K, 1.f, a + i * M * K, ta ? M : K, b + i * K * N, tb ? K : N, 0.f, c + i * M * N, N,
                      nullptr);
      });
    } else {
      for (int64_t i = 0; i < B; ++i)
        simd::sgemm(ta, tb, M, N, K, 1.f, a + i * M * K, ta ? M : K, b + i * K * N, tb ? K : N, 0.f, c + i * M * N, N,
                    &pool);
    }
    return;
  }
  // Other types: row i of c = sum_k a[i, k] * b[k, :] (contiguous in j).
  std::fill(c, c + B * M * N, T(0));
  pool.parallel_for(B * M, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, K * N)), [&](int64_t s, int64_t e) {
    for (int64_t r = s; r < e; ++r) {
      const int64_t bt = r / M, i = r % M;
      const T* am = a + bt * M * K;
      const T* bm = b + bt * K * N;
      T* o = c + r * N;
      for (int64_t k = 0; k < K; ++k) {
        const T av = ta ? am[k * M + i] : am[i * K + k];
        if (tb) {
          for (int64_t j = 0; j < N; ++j) o[j] += av * bm[j * K + k];
        } else {
          const T* br = bm + k * N;
          for (int64_t j = 0; j < N; ++j) o[j] += av * br[j];
        }
      }
    }
  });
}

// a and b contracted over their shared labels not in `keep`. Label groups
// follow a's memory order (b's for its own labels), and each operand is read
// as a plain or transposed matrix without a copy when its layout allows.
template <typename T>
View<T> contract(const View<T>& a, const View<T>& b, const std::set<int>& keep, ThreadPool& pool) {
  std::vector<int> batch, a_only, b_only, inner;
  int64_t B = 1, M = 1, N = 1, K = 1;
  for (int l : a.memory_order(a.labels)) {
    const int64_t n = a.dims[a.find(l)];
    if (b.find(l) < 0) {
      a_only.push_back(l);
      M *= n;
    } else if (keep.count(l)) {
      batch.push_back(l);
      B *= n;
    } else {
      inner.push_back(l);
      K *= n;
    }
  }
  for (int l : b.memory_order(b.labels))
    if (a.find(l) < 0) {
      b_only.push_back(l);
      N *= b.dims[b.find(l)];
    }
  auto cat = [](std::vector<int> x, const std::vector<int>& y, const std::vector<int>& z) {
    x.insert(x.end(), y.begin(), y.end());
    x.insert(x.end(), z.begin(), z.end());
    return x;
  };
  const std::vector<int> a_mk = cat(batch, a_only, inner), a_km = cat(batch, inner, a_only);
  const std::vector<int> b_kn = cat(batch, inner, b_only), b_nk = cat(batch, b_only, inner);
  const bool ta = !a.contiguous_in(a_mk) && a.contiguous_in(a_km);
  const bool tb = !b.contiguous_in(b_kn) && b.contiguous_in(b_nk);
  std::vector<T> ka, kb;
  const T* pa = dense_in(a, ta ? a_km : a_mk, ka);
  const T* pb = dense_in(b, tb ? b_nk : b_kn, kb);

  Shape out_dims;
  for (int l : batch) out_dims.push_back(a.dims[a.find(l)]);
  for (int l : a_only) out_dims.push_back(a.dims[a.find(l)]);
  for (int l : b_only) out_dims.push_back(b.dims[b.find(l)]);
  Tensor out(DTypeOf<T>::value, out_dims);
  if (out.numel() > 0) {
    if (K == 0) std::fill(static_cast<T*>(out.raw()), static_cast<T*>(out.raw()) + out.numel(), T(0));
    else batched_matmul<T>(ta, tb, B, M, N, K, pa, pb, static_cast<T*>(out.raw()), pool);
  }
  return contiguous_view<T>(cat(batch, a_only, b_only), std::move(out));
}

class Einsum : public Kernel {
 public:
  explicit Einsum(const KernelInfo& info) : node_(info.node), equation_(info.node.require("equation").s) {}

  void compute(KernelContext& ctx) const override {
    std::vector<const Tensor*> ins;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) ins.push_back(&ctx.input(i));
    PIONNX_ENFORCE(!ins.empty(), InvalidArgument, node_.describe(), ": needs at least one input");
    const DType dt = ins[0]->dtype();
    for (size_t i = 1; i < ins.size(); ++i)
      PIONNX_ENFORCE(ins[i]->dtype() == dt, InvalidArgument, node_.describe(), ": input ", i, " has dtype ",
                     dtype_name(ins[i]->dtype()), ", expected ", dtype_name(dt));
    const Equation eq = parse_equation(equation_, ins, node_.describe());

    if (dt == DType::Float16 || dt == DType::BFloat16) {
      std::vector<Tensor> wide;
      std::vector<const Tensor*> wp;
      for (const Tensor* t : ins) wide.push_back(to_float32(*t));
      for (const Tensor& t : wide) wp.push_back(&t);
      Tensor y;
      run<float>(eq, wp, y, ctx.pool());
      ctx.set_output(0, cast_tensor(y, dt));
      return;
    }
    dispatch_numeric(dt, node_.describe(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      Tensor y;
      run<T>(eq, ins, y, ctx.pool());
      ctx.set_output(0, y);
    });
  }

 private:
  template <typename T>
  void run(const Equation& eq, const std::vector<const Tensor*>& ins, Tensor& y, ThreadPool& pool) const {
    // Every label's size; broadcasting (size 1 against n) is allowed.
    std::map<int, int64_t> size;
    for (size_t i = 0; i < ins.size(); ++i)
      for (size_t d = 0; d < eq.inputs[i].size(); ++d) {
        const int l = eq.inputs[i][d];
        const int64_t n = ins[i]->shape()[d];
        auto it = size.find(l);
        if (it == size.end() || it->second == 1) {
          size[l] = n;
        } else {
          PIONNX_ENFORCE(n == 1 || n == it->second, InvalidArgument, node_.describe(), ": input ", i, " dim ", d,
                         " is ", n, " but the same label has size ", it->second);
        }
      }
    for (int l : eq.output)
      PIONNX_ENFORCE(size.count(l), InvalidArgument, node_.describe(), ": output label not found among the inputs in '",
                     equation_, "'");

    std::vector<View<T>> views;
    for (size_t i = 0; i < ins.size(); ++i) {
      View<T> v;
      v.data = static_cast<const T*>(ins[i]->raw());
      const std::vector<int64_t> st = strides_of(ins[i]->shape());
      for (size_t d = 0; d < eq.inputs[i].size(); ++d) {
        const int l = eq.inputs[i][d];
        const int64_t n = ins[i]->shape()[d];
        const int64_t stride = n == 1 ? 0 : st[d];  // size 1: broadcast
        const int64_t at = v.find(l);
        if (at >= 0) {
          PIONNX_ENFORCE(v.dims[at] == n || n == 1 || v.dims[at] == 1, InvalidArgument, node_.describe(),
                         ": repeated label in input ", i, " has sizes ", v.dims[at], " and ", n);
          v.strides[at] += stride;  // a diagonal
          continue;
        }
        v.labels.push_back(l);
        v.dims.push_back(size[l]);
        v.strides.push_back(stride);
      }
      views.push_back(std::move(v));
    }

    // Labels needed after operand i: the output's and those of later operands.
    const size_t n = views.size();
    std::vector<std::set<int>> needed_after(n);
    std::set<int> acc(eq.output.begin(), eq.output.end());
    for (size_t i = n; i-- > 0;) {
      needed_after[i] = acc;
      acc.insert(views[i].labels.begin(), views[i].labels.end());
    }
    // Sums over labels only one operand uses keep the products small.
    auto local_keep = [&](size_t i) {
      std::set<int> k = needed_after[i];
      for (size_t j = 0; j < i; ++j) k.insert(views[j].labels.begin(), views[j].labels.end());
      return k;
    };
    View<T> cur = sum_out(views[0], local_keep(0));
    for (size_t i = 1; i < n; ++i) {
      std::set<int> keep_b = local_keep(i);
      keep_b.insert(cur.labels.begin(), cur.labels.end());
      const View<T> b = sum_out(views[i], keep_b);
      std::set<int> keep_a = needed_after[i];
      keep_a.insert(b.labels.begin(), b.labels.end());
      cur = sum_out(cur, keep_a);
      cur = contract(cur, b, needed_after[i], pool);
    }
    cur = sum_out(cur, std::set<int>(eq.output.begin(), eq.output.end()));

    Shape out_shape;
    for (int l : eq.output) out_shape.push_back(size[l]);
    if (cur.owned.defined() && cur.contiguous_in(eq.output) && cur.owned.numel() == shape_numel(out_shape)) {
      y = cur.owned.reshaped(out_shape);  // already laid out as the output
      return;
    }
    std::vector<T> data = pack(cur, eq.output);
    y = Tensor(DTypeOf<T>::value, out_shape);
    std::copy(data.begin(), data.end(), static_cast<T*>(y.raw()));
  }

  const Node& node_;
  std::string equation_;
};

}  // namespace

void register_einsum(KernelRegistry& r) { r.add<Einsum>("", "Einsum"); }

}  // namespace pionnx
