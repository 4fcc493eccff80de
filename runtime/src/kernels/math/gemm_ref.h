// A plain GEMM for the types the packed SGEMM does not cover (double and
// integers), and a dispatcher that sends float to the SGEMM. Shared by the
// gemm and conv families.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "kernels/simd/sgemm.h"

namespace pionnx {

// C = alpha * op(A) op(B) + beta * C, row-major, same conventions as
// simd::sgemm. Each C row is built in a T accumulator (so integers wrap as
// numpy's do), then scaled. beta == 0 means C is not read.
template <typename T>
void gemm_typed(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const T* A, int64_t lda, const T* B,
                int64_t ldb, double beta, T* C, int64_t ldc) {
  std::vector<T> acc(static_cast<size_t>(N));
  for (int64_t i = 0; i < M; ++i) {
    std::fill(acc.begin(), acc.end(), T(0));
    for (int64_t k = 0; k < K; ++k) {
      const T a = ta ? A[k * lda + i] : A[i * lda + k];
      if (tb) {
        for (int64_t j = 0; j < N; ++j) acc[j] += a * B[j * ldb + k];
      } else {
        const T* b = B + k * ldb;
        for (int64_t j = 0; j < N; ++j) acc[j] += a * b[j];
      }
    }
    T* c = C + i * ldc;
    for (int64_t j = 0; j < N; ++j) {
      if (alpha == 1.0 && (beta == 0.0 || beta == 1.0)) c[j] = beta == 0.0 ? acc[j] : static_cast<T>(acc[j] + c[j]);
      else
        c[j] = static_cast<T>(alpha * static_cast<double>(acc[j]) +
                              (beta == 0.0 ? 0.0 : beta * static_cast<double>(c[j])));
    }
  }
}

template <typename T>
void gemm_any(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const T* A, int64_t lda, const T* B,
              int64_t ldb, double beta, T* C, int64_t ldc, ThreadPool* pool) {
  if constexpr (std::is_same<T, float>::value)
    simd::sgemm(ta, tb, M, N, K, static_cast<float>(alpha), A, lda, B, ldb, static_cast<float>(beta), C, ldc, pool);
  else gemm_typed<T>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace pionnx
