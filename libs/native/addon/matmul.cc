// BatchMatMul and _FusedMatMul: oneDNN's matmul primitive (its AVX-512 brgemm kernels), or
// OpenBLAS where oneDNN has no brgemm kernel for this processor; then bias and activation over
// the output rows.
//
// Why not oneDNN's SGEMM (dnnl_sgemm, and its GEMM-based convolutions): in oneDNN 2.6.3 its JIT
// kernels corrupt the heap when a signal arrives mid-call (reproduced with a plain C++ loop and a
// SIGPROF timer; Node's profiler sends exactly those), so the addon never runs them.
//
// Batches broadcast as on TF.js's cpu backend: output entry i multiplies a[i % batchA] by
// b[i % batchB], where batchA and batchB are equal or one of them is 1 (the JavaScript side
// sends other cases to the wasm kernel). Each distinct product (shapes, transposes, thread
// count) gets a plan built once; the primitive splits its work by the shapes and the thread
// count only, so a given call repeats bit for bit.
//
// Arguments (a Float64Array):
//   0 a, 1 b, 2 out, 3 bias or -1, 4 prelu alphas or -1 (heap byte offsets)
//   5 batchA, 6 batchB, 7 m, 8 k, 9 n, 10 transposeA, 11 transposeB,
//   12 activation (simd/loops.h), 13 its alpha, 14 bias length, 15 prelu alphas length.
// The bias and prelu alphas broadcast as a suffix of the output shape: their length is 1 or a
// multiple of n (n, m * n or the whole output), and output element e reads entry e % length.
#include "matmul.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>

#include "common.h"
#include "dnnl-context.h"
#include "simd/loops.h"

extern "C" {
// OpenBLAS's CBLAS entry point, declared here so the build needs no particular cblas.h.
void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
                 int ldb, float beta, float* c, int ldc);
}

