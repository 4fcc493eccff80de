// If, Loop, Scan: operators that run subgraphs. Each subgraph is made
// runnable once, at session creation, by the executor that makes the kernel
// (KernelInfo::subgraph); values of enclosing graphs are read through the
// scope at run time.
#include <algorithm>
#include <atomic>
#include <cstring>

#include "kernels/base/dtype_dispatch.h"
#include "kernels/base/families.h"
#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"
#include "platform/thread_pool.h"

namespace pionnx {

namespace {

std::atomic<int64_t> g_loop_iteration_cap{INT64_MAX};

std::vector<size_t> all_outputs(const Subgraph& e) {
  std::vector<size_t> v(e.graph().outputs.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = i;
  return v;
}

bool truthy(const Tensor& t, const Node& n, const char* what) {
  PIONNX_ENFORCE(t.numel() == 1, InvalidArgument, n.describe(), ": ", what, " must hold one value, got shape ",
                 shape_str(t.shape()));
  return tensor_scalar_as_double(t) != 0.0;
}

// Stacks equally shaped tensors along a new axis 0.
Tensor stack(const std::vector<Tensor>& items, const Node& n) {
  PIONNX_ENFORCE(!items.empty(), InvalidArgument, n.describe(), ": nothing to stack");
  const Tensor& first = items[0];
  Shape shape = first.shape();
  shape.insert(shape.begin(), static_cast<int64_t>(items.size()));
  Tensor out(first.dtype(), shape);
  int64_t per = first.numel();
  for (size_t i = 0; i < items.size(); ++i) {
    PIONNX_ENFORCE(items[i].shape() == first.shape() && items[i].dtype() == first.dtype(), InvalidArgument,
                   n.describe(), ": iteration ", i, " produced shape ", shape_str(items[i].shape()),
                   " but iteration 0 ", shape_str(first.shape()));
    if (first.dtype() == DType::String) {
      for (int64_t k = 0; k < per; ++k) out.data<std::string>()[i * per + k] = items[i].data<std::string>()[k];
    } else if (per) {
      std::memcpy(static_cast<char*>(out.raw()) + i * items[i].nbytes(), items[i].raw(), items[i].nbytes());
    }
  }
  return out;
}

class If : public Kernel {
 public:
  explicit If(const KernelInfo& info) : then_(info.subgraph("then_branch")), else_(info.subgraph("else_branch")) {}

  void compute(KernelContext& ctx) const override {
    const Subgraph& branch = truthy(ctx.input(0), ctx.node(), "cond") ? *then_ : *else_;
    std::vector<Value> outs = branch.run({}, ctx.pool(), ctx.scope(), all_outputs(branch));
    PIONNX_ENFORCE(outs.size() >= ctx.num_outputs(), InvalidGraph, ctx.node().describe(), ": branch has ", outs.size(),
                   " outputs, the node ", ctx.num_outputs());
    for (size_t i = 0; i < ctx.num_outputs(); ++i) ctx.set_output_value(i, std::move(outs[i]));
  }

 private:
  std::unique_ptr<Subgraph> then_, else_;
};

class Loop : public Kernel {
 public:
  explicit Loop(const KernelInfo& info) : body_(info.subgraph("body")) {
    size_t body_in = body_->graph().inputs.size(), body_out = body_->graph().outputs.size();
    PIONNX_ENFORCE(body_in >= 2 && body_out >= 1, InvalidGraph, info.node.describe(),
                   ": body needs (iteration, cond, state...) inputs and (cond, ...) outputs");
    n_carried_ = body_in - 2;
    PIONNX_ENFORCE(body_out >= 1 + n_carried_, InvalidGraph, info.node.describe(), ": body returns ", body_out,
                   " values for ", n_carried_, " loop-carried values");
    n_scan_ = body_out - 1 - n_carried_;
  }

  void compute(KernelContext& ctx) const override {
    const Node& n = ctx.node();
    const Tensor* m = ctx.optional_input(0);
    const Tensor* c = ctx.optional_input(1);
    int64_t max_trips = m ? static_cast<int64_t>(tensor_scalar_as_double(*m)) : INT64_MAX;
    bool cond = c ? truthy(*c, n, "cond") : true;
    std::vector<Value> carried(n_carried_);
    for (size_t i = 0; i < n_carried_; ++i) {
      const Value* v = ctx.input_value(2 + i);
      if (v) carried[i] = *v;
    }
    std::vector<std::vector<Tensor>> scans(n_scan_);
    std::vector<size_t> wanted = all_outputs(*body_);
    const int64_t cap = g_loop_iteration_cap.load(std::memory_order_relaxed);
    // RunOptions.terminate, checked every iteration: a body may have no node to check it between.
    const std::atomic<bool>* terminate = ctx.scope() ? ctx.scope()->terminate_flag() : nullptr;
    for (int64_t it = 0; it < max_trips && cond; ++it) {
      PIONNX_ENFORCE(it < cap, InvalidArgument, n.describe(), ": more than ", cap,
                     " iterations (the process's loop iteration cap, set_loop_iteration_cap)");
      stop_if_terminated(terminate);
      Value iter(Tensor::scalar<int64_t>(it));
      Value cond_v(Tensor::scalar<bool>(cond));
      std::vector<const Value*> ins{&iter, &cond_v};
      for (const Value& v : carried) ins.push_back(&v);
      std::vector<Value> outs = body_->run(ins, ctx.pool(), ctx.scope(), wanted);
      PIONNX_ENFORCE(outs[0].is_tensor(), InvalidGraph, n.describe(), ": body's condition output is not a tensor");
      cond = truthy(outs[0].tensor, n, "body condition");
      for (size_t i = 0; i < n_carried_; ++i) carried[i] = std::move(outs[1 + i]);
      for (size_t i = 0; i < n_scan_; ++i) {
        Value& v = outs[1 + n_carried_ + i];
        PIONNX_ENFORCE(v.is_tensor(), NotImplemented, n.describe(), ": scan outputs must be tensors");
        scans[i].push_back(v.tensor);
      }
    }
    for (size_t i = 0; i < n_carried_; ++i) ctx.set_output_value(i, std::move(carried[i]));
    for (size_t i = 0; i < n_scan_; ++i) {
      if (!scans[i].empty()) {
        ctx.set_output(n_carried_ + i, stack(scans[i], n));
      } else {
        // No iteration ran: an empty stack of the declared element type.
        const TypeInfo& t = body_->graph().outputs[1 + n_carried_ + i].type;
        DType dt = t.elem == DType::Undefined ? DType::Float : t.elem;
        ctx.output(n_carried_ + i, dt, {0});
      }
    }
  }

 private:
  std::unique_ptr<Subgraph> body_;
  size_t n_carried_ = 0, n_scan_ = 0;
};

// Slices t along axis at index k (the axis removed).
Tensor take_along(const Tensor& t, int64_t axis, int64_t k) {
  Shape out_shape = t.shape();
  out_shape.erase(out_shape.begin() + axis);
  Tensor out(t.dtype(), out_shape);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= t.shape()[d];
  for (size_t d = axis + 1; d < t.rank(); ++d) inner *= t.shape()[d];
  int64_t len = t.shape()[axis];
  dispatch_movable(t.dtype(), "Scan", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* src = static_cast<const T*>(t.raw());
    T* dst = static_cast<T*>(out.raw());
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) dst[o * inner + i] = src[(o * len + k) * inner + i];
  });
  return out;
}

// Stacks slices along `axis` (inserted), in the order given.
Tensor stack_along(const std::vector<Tensor>& items, int64_t axis, const Node& n) {
  Tensor s = stack(items, n);  // new axis 0
  if (axis == 0) return s;
  // Move axis 0 to `axis`.
  Shape in = s.shape();
  Shape out_shape = in;
  out_shape.erase(out_shape.begin());
  out_shape.insert(out_shape.begin() + axis, in[0]);
  Tensor out(s.dtype(), out_shape);
  int64_t len = in[0], outer = 1, inner = 1;
  for (int64_t d = 1; d <= axis; ++d) outer *= in[d];
  for (size_t d = axis + 1; d < in.size(); ++d) inner *= in[d];
  dispatch_movable(s.dtype(), "Scan", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* src = static_cast<const T*>(s.raw());
    T* dst = static_cast<T*>(out.raw());
    for (int64_t k = 0; k < len; ++k)
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) dst[(o * len + k) * inner + i] = src[(k * outer + o) * inner + i];
  });
  return out;
}

