// Converting a whole tensor between dtypes (Cast, and kernels that compute in
// float32 or double only).
#pragma once
#include "core/small_floats.h"
#include "pionnx/tensor.h"

namespace pionnx {

// Widens 16-bit floats to float32 and back, for kernels that compute in
// float32 only.
Tensor to_float32(const Tensor& t);
// Any non-string dtype to any other, small types (float8, float4, int4)
// included. `saturate` and `round` only matter for float8/float4 targets
// (Cast-19/24 attributes); the defaults are ONNX's.
Tensor cast_tensor(const Tensor& t, DType to, bool saturate = true, E8M0Round round = E8M0Round::Up);

}  // namespace pionnx