namespace dlexp {
namespace {

constexpr int kCblasRowMajor = 101, kCblasNoTrans = 111, kCblasTrans = 112;

struct MatMulShape {
  int64_t batchA, batchB, m, k, n;
  int64_t transposeA, transposeB, threads;
};

struct MatMulPlan {
  bool useOneDnn = false;
  dnnl::primitive primitive;
  dnnl::memory a, b, out, scratchpad;
  size_t scratchpadBytes = 0;
  std::unordered_map<int, dnnl::memory> execArgs;
};

std::unordered_map<std::string, std::unique_ptr<MatMulPlan>>& plans() {
  static std::unordered_map<std::string, std::unique_ptr<MatMulPlan>> cache;
  return cache;
}

constexpr size_t kMaxPlans = 1024;

// Products smaller than this (in multiply-adds, about 0.15 ms on one core) run on one thread: the
// second thread saves less than waking it costs, and on a busy machine, where that thread may
// have been descheduled, waiting for it costs whole time slices. An LSTM step's 100x128 by
// 128x512 (6.6 million) stays on one thread; the course CNN's dense layer (321 million) splits.
constexpr double kParallelMultiplyAdds = 1.6e7;

// The first implementation oneDNN offers that is not its SGEMM; empty when there is none.
bool pickBrgemm(dnnl::matmul::primitive_desc& pd) {
  do {
    const std::string impl = pd.impl_info_str();
    if (impl.find("brg") != std::string::npos) return true;
    if (impl.find("gemm") == std::string::npos && impl.find("ref") == std::string::npos) return true;
  } while (pd.next_impl());
  return false;
}

// A plan for a product of these layouts: oneDNN's brgemm matmul where it has one, otherwise
// useOneDnn stays false and the caller runs OpenBLAS.
std::unique_ptr<MatMulPlan> makePlan(const dnnl::memory::desc& aDesc, const dnnl::memory::desc& bDesc, const dnnl::memory::desc& outDesc,
                                     const dnnl::primitive_attr& attr) {
  auto plan = std::make_unique<MatMulPlan>();
  try {
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(aDesc, bDesc, outDesc), attr, cpuEngine());
    if (!pickBrgemm(pd)) return plan;
    auto& engine = cpuEngine();
    plan->useOneDnn = true;
    plan->primitive = dnnl::matmul(pd);
    plan->a = dnnl::memory(aDesc, engine, DNNL_MEMORY_NONE);
    plan->b = dnnl::memory(bDesc, engine, DNNL_MEMORY_NONE);
    plan->out = dnnl::memory(outDesc, engine, DNNL_MEMORY_NONE);
    plan->scratchpadBytes = pd.scratchpad_desc().get_size();
    plan->scratchpad = dnnl::memory(pd.scratchpad_desc(), engine, DNNL_MEMORY_NONE);
    plan->execArgs = {{DNNL_ARG_SRC, plan->a}, {DNNL_ARG_WEIGHTS, plan->b}, {DNNL_ARG_DST, plan->out}, {DNNL_ARG_SCRATCHPAD, plan->scratchpad}};
  } catch (const dnnl::error&) {
    plan->useOneDnn = false;
  }
  return plan;
}

dnnl::primitive_attr userScratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// Batched products of dense matrices (the BatchMatMul kernel).
std::unique_ptr<MatMulPlan> makePlan(const MatMulShape& s) {
  using tag = dnnl::memory::format_tag;
  using dt = dnnl::memory::data_type;
  const int64_t batch = std::max(s.batchA, s.batchB);
  return makePlan(dnnl::memory::desc({s.batchA, s.m, s.k}, dt::f32, s.transposeA ? tag::acb : tag::abc),
                  dnnl::memory::desc({s.batchB, s.k, s.n}, dt::f32, s.transposeB ? tag::acb : tag::abc),
                  dnnl::memory::desc({batch, s.m, s.n}, dt::f32, tag::abc), userScratchpad());
}

// A product of strided matrices (see gemm in matmul.h).
struct GemmShape {
  int64_t m, n, k, lda, ldb, ldc;
  int64_t transA, transB, accumulate, threads;
};

std::unique_ptr<MatMulPlan> makePlan(const GemmShape& s) {
  using dt = dnnl::memory::data_type;
  using dims = dnnl::memory::dims;
  dnnl::primitive_attr attr = userScratchpad();
  if (s.accumulate) {
    dnnl::post_ops sum;
    sum.append_sum(1.f);
    attr.set_post_ops(sum);
  }
  return makePlan(dnnl::memory::desc({s.m, s.k}, dt::f32, s.transA ? dims{1, s.lda} : dims{s.lda, 1}),
                  dnnl::memory::desc({s.k, s.n}, dt::f32, s.transB ? dims{1, s.ldb} : dims{s.ldb, 1}),
                  dnnl::memory::desc({s.m, s.n}, dt::f32, dims{s.ldc, 1}), attr);
}

// The plan for a shape, built once: both kinds of shape key one cache (their sizes differ, so
// their keys never meet).
template <typename Shape>
MatMulPlan& planFor(const Shape& s) {
  auto& cache = plans();
  std::string key(reinterpret_cast<const char*>(&s), sizeof s);
  auto found = cache.find(key);
  if (found != cache.end()) return *found->second;
  if (cache.size() >= kMaxPlans) cache.clear();
  return *cache.emplace(std::move(key), makePlan(s)).first->second;
}

// Runs a oneDNN plan on these buffers, its scratchpad from the workspace.
void runPlan(MatMulPlan& plan, const float* a, const float* b, float* out) {
  plan.a.set_data_handle(const_cast<float*>(a));
  plan.b.set_data_handle(const_cast<float*>(b));
  plan.out.set_data_handle(out);
  plan.scratchpad.set_data_handle(workspace().get(kSlotScratchpad, plan.scratchpadBytes));
  plan.primitive.execute(cpuStream(), plan.execArgs);
  cpuStream().wait();
}

bool suffixLength(size_t length, int64_t n) { return length == 1 || (n > 0 && length % static_cast<size_t>(n) == 0); }

}  // namespace

void releaseMatMulPlans() { plans().clear(); }

void gemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
          bool accumulate, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!accumulate) {
      for (int64_t r = 0; r < m; r++) std::memset(c + r * ldc, 0, sizeof(float) * n);
    }
    return;
  }
  const double multiplyAdds = static_cast<double>(m) * n * k;
  GemmShape s{m, n, k, lda, ldb, ldc, transA, transB, accumulate, multiplyAdds >= kParallelMultiplyAdds ? threadCount() : 1};
  const ThreadScope scope(static_cast<int>(s.threads));
  MatMulPlan& plan = planFor(s);
  if (plan.useOneDnn) {
    runPlan(plan, a, b, c);
  } else {
    cblas_sgemm(kCblasRowMajor, transA ? kCblasTrans : kCblasNoTrans, transB ? kCblasTrans : kCblasNoTrans, static_cast<int>(m),
                static_cast<int>(n), static_cast<int>(k), 1.f, a, static_cast<int>(lda), b, static_cast<int>(ldb), accumulate ? 1.f : 0.f, c,
                static_cast<int>(ldc));
  }
}