class Scan : public Kernel {
 public:
  explicit Scan(const KernelInfo& info) : body_(info.subgraph("body")) {
    const Node& n = info.node;
    n_scan_in_ = static_cast<size_t>(n.require("num_scan_inputs").i);
    size_t body_in = body_->graph().inputs.size();
    PIONNX_ENFORCE(n_scan_in_ <= body_in, InvalidGraph, n.describe(), ": num_scan_inputs exceeds body inputs");
    n_state_ = body_in - n_scan_in_;
    n_scan_out_ = body_->graph().outputs.size() - n_state_;
    in_axes_ = n.attr_ints("scan_input_axes", std::vector<int64_t>(n_scan_in_, 0));
    in_dirs_ = n.attr_ints("scan_input_directions", std::vector<int64_t>(n_scan_in_, 0));
    out_axes_ = n.attr_ints("scan_output_axes", std::vector<int64_t>(n_scan_out_, 0));
    out_dirs_ = n.attr_ints("scan_output_directions", std::vector<int64_t>(n_scan_out_, 0));
    PIONNX_ENFORCE(in_axes_.size() == n_scan_in_ && in_dirs_.size() == n_scan_in_ && out_axes_.size() == n_scan_out_ &&
                       out_dirs_.size() == n_scan_out_,
                   InvalidGraph, n.describe(), ": scan axis/direction lists do not match the scan inputs/outputs");
  }

