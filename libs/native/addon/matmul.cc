// BatchMatMul and _FusedMatMul: oneDNN's SGEMM per batch entry, then bias and activation applied
// while each output row is still in cache.
//
// Batches broadcast as TF.js's cpu backend does it: output entry i multiplies a[i % batchA] by
// b[i % batchB]. Few entries run one after another, each GEMM on every thread; many small
// entries run side by side, one thread each. Which way is decided from the shapes and the thread
// count alone, so a given call always splits its sums the same way (bit-for-bit repeatable).
//
// Arguments (a Float64Array):
//   0 a, 1 b, 2 out, 3 bias or -1, 4 prelu alphas or -1 (heap byte offsets)
//   5 batchA, 6 batchB, 7 m, 8 k, 9 n, 10 transposeA, 11 transposeB,
//   12 activation (see activation.h), 13 its alpha, 14 bias length (1 or n), 15 prelu alphas length (1 or n)
#include "matmul.h"

#include <dnnl.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "activation.h"
#include "common.h"

namespace dlexp {
namespace {

struct Epilogue {
  const float* bias = nullptr;
  size_t biasLength = 0;
  int activation = kLinear;
  float alpha = 0.f;
  const float* prelu = nullptr;
  size_t preluLength = 0;
  bool active() const { return bias != nullptr || activation != kLinear; }
};

void finishRow(float* row, size_t n, const Epilogue& e) {
  if (e.bias != nullptr) {
    if (e.biasLength == 1) {
      const float b = e.bias[0];
      for (size_t j = 0; j < n; j++) row[j] += b;
    } else {
      for (size_t j = 0; j < n; j++) row[j] += e.bias[j];
    }
  }
  applyActivation(row, n, e.activation, e.alpha, e.prelu, e.preluLength);
}

// Returns oneDNN's status rather than throwing: it also runs inside parallel regions.
dnnl_status_t gemm(bool transposeA, bool transposeB, int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c) {
  if (k == 0) {
    std::memset(c, 0, sizeof(float) * m * n);
    return dnnl_success;
  }
  return dnnl_sgemm(transposeA ? 'T' : 'N', transposeB ? 'T' : 'N', m, n, k, 1.f, a, transposeA ? m : k, b, transposeB ? k : n, 0.f, c, n);
}

}  // namespace

Napi::Value matMul(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const char* kernel = "MatMul";
  const Heap heap = heapFrom(env, info[0]);
  const Args args(env, info[1], 16, kernel);
  const int64_t batchA = args.i(5), batchB = args.i(6), m = args.i(7), k = args.i(8), n = args.i(9);
  const bool transposeA = args.n(10) != 0, transposeB = args.n(11) != 0;
  if (batchA < 1 || batchB < 1 || m < 0 || k < 0 || n < 0) fail(env, "MatMul: invalid shape");
  const int64_t batch = std::max(batchA, batchB);
  try {
    const float* a = heap.at<float>(args.d(0), static_cast<double>(batchA * m * k), kernel);
    const float* b = heap.at<float>(args.d(1), static_cast<double>(batchB * k * n), kernel);
    float* out = heap.at<float>(args.d(2), static_cast<double>(batch * m * n), kernel);
    Epilogue e;
    e.activation = args.n(12);
    e.alpha = args.f(13);
    if (args.d(3) >= 0) {
      e.biasLength = static_cast<size_t>(args.i(14));
      if (e.biasLength != 1 && e.biasLength != static_cast<size_t>(n)) fail(env, "MatMul: bias must have 1 or n values");
      e.bias = heap.at<float>(args.d(3), static_cast<double>(e.biasLength), kernel);
    }
    if (e.activation == kPrelu) {
      e.preluLength = static_cast<size_t>(args.i(15));
      if (args.d(4) < 0 || (e.preluLength != 1 && e.preluLength != static_cast<size_t>(n))) {
        fail(env, "MatMul: prelu needs 1 or n alphas");
      }
      e.prelu = heap.at<float>(args.d(4), static_cast<double>(e.preluLength), kernel);
    }
    if (batch * m * n == 0) return env.Undefined();

    const int64_t strideA = m * k, strideB = k * n, strideOut = m * n;
    const int threads = threadCount();
    // Side by side when every thread gets whole entries and each entry is too small to split well.
    const bool perEntry = threads > 1 && batch >= threads && m * n * k <= (int64_t{1} << 21);
    int failed = dnnl_success;
    if (perEntry) {
#pragma omp parallel for num_threads(threads) schedule(static)
      for (int64_t i = 0; i < batch; i++) {
        float* c = out + i * strideOut;
        const dnnl_status_t status = gemm(transposeA, transposeB, m, n, k, a + (i % batchA) * strideA, b + (i % batchB) * strideB, c);
        if (status != dnnl_success) {
#pragma omp atomic write
          failed = status;
        }
        if (e.active())
          for (int64_t r = 0; r < m; r++) finishRow(c + r * n, n, e);
      }
    } else {
      for (int64_t i = 0; i < batch && failed == dnnl_success; i++) {
        float* c = out + i * strideOut;
        failed = gemm(transposeA, transposeB, m, n, k, a + (i % batchA) * strideA, b + (i % batchB) * strideB, c);
        if (e.active()) {
#pragma omp parallel for num_threads(threads) schedule(static) if (m * n >= 16384)
          for (int64_t r = 0; r < m; r++) finishRow(c + r * n, n, e);
        }
      }
    }
    if (failed != dnnl_success) fail(env, "MatMul: dnnl_sgemm failed with status " + std::to_string(failed));
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& ex) {
    fail(env, std::string(kernel) + ": " + ex.what());
  }
  return env.Undefined();
}

}  // namespace dlexp
