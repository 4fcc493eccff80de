// Sequence and Optional operators. A sequence is a Value holding tensors
// that share storage with their producers; nothing is copied unless a
// tensor is split or concatenated.
#include <algorithm>
#include <cstring>

#include "kernels/base/families.h"
#include "kernels/base/kernel.h"
#include "kernels/base/shapes.h"

namespace pionnx {

namespace {

const Value& sequence_input(const KernelContext& ctx, size_t i) {
  const Value* v = ctx.input_value(i);
  PIONNX_ENFORCE(v && v->kind == Value::Kind::Sequence, InvalidArgument, ctx.node().describe(), ": input ", i,
                 " must be a sequence");
  return *v;
}

int64_t position(const KernelContext& ctx, size_t i, int64_t size, bool allow_end) {
  int64_t p = static_cast<int64_t>(tensor_scalar_as_double(ctx.input(i)));
  int64_t hi = allow_end ? size : size - 1;
  PIONNX_ENFORCE(p >= -size && p <= hi, InvalidArgument, ctx.node().describe(), ": position ", p,
                 " is out of range for a sequence of ", size);
  return p < 0 ? p + size : p;
}

// Copies `count` rows of `row` elements: the building block of concat/split
// along an axis.
void copy_block(const Tensor& src, int64_t src_off, Tensor& dst, int64_t dst_off, int64_t n) {
  if (src.dtype() == DType::String) {
    for (int64_t i = 0; i < n; ++i) dst.data<std::string>()[dst_off + i] = src.data<std::string>()[src_off + i];
  } else if (n) {
    size_t es = dtype_size(src.dtype());
    std::memcpy(static_cast<char*>(dst.raw()) + dst_off * es, static_cast<const char*>(src.raw()) + src_off * es,
                n * es);
  }
}

void sequence_empty(KernelContext& ctx) {
  DType dt = static_cast<DType>(ctx.node().attr_i("dtype", static_cast<int64_t>(DType::Float)));
  ctx.set_output_value(0, Value::make_sequence({}, dt));
}

void sequence_construct(KernelContext& ctx) {
  std::vector<Tensor> items;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) items.push_back(ctx.input(i));
  DType dt = items.empty() ? DType::Undefined : items[0].dtype();
  for (const Tensor& t : items)
    PIONNX_ENFORCE(t.dtype() == dt, InvalidArgument, ctx.node().describe(), ": all tensors must have one dtype");
  ctx.set_output_value(0, Value::make_sequence(std::move(items), dt));
}

void sequence_at(KernelContext& ctx) {
  const Value& s = sequence_input(ctx, 0);
  int64_t p = position(ctx, 1, static_cast<int64_t>(s.sequence.size()), false);
  ctx.set_output(0, s.sequence[p]);
}

void sequence_insert(KernelContext& ctx) {
  const Value& s = sequence_input(ctx, 0);
  const Tensor& t = ctx.input(1);
  int64_t size = static_cast<int64_t>(s.sequence.size());
  int64_t p = ctx.has_input(2) ? position(ctx, 2, size, true) : size;
  std::vector<Tensor> items = s.sequence;
  items.insert(items.begin() + p, t);
  ctx.set_output_value(0, Value::make_sequence(std::move(items), t.dtype()));
}

void sequence_erase(KernelContext& ctx) {
  const Value& s = sequence_input(ctx, 0);
  int64_t size = static_cast<int64_t>(s.sequence.size());
  int64_t p = ctx.has_input(1) ? position(ctx, 1, size, false) : size - 1;
  PIONNX_ENFORCE(size > 0, InvalidArgument, ctx.node().describe(), ": cannot erase from an empty sequence");
  std::vector<Tensor> items = s.sequence;
  items.erase(items.begin() + p);
  ctx.set_output_value(0, Value::make_sequence(std::move(items), s.seq_elem));
}

void sequence_length(KernelContext& ctx) {
  ctx.set_output(0, Tensor::scalar<int64_t>(static_cast<int64_t>(sequence_input(ctx, 0).sequence.size())));
}

void concat_from_sequence(KernelContext& ctx) {
  const Node& n = ctx.node();
  const Value& s = sequence_input(ctx, 0);
  PIONNX_ENFORCE(!s.sequence.empty(), InvalidArgument, n.describe(), ": the sequence is empty");
  bool new_axis = n.attr_i("new_axis", 0) != 0;
  const Tensor& first = s.sequence[0];
  int64_t rank = static_cast<int64_t>(first.rank());
  int64_t axis = normalize_axis(n.require("axis").i, new_axis ? rank + 1 : rank, n.describe());
  std::vector<Tensor> parts;
  for (const Tensor& t : s.sequence) {
    // Before the new axis goes in: `axis` was checked against the first tensor's rank (found by the fuzzer:
    // a lower-rank tensor later in the sequence had the axis inserted past its end).
    PIONNX_ENFORCE(t.rank() == first.rank() && t.dtype() == first.dtype(), InvalidArgument, n.describe(),
                   ": the sequence's tensors differ in rank or dtype (", shape_str(first.shape()), " ",
                   dtype_name(first.dtype()), ", ", shape_str(t.shape()), " ", dtype_name(t.dtype()), ")");
    Shape sh = t.shape();
    if (new_axis) sh.insert(sh.begin() + axis, 1);
    parts.push_back(t.reshaped(sh));
  }
  Shape out_shape = parts[0].shape();
  out_shape[axis] = 0;
  for (const Tensor& p : parts) {
    for (size_t d = 0; d < out_shape.size(); ++d)
      PIONNX_ENFORCE(static_cast<int64_t>(d) == axis || p.shape()[d] == out_shape[d], InvalidArgument, n.describe(),
                     ": shapes ", shape_str(parts[0].shape()), " and ", shape_str(p.shape()), " differ off the axis");
    out_shape[axis] += p.shape()[axis];
  }
  Tensor& out = ctx.output(0, first.dtype(), out_shape);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= out_shape[d];
  for (size_t d = axis + 1; d < out_shape.size(); ++d) inner *= out_shape[d];
  int64_t out_row = out_shape[axis] * inner, off = 0;
  for (const Tensor& p : parts) {
    int64_t row = p.shape()[axis] * inner;
    for (int64_t o = 0; o < outer; ++o) copy_block(p, o * row, out, o * out_row + off, row);
    off += row;
  }
}

void split_to_sequence(KernelContext& ctx) {
  const Node& n = ctx.node();
  const Tensor& x = ctx.input(0);
  int64_t rank = static_cast<int64_t>(x.rank());
  int64_t axis = normalize_axis(n.attr_i("axis", 0), rank, n.describe());
  int64_t len = x.shape()[axis];
  std::vector<int64_t> sizes;
  bool squeeze = false;
  if (const Tensor* split = ctx.optional_input(1)) {
    std::vector<int64_t> v = tensor_to_int64s(*split);
    if (split->rank() == 0) {
      PIONNX_ENFORCE(v[0] > 0, InvalidArgument, n.describe(), ": split size must be positive");
      for (int64_t left = len; left > 0; left -= v[0]) sizes.push_back(std::min(v[0], left));
    } else {
      sizes = v;
      int64_t total = 0;
      for (int64_t s : sizes) total += s;
      PIONNX_ENFORCE(total == len, InvalidArgument, n.describe(), ": split sizes sum to ", total, ", axis has ", len);
    }
  } else {
    sizes.assign(static_cast<size_t>(len), 1);
    squeeze = n.attr_i("keepdims", 1) == 0;
  }
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.shape()[d];
  for (int64_t d = axis + 1; d < rank; ++d) inner *= x.shape()[d];
  std::vector<Tensor> items;
  int64_t start = 0;
  for (int64_t s : sizes) {
    Shape sh = x.shape();
    sh[axis] = s;
    Tensor t(x.dtype(), sh);
    for (int64_t o = 0; o < outer; ++o) copy_block(x, (o * len + start) * inner, t, o * s * inner, s * inner);
    if (squeeze) {
      sh.erase(sh.begin() + axis);
      t = t.reshaped(sh);
    }
    items.push_back(t);
    start += s;
  }
  ctx.set_output_value(0, Value::make_sequence(std::move(items), x.dtype()));
}

class SequenceMap : public Kernel {
 public:
  explicit SequenceMap(const KernelInfo& info) : body_(info.subgraph("body")) {}