  void compute(KernelContext& ctx) const override {
    const Node& n = ctx.node();
    std::vector<Value> state(n_state_);
    for (size_t i = 0; i < n_state_; ++i) state[i] = Value(ctx.input(i));
    std::vector<Tensor> xs;
    std::vector<int64_t> axes;
    int64_t len = -1;
    for (size_t j = 0; j < n_scan_in_; ++j) {
      const Tensor& x = ctx.input(n_state_ + j);
      int64_t ax = normalize_axis(in_axes_[j], static_cast<int64_t>(x.rank()), n.describe());
      int64_t l = x.shape()[ax];
      PIONNX_ENFORCE(len < 0 || l == len, InvalidArgument, n.describe(), ": scan inputs have different lengths ", len,
                     " and ", l);
      len = l;
      xs.push_back(x);
      axes.push_back(ax);
    }
    if (len < 0) len = 0;
    std::vector<std::vector<Tensor>> outs(n_scan_out_);
    std::vector<size_t> wanted = all_outputs(*body_);
    for (int64_t t = 0; t < len; ++t) {
      std::vector<Value> slices(n_scan_in_);
      std::vector<const Value*> ins;
      for (const Value& v : state) ins.push_back(&v);
      for (size_t j = 0; j < n_scan_in_; ++j) {
        int64_t k = in_dirs_[j] ? len - 1 - t : t;
        slices[j] = Value(take_along(xs[j], axes[j], k));
        ins.push_back(&slices[j]);
      }
      std::vector<Value> res = body_->run(ins, ctx.pool(), ctx.scope(), wanted);
      for (size_t i = 0; i < n_state_; ++i) state[i] = std::move(res[i]);
      for (size_t j = 0; j < n_scan_out_; ++j) outs[j].push_back(res[n_state_ + j].tensor);
    }
    for (size_t i = 0; i < n_state_; ++i) ctx.set_output_value(i, std::move(state[i]));
    for (size_t j = 0; j < n_scan_out_; ++j) {
      std::vector<Tensor>& items = outs[j];
      if (out_dirs_[j]) std::reverse(items.begin(), items.end());
      if (items.empty()) {
        const TypeInfo& t = body_->graph().outputs[n_state_ + j].type;
        ctx.output(n_state_ + j, t.elem == DType::Undefined ? DType::Float : t.elem, {0});
        continue;
      }
      int64_t rank = static_cast<int64_t>(items[0].rank()) + 1;
      ctx.set_output(n_state_ + j, stack_along(items, normalize_axis(out_axes_[j], rank, n.describe()), n));
    }
  }

 private:
  std::unique_ptr<Subgraph> body_;
  size_t n_scan_in_ = 0, n_state_ = 0, n_scan_out_ = 0;
  std::vector<int64_t> in_axes_, in_dirs_, out_axes_, out_dirs_;
};

}  // namespace

// The control family's one file, and its registration.
void set_loop_iteration_cap(int64_t cap) { g_loop_iteration_cap.store(cap, std::memory_order_relaxed); }

void register_control_family(KernelRegistry& r) {
  r.add_all("", {impl<If>("If"), impl<Loop>("Loop"), impl<Scan>("Scan")});
}

}  // namespace pionnx
