#pragma once

#include <napi.h>

#include <cstdint>

namespace dlexp {

Napi::Value matMul(const Napi::CallbackInfo& info);
void releaseMatMulPlans();

// c = a·b, or c += a·b when `accumulate`, for row-major matrices with leading dimensions (the
// distance between rows): a is m x k (stored k x m when transA), b is k x n (n x k when
// transB), c is m x n. For kernels that multiply slices of larger buffers (a recurrent layer's
// time steps). Products large enough to gain from it split among the configured threads.
void gemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
          bool accumulate, float* c, int64_t ldc);

}  // namespace dlexp
