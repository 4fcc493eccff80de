// Dropout at inference: the identity, with an all-true mask when asked.
// training_mode = true is refused: pionnx runs inference only.
#include <cstring>

#include "kernels/base/cast.h"
#include "kernels/base/kernel.h"

namespace pionnx {

namespace {

class Dropout : public Kernel {
 public:
  explicit Dropout(const KernelInfo& info) : is_test_(info.node.attr_i("is_test", 0) != 0), opset_(info.opset) {}

  void compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    // Opset 12+: training_mode is input 2; a true value asks for real dropout.
    if (opset_ >= 12) {
      const Tensor* training = ctx.optional_input(2);
      const Tensor* ratio = ctx.optional_input(1);
      bool train = training && training->numel() > 0 && tensor_scalar_as_double(*training) != 0.0;
      bool zero_ratio = ratio && ratio->numel() > 0 && tensor_scalar_as_double(*ratio) == 0.0;
      PIONNX_ENFORCE(!train || zero_ratio, NotImplemented, ctx.node().describe(),
                     ": training_mode=true is not supported (pionnx runs inference only)");
    }
    (void)is_test_;
    ctx.set_output(0, x);
    if (ctx.wants_output(1)) {
      // Opset 10+ masks are bool; earlier ones have the input's type.
      DType mask_type = opset_ >= 10 ? DType::Bool : x.dtype();
      Tensor& mask = ctx.output(1, mask_type, x.shape());
      if (mask_type == DType::Bool) {
        bool* m = mask.data<bool>();
        for (int64_t i = 0; i < mask.numel(); ++i) m[i] = true;
      } else {
        Tensor ones = cast_tensor(Tensor::scalar<float>(1.0f), mask_type);
        size_t es = dtype_size(mask_type);
        for (int64_t i = 0; i < mask.numel(); ++i) std::memcpy(static_cast<char*>(mask.raw()) + i * es, ones.raw(), es);
      }
    }
  }

 private:
  bool is_test_;
  int64_t opset_;
};

}  // namespace

void register_dropout(KernelRegistry& r) { r.add<Dropout>("", "Dropout"); }

}  // namespace pionnx