  void compute(KernelContext& ctx) const override {
    const Value& s = sequence_input(ctx, 0);
    size_t len = s.sequence.size();
    size_t n_out = body_->graph().outputs.size();
    std::vector<size_t> wanted(n_out);
    for (size_t i = 0; i < n_out; ++i) wanted[i] = i;
    std::vector<std::vector<Tensor>> outs(n_out);
    for (size_t k = 0; k < len; ++k) {
      std::vector<Value> ins;
      ins.emplace_back(s.sequence[k]);
      for (size_t i = 1; i < ctx.num_inputs(); ++i) {
        const Value* v = ctx.input_value(i);
        PIONNX_ENFORCE(v, InvalidArgument, ctx.node().describe(), ": input ", i, " is missing");
        if (v->kind == Value::Kind::Sequence) {
          PIONNX_ENFORCE(v->sequence.size() == len, InvalidArgument, ctx.node().describe(),
                         ": sequence inputs differ in length");
          ins.emplace_back(v->sequence[k]);
        } else {
          ins.push_back(*v);
        }
      }
      std::vector<const Value*> ptrs;
      for (const Value& v : ins) ptrs.push_back(&v);
      std::vector<Value> res = body_->run(ptrs, ctx.pool(), ctx.scope(), wanted);
      for (size_t i = 0; i < n_out; ++i) outs[i].push_back(res[i].tensor);
    }
    for (size_t i = 0; i < n_out; ++i) {
      const TypeInfo& t = body_->graph().outputs[i].type;
      DType dt = outs[i].empty() ? t.elem : outs[i][0].dtype();
      ctx.set_output_value(i, Value::make_sequence(std::move(outs[i]), dt));
    }
  }

