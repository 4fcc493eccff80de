// Det (opset 11+): the determinant of the trailing square matrices.
#include <algorithm>
#include <cmath>

#include "kernels/base/cast.h"
#include "kernels/base/kernel.h"

namespace pionnx {

namespace {

// Det (11+): determinant of the trailing square matrices, by LU with partial
// pivoting in double precision.
void det_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const std::string what = ctx.node().describe();
  PIONNX_ENFORCE(x.rank() >= 2 && x.dim(-1) == x.dim(-2), InvalidArgument, what, ": input must be [..., M, M], got ",
                 shape_str(x.shape()));
  const int64_t M = x.dim(-1);
  const Shape out_shape(x.shape().begin(), x.shape().end() - 2);
  const Tensor xd = cast_tensor(x, DType::Double);
  const double* src = xd.data<double>();
  Tensor out(DType::Double, out_shape);
  double* y = out.data<double>();
  std::vector<double> a(static_cast<size_t>(M * M));
  for (int64_t b = 0; b < out.numel(); ++b) {
    std::copy(src + b * M * M, src + (b + 1) * M * M, a.begin());
    double det = 1;
    for (int64_t k = 0; k < M && det != 0; ++k) {
      int64_t p = k;
      for (int64_t i = k + 1; i < M; ++i)
        if (std::fabs(a[i * M + k]) > std::fabs(a[p * M + k])) p = i;
      if (a[p * M + k] == 0) {
        det = 0;
        break;
      }
      if (p != k) {
        for (int64_t j = 0; j < M; ++j) std::swap(a[k * M + j], a[p * M + j]);
        det = -det;
      }
      const double piv = a[k * M + k];
      det *= piv;
      for (int64_t i = k + 1; i < M; ++i) {
        const double f = a[i * M + k] / piv;
        for (int64_t j = k + 1; j < M; ++j) a[i * M + j] -= f * a[k * M + j];
      }
    }
    y[b] = det;
  }
  ctx.set_output(0, cast_tensor(out, x.dtype()));
}

}  // namespace

void register_det(KernelRegistry& r) { r.add_fn("", "Det", det_kernel); }

}  // namespace pionnx