Napi::Value matMul(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const char* kernel = "MatMul";
  const Heap heap = heapFrom(env, info[0]);
  const Args args(env, info[1], 16, kernel);
  MatMulShape s{args.i(5), args.i(6), args.i(7), args.i(8), args.i(9), args.i(10) != 0, args.i(11) != 0, 1};
  const double multiplyAdds = static_cast<double>(std::max(s.batchA, s.batchB)) * s.m * s.n * s.k;
  s.threads = multiplyAdds >= kParallelMultiplyAdds ? threadCount() : 1;
  if (s.batchA < 1 || s.batchB < 1 || s.m < 0 || s.k < 0 || s.n < 0) fail(env, "MatMul: invalid shape");
  if (s.batchA != s.batchB && s.batchA != 1 && s.batchB != 1) fail(env, "MatMul: batches must be equal or one of them 1");
  if (s.m > INT32_MAX || s.n > INT32_MAX || s.k > INT32_MAX) fail(env, "MatMul: a dimension exceeds 2^31");
  const int64_t batch = std::max(s.batchA, s.batchB);
  const int64_t m = s.m, n = s.n, k = s.k;
  try {
    const float* a = heap.at<float>(args.d(0), static_cast<double>(s.batchA * m * k), kernel);
    const float* b = heap.at<float>(args.d(1), static_cast<double>(s.batchB * k * n), kernel);
    float* out = heap.at<float>(args.d(2), static_cast<double>(batch * m * n), kernel);
    Epilogue e;
    e.activation = args.n(12);
    e.alpha = args.f(13);
    if (args.d(3) >= 0) {
      e.biasLength = static_cast<size_t>(args.i(14));
      if (!suffixLength(e.biasLength, n) || e.biasLength > static_cast<size_t>(batch * m * n)) {
        fail(env, "MatMul: the bias must broadcast as a suffix of the output");
      }
      e.bias = heap.at<float>(args.d(3), static_cast<double>(e.biasLength), kernel);
    }
    if (e.activation == kActPrelu) {
      e.preluLength = static_cast<size_t>(args.i(15));
      if (args.d(4) < 0 || !suffixLength(e.preluLength, n) || e.preluLength > static_cast<size_t>(batch * m * n)) {
        fail(env, "MatMul: the prelu alphas must broadcast as a suffix of the output");
      }
      e.prelu = heap.at<float>(args.d(4), static_cast<double>(e.preluLength), kernel);
    }
    if (batch * m * n == 0) return env.Undefined();
    if (k == 0) {
      std::memset(out, 0, sizeof(float) * batch * m * n);
    } else {
      const ThreadScope scope(static_cast<int>(s.threads));
      MatMulPlan& plan = planFor(s);
      if (plan.useOneDnn) {
        runPlan(plan, a, b, out);
      } else {
        for (int64_t i = 0; i < batch; i++) {
          const float* ai = a + (i % s.batchA) * m * k;
          const float* bi = b + (i % s.batchB) * k * n;
          cblas_sgemm(kCblasRowMajor, s.transposeA ? kCblasTrans : kCblasNoTrans, s.transposeB ? kCblasTrans : kCblasNoTrans,
                      static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.f, ai, static_cast<int>(s.transposeA ? m : k),
                      bi, static_cast<int>(s.transposeB ? k : n), 0.f, out + i * m * n, static_cast<int>(n));
        }
      }
    }
    if (e.active()) {
      // Rows split among the threads in fixed blocks.
      const int64_t rows = batch * m;
      const int threads = threadCount();
      const int parts = rows * n >= (1 << 18) ? static_cast<int>(std::min<int64_t>(threads, rows)) : 1;
      const auto finish = loops().finishRows;
#pragma omp parallel for num_threads(parts) schedule(static) if (parts > 1)
      for (int p = 0; p < parts; p++) {
        const int64_t r0 = rows * p / parts, r1 = rows * (p + 1) / parts;
        finish(out + r0 * n, r1 - r0, n, r0 * n, e);
      }
    }
  } catch (const Napi::Error&) {
    throw;
  } catch (const dnnl::error& ex) {
    fail(env, std::string(kernel) + ": oneDNN: " + ex.what());
  } catch (const std::exception& ex) {
    fail(env, std::string(kernel) + ": " + ex.what());
  }
  return env.Undefined();
}

}  // namespace dlexp