 private:
  std::unique_ptr<Subgraph> body_;
};

void optional_make(KernelContext& ctx) {
  const Value* v = ctx.input_value(0);
  ctx.set_output_value(0, v ? *v : Value());
}

void optional_has_element(KernelContext& ctx) {
  const Value* v = ctx.input_value(0);
  ctx.set_output(0, Tensor::scalar<bool>(v != nullptr && v->kind != Value::Kind::None));
}

void optional_get_element(KernelContext& ctx) {
  const Value* v = ctx.input_value(0);
  PIONNX_ENFORCE(v && v->kind != Value::Kind::None, InvalidArgument, ctx.node().describe(),
                 ": the optional input is empty");
  ctx.set_output_value(0, *v);
}

}  // namespace

// The sequence family's one file, and its registration.
void register_sequence_family(KernelRegistry& r) {
  r.add_all("",
            {impl_fn("SequenceEmpty", sequence_empty), impl_fn("SequenceConstruct", sequence_construct),
             impl_fn("SequenceAt", sequence_at), impl_fn("SequenceInsert", sequence_insert),
             impl_fn("SequenceErase", sequence_erase), impl_fn("SequenceLength", sequence_length),
             impl_fn("ConcatFromSequence", concat_from_sequence), impl_fn("SplitToSequence", split_to_sequence),
             impl<SequenceMap>("SequenceMap"), impl_fn("Optional", optional_make),
             impl_fn("OptionalHasElement", optional_has_element), impl_fn("OptionalGetElement", optional_get_element)});
}

}  // namespace pionnx
