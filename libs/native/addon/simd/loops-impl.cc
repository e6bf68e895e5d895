// The loops behind loops.h, written once and compiled per instruction set (binding.gyp builds
// this file three times with DLEXP_ISA set to avx512, avx2 and baseline and matching -m flags).
// Plain loops the compiler vectorises: each element is computed by one thread in one order, so
// results repeat bit for bit; the split of work among threads depends only on the sizes and the
// thread count.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "loops.h"

#ifndef DLEXP_ISA
#error "DLEXP_ISA must name the instruction set this copy is compiled for"
#endif
#define DLEXP_CONCAT2(a, b) a##b
#define DLEXP_CONCAT(a, b) DLEXP_CONCAT2(a, b)
#define DLEXP_STRING2(a) #a
#define DLEXP_STRING(a) DLEXP_STRING2(a)

namespace dlexp {
namespace DLEXP_CONCAT(isa_, DLEXP_ISA) {
namespace {

// Below this many elements a pass runs on the calling thread. Waking the pool costs microseconds
// when the other threads are idle, and a whole time slice when the machine is busy and one of
// them has been descheduled (measured on a shared 2-core machine: a 1.25M-element ReLU took
// 14 ms on two threads against 0.5 ms on one); a pass over memory gains little from a second
// thread anyway, being bound by memory bandwidth. Compute-bound loops (transcendental
// functions, pooling windows) split sooner.
constexpr int64_t kParallelThreshold = 1 << 21;
constexpr int64_t kComputeParallelThreshold = 1 << 18;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Transcendental functions written to vectorise (no calls, no branches), within a few units in
// the last place of float32: the compiler turns each loop over them into 512-bit code, where
// libm's expf/tanhf would be called one element at a time.
inline float fromBits(int32_t i) {
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
}
inline int32_t toBits(float f) {
  int32_t i;
  std::memcpy(&i, &f, sizeof i);
  return i;
}

// exp(x) = 2^n * exp(r) with n = round(x / ln 2) and |r| <= ln(2) / 2, where the Taylor series to
// r^7 is exact to float precision; 2^n is applied in two halves so that n = 128 comes out right.
// Below -87.3 (where exp is subnormal, under 1.2e-38) the result is 0.
inline float vexp(float x) {
  const bool nan = x != x;
  const bool over = x > 88.72283935546875f;
  const bool under = x < -87.33654475f;
  float xc = nan ? 0.f : x;
  xc = xc < -87.33654475f ? -87.33654475f : (xc > 88.7228f ? 88.7228f : xc);
  const float n = (xc * 1.44269504088896341f + 12582912.f) - 12582912.f;
  float r = xc - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.f / 5040.f;
  p = p * r + 1.f / 720.f;
  p = p * r + 1.f / 120.f;
  p = p * r + 1.f / 24.f;
  p = p * r + 1.f / 6.f;
  p = p * r + 0.5f;
  p = p * r + 1.f;
  p = p * r + 1.f;
  const int32_t ni = static_cast<int32_t>(n);
  const int32_t half = ni / 2;
  const float y = p * fromBits((half + 127) << 23) * fromBits((ni - half + 127) << 23);
  return nan ? x : (over ? kInf : (under ? 0.f : y));
}

// log(x) = e * ln 2 + log(m) with m in [sqrt(1/2), sqrt(2)), log(m) = 2 atanh((m - 1) / (m + 1))
// by its series to the 11th power.
inline float vlog(float x) {
  const bool subnormal = x < 1.17549435e-38f;
  const float xs = subnormal ? x * 8388608.f : x;
  const int32_t bits = toBits(xs);
  int32_t e = ((bits >> 23) & 0xff) - 127 - (subnormal ? 23 : 0);
  float m = fromBits((bits & 0x7fffff) | 0x3f800000);
  const bool big = m > 1.41421356f;
  m = big ? m * 0.5f : m;
  e = big ? e + 1 : e;
  const float t = (m - 1.f) / (m + 1.f);
  const float t2 = t * t;
  float p = 1.f / 11.f;
  p = p * t2 + 1.f / 9.f;
  p = p * t2 + 1.f / 7.f;
  p = p * t2 + 1.f / 5.f;
  p = p * t2 + 1.f / 3.f;
  p = p * t2 + 1.f;
  const float fe = static_cast<float>(e);
  const float y = fe * 0.693359375f + (2.f * t * p - fe * 2.12194440e-4f);
  // Special values: log 0 = -inf, log of a negative or NaN = NaN, log inf = inf.
  return x == 0.f ? -kInf : (x < 0.f || x != x ? kNaN : (x == kInf ? kInf : y));
}

// expm1 without cancellation near 0 (its series to x^8 there), exp(x) - 1 elsewhere.
inline float vexpm1(float x) {
  float p = 1.f / 40320.f;
  p = p * x + 1.f / 5040.f;
  p = p * x + 1.f / 720.f;
  p = p * x + 1.f / 120.f;
  p = p * x + 1.f / 24.f;
  p = p * x + 1.f / 6.f;
  p = p * x + 0.5f;
  p = p * x + 1.f;
  const float small = p * x;
  return (x > -0.5f && x < 0.5f) ? small : vexp(x) - 1.f;
}

// tanh: its odd series to x^13 below |x| = 0.5, 1 - 2 / (exp(2|x|) + 1) above (with the sign).
inline float vtanh(float x) {
  const float a = std::fabs(x);
  const float x2 = x * x;
  float p = 21844.f / 6081075.f;
  p = p * x2 - 1382.f / 155925.f;
  p = p * x2 + 62.f / 2835.f;
  p = p * x2 - 17.f / 315.f;
  p = p * x2 + 2.f / 15.f;
  p = p * x2 - 1.f / 3.f;
  p = p * x2 + 1.f;
  const float small = x * p;
  const float large = 1.f - 2.f / (vexp(2.f * a) + 1.f);
  const float signedLarge = x < 0.f ? -large : large;
  return a < 0.5f ? small : (x != x ? x : signedLarge);
}

inline float vsigmoid(float x) { return 1.f / (1.f + vexp(-x)); }

// Maximum and Minimum pass NaN on (JavaScript's Math.max/min, the cpu backend's).
inline float maximumOf(float a, float b) { return (a != a || b != b) ? kNaN : (a > b ? a : b); }
inline float minimumOf(float a, float b) { return (a != a || b != b) ? kNaN : (a < b ? a : b); }

template <int Op>
inline float apply(float x, float y) {
  if constexpr (Op == kAdd) return x + y;
  if constexpr (Op == kSub) return x - y;
  if constexpr (Op == kMul) return x * y;
  if constexpr (Op == kDiv) return x / y;
  if constexpr (Op == kSquaredDifference) return (x - y) * (x - y);
  if constexpr (Op == kMaximum) return maximumOf(x, y);
  if constexpr (Op == kMinimum) return minimumOf(x, y);
  return 0.f;
}

template <int Op>
inline uint8_t compare(float x, float y) {
  if constexpr (Op == kGreater) return x > y;
  if constexpr (Op == kGreaterEqual) return x >= y;
  if constexpr (Op == kLess) return x < y;
  if constexpr (Op == kLessEqual) return x <= y;
  if constexpr (Op == kEqual) return x == y;
  if constexpr (Op == kNotEqual) return x != y;
  return 0;
}

// One run of `count` outputs; the strides along it are 0 or 1 in every layout the JavaScript
// side produces, and those three cases get loops the compiler can vectorise.
template <int Op, typename Out>
void run(const float* a, int64_t sa, const float* b, int64_t sb, Out* out, int64_t count) {
  constexpr bool kCompare = Op >= kGreater;
  auto one = [](float x, float y) -> Out {
    if constexpr (kCompare) return compare<Op>(x, y);
    else return apply<Op>(x, y);
  };
  if (sa == 1 && sb == 1) {
    for (int64_t j = 0; j < count; j++) out[j] = one(a[j], b[j]);
  } else if (sa == 1 && sb == 0) {
    const float y = b[0];
    for (int64_t j = 0; j < count; j++) out[j] = one(a[j], y);
  } else if (sa == 0 && sb == 1) {
    const float x = a[0];
    for (int64_t j = 0; j < count; j++) out[j] = one(x, b[j]);
  } else {
    for (int64_t j = 0; j < count; j++) out[j] = one(a[j * sa], b[j * sb]);
  }
}

// Splits `rows` rows of `inner` elements among the threads in fixed contiguous pieces and calls
// body(row, first, count) for each piece. A few long rows are cut along their length.
template <typename Body>
void forRanges(int64_t rows, int64_t inner, int threads, Body body, int64_t threshold = kParallelThreshold) {
  if (rows * inner < threshold) threads = 1;
  if (threads == 1) {
    for (int64_t r = 0; r < rows; r++) body(r, 0, inner);
  } else if (rows >= threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < rows; r++) body(r, 0, inner);
  } else {
    const int64_t pieces = rows * threads;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t p = 0; p < pieces; p++) {
      const int64_t r = p / threads, part = p % threads;
      const int64_t begin = inner * part / threads, end = inner * (part + 1) / threads;
      body(r, begin, end - begin);
    }
  }
}

// The offsets of a and b at the start of outer row `row` of the layout.
inline void rowOffsets(const BinaryLayout& l, int64_t row, int64_t& offA, int64_t& offB) {
  offA = 0;
  offB = 0;
  for (int d = l.rank - 2; d >= 0; d--) {
    const int64_t i = row % l.dims[d];
    row /= l.dims[d];
    offA += i * l.strideA[d];
    offB += i * l.strideB[d];
  }
}

template <int Op>
void logicalRun(const uint8_t* a, int64_t sa, const uint8_t* b, int64_t sb, uint8_t* out, int64_t count) {
  for (int64_t j = 0; j < count; j++) {
    const bool x = a[j * sa] != 0, y = b[j * sb] != 0;
    out[j] = (Op == kLogicalAnd ? (x && y) : (x || y)) ? 1 : 0;
  }
}

template <int Op>
void logicalOp(const BinaryLayout& l, const uint8_t* a, const uint8_t* b, uint8_t* out, int threads) {
  int64_t rows = 1;
  for (int d = 0; d < l.rank - 1; d++) rows *= l.dims[d];
  const int64_t inner = l.dims[l.rank - 1];
  const int64_t sa = l.strideA[l.rank - 1], sb = l.strideB[l.rank - 1];
  forRanges(rows, inner, threads, [&](int64_t r, int64_t first, int64_t count) {
    int64_t offA, offB;
    rowOffsets(l, r, offA, offB);
    logicalRun<Op>(a + offA + first * sa, sa, b + offB + first * sb, sb, out + r * inner + first, count);
  });
}

void select(const uint8_t* condition, const float* t, const float* e, float* out, int64_t count, int threads) {
  forRanges(1, count, threads, [&](int64_t, int64_t first, int64_t n) {
    for (int64_t j = first; j < first + n; j++) out[j] = condition[j] != 0 ? t[j] : e[j];
  });
}

template <int Op>
void binaryOp(const BinaryLayout& l, const float* a, const float* b, void* outVoid, int threads) {
  using Out = std::conditional_t<(Op >= kGreater), uint8_t, float>;
  Out* out = static_cast<Out*>(outVoid);
  int64_t rows = 1;
  for (int d = 0; d < l.rank - 1; d++) rows *= l.dims[d];
  const int64_t inner = l.dims[l.rank - 1];
  const int64_t sa = l.strideA[l.rank - 1], sb = l.strideB[l.rank - 1];
  forRanges(rows, inner, threads, [&](int64_t r, int64_t first, int64_t count) {
    int64_t offA, offB;
    rowOffsets(l, r, offA, offB);
    run<Op, Out>(a + offA + first * sa, sa, b + offB + first * sb, sb, out + r * inner + first, count);
  });
}

void binary(int op, const BinaryLayout& l, const void* av, const void* bv, void* out, int threads) {
  if (op == kLogicalAnd || op == kLogicalOr) {
    const auto* a = static_cast<const uint8_t*>(av);
    const auto* b = static_cast<const uint8_t*>(bv);
    auto* o = static_cast<uint8_t*>(out);
    return op == kLogicalAnd ? logicalOp<kLogicalAnd>(l, a, b, o, threads) : logicalOp<kLogicalOr>(l, a, b, o, threads);
  }
  const auto* a = static_cast<const float*>(av);
  const auto* b = static_cast<const float*>(bv);
  switch (op) {
    case kAdd: return binaryOp<kAdd>(l, a, b, out, threads);
    case kSub: return binaryOp<kSub>(l, a, b, out, threads);
    case kMul: return binaryOp<kMul>(l, a, b, out, threads);
    case kDiv: return binaryOp<kDiv>(l, a, b, out, threads);
    case kMaximum: return binaryOp<kMaximum>(l, a, b, out, threads);
    case kMinimum: return binaryOp<kMinimum>(l, a, b, out, threads);
    case kSquaredDifference: return binaryOp<kSquaredDifference>(l, a, b, out, threads);
    case kGreater: return binaryOp<kGreater>(l, a, b, out, threads);
    case kGreaterEqual: return binaryOp<kGreaterEqual>(l, a, b, out, threads);
    case kLess: return binaryOp<kLess>(l, a, b, out, threads);
    case kLessEqual: return binaryOp<kLessEqual>(l, a, b, out, threads);
    case kEqual: return binaryOp<kEqual>(l, a, b, out, threads);
    case kNotEqual: return binaryOp<kNotEqual>(l, a, b, out, threads);
    default: return;
  }
}

template <int Op>
void unaryRun(const float* x, float* out, int64_t count, float alpha, float beta) {
  for (int64_t j = 0; j < count; j++) {
    const float v = x[j];
    float r = v;
    if constexpr (Op == kRelu) r = v < 0.f ? 0.f : v;
    if constexpr (Op == kRelu6) r = v < 0.f ? 0.f : (v > 6.f ? 6.f : v);
    if constexpr (Op == kStep) r = v != v ? v : (v > 0.f ? 1.f : alpha);
    if constexpr (Op == kNeg) r = -v;
    if constexpr (Op == kAbs) r = std::fabs(v);
    if constexpr (Op == kSquare) r = v * v;
    if constexpr (Op == kSqrt) r = std::sqrt(v);
    if constexpr (Op == kRsqrt) r = 1.f / std::sqrt(v);
    if constexpr (Op == kReciprocal) r = 1.f / v;
    if constexpr (Op == kExp) r = vexp(v);
    if constexpr (Op == kLog) r = vlog(v);
    if constexpr (Op == kTanh) r = vtanh(v);
    if constexpr (Op == kSigmoid) r = vsigmoid(v);
    if constexpr (Op == kLeakyRelu) r = v < 0.f ? alpha * v : v;
    if constexpr (Op == kElu) r = v < 0.f ? vexpm1(v) : v;
    if constexpr (Op == kClip) r = v > beta ? beta : (v < alpha ? alpha : v);
    out[j] = r;
  }
}

template <int Op>
void unaryOp(const float* x, float* out, int64_t count, float alpha, float beta, int threads) {
  constexpr bool kTranscendental = Op == kExp || Op == kLog || Op == kTanh || Op == kSigmoid || Op == kElu;
  forRanges(
      1, count, threads, [&](int64_t, int64_t first, int64_t n) { unaryRun<Op>(x + first, out + first, n, alpha, beta); },
      kTranscendental ? kComputeParallelThreshold : kParallelThreshold);
}

void unary(int op, const float* x, float* out, int64_t count, float alpha, float beta, int threads) {
  switch (op) {
    case kRelu: return unaryOp<kRelu>(x, out, count, alpha, beta, threads);
    case kRelu6: return unaryOp<kRelu6>(x, out, count, alpha, beta, threads);
    case kStep: return unaryOp<kStep>(x, out, count, alpha, beta, threads);
    case kNeg: return unaryOp<kNeg>(x, out, count, alpha, beta, threads);
    case kAbs: return unaryOp<kAbs>(x, out, count, alpha, beta, threads);
    case kSquare: return unaryOp<kSquare>(x, out, count, alpha, beta, threads);
    case kSqrt: return unaryOp<kSqrt>(x, out, count, alpha, beta, threads);
    case kRsqrt: return unaryOp<kRsqrt>(x, out, count, alpha, beta, threads);
    case kReciprocal: return unaryOp<kReciprocal>(x, out, count, alpha, beta, threads);
    case kExp: return unaryOp<kExp>(x, out, count, alpha, beta, threads);
    case kLog: return unaryOp<kLog>(x, out, count, alpha, beta, threads);
    case kTanh: return unaryOp<kTanh>(x, out, count, alpha, beta, threads);
    case kSigmoid: return unaryOp<kSigmoid>(x, out, count, alpha, beta, threads);
    case kLeakyRelu: return unaryOp<kLeakyRelu>(x, out, count, alpha, beta, threads);
    case kElu: return unaryOp<kElu>(x, out, count, alpha, beta, threads);
    case kClip: return unaryOp<kClip>(x, out, count, alpha, beta, threads);
    default: return;
  }
}

void sum(const float* x, float* out, int64_t outer, int64_t reduced, int64_t inner, int threads, double* scratch) {
  if (outer * reduced * inner < kParallelThreshold) threads = 1;
  if (inner == 1) {
    // Row sums: each output is one contiguous run.
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t o = 0; o < outer; o++) {
      const float* row = x + o * reduced;
      double s = 0;
      for (int64_t r = 0; r < reduced; r++) s += row[r];
      out[o] = static_cast<float>(s);
    }
  } else if (outer >= threads) {
    // Column sums of many blocks: whole blocks per thread, one accumulator row each.
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t o = 0; o < outer; o++) {
      double* acc = scratch + static_cast<int64_t>(omp_get_thread_num()) * inner;
      for (int64_t i = 0; i < inner; i++) acc[i] = 0;
      const float* block = x + o * reduced * inner;
      for (int64_t r = 0; r < reduced; r++)
        for (int64_t i = 0; i < inner; i++) acc[i] += block[r * inner + i];
      for (int64_t i = 0; i < inner; i++) out[o * inner + i] = static_cast<float>(acc[i]);
    }
  } else {
    // Few blocks (a bias gradient: the sum over a batch): the reduced rows are split among the
    // threads and the partial sums added in thread order.
    for (int64_t o = 0; o < outer; o++) {
      const float* block = x + o * reduced * inner;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
      for (int p = 0; p < threads; p++) {
        double* acc = scratch + static_cast<int64_t>(p) * inner;
        for (int64_t i = 0; i < inner; i++) acc[i] = 0;
        const int64_t begin = reduced * p / threads, end = reduced * (p + 1) / threads;
        for (int64_t r = begin; r < end; r++)
          for (int64_t i = 0; i < inner; i++) acc[i] += block[r * inner + i];
      }
      for (int64_t i = 0; i < inner; i++) {
        double s = 0;
        for (int p = 0; p < threads; p++) s += scratch[static_cast<int64_t>(p) * inner + i];
        out[o * inner + i] = static_cast<float>(s);
      }
    }
  }
}

size_t volume(int a, int b, int c, int d) {
  return static_cast<size_t>(a) * static_cast<size_t>(b) * static_cast<size_t>(c) * static_cast<size_t>(d);
}

// In-bounds window rows [lo, hi) of output row `o`.
inline void windowRange(int o, int stride, int pad, int filter, int extent, int& lo, int& hi) {
  const int start = o * stride - pad;
  lo = std::max(start, 0);
  hi = std::min(start + filter, extent);
}

void poolForward(const PoolGeometry& g, const float* x, float* y, bool isMax, int threads) {
  const int64_t rows = static_cast<int64_t>(g.n) * g.outH;
  const size_t c = static_cast<size_t>(g.c);
  if (rows * g.outW * g.c < kComputeParallelThreshold) threads = 1;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (int64_t row = 0; row < rows; row++) {
    const int b = static_cast<int>(row / g.outH);
    const int oh = static_cast<int>(row % g.outH);
    int r0, r1;
    windowRange(oh, g.strideH, g.padTop, g.filterH, g.inH, r0, r1);
    const float* image = x + volume(b, g.inH, g.inW, g.c);
    for (int ow = 0; ow < g.outW; ow++) {
      int c0, c1;
      windowRange(ow, g.strideW, g.padLeft, g.filterW, g.inW, c0, c1);
      float* out = y + ((static_cast<size_t>(b) * g.outH + oh) * g.outW + ow) * c;
      if (isMax) {
        for (size_t ch = 0; ch < c; ch++) out[ch] = -kInf;
        for (int r = r0; r < r1; r++)
          for (int col = c0; col < c1; col++) {
            const float* v = image + (static_cast<size_t>(r) * g.inW + col) * c;
            for (size_t ch = 0; ch < c; ch++) out[ch] = v[ch] > out[ch] ? v[ch] : out[ch];
          }
      } else {
        for (size_t ch = 0; ch < c; ch++) out[ch] = 0.f;
        for (int r = r0; r < r1; r++)
          for (int col = c0; col < c1; col++) {
            const float* v = image + (static_cast<size_t>(r) * g.inW + col) * c;
            for (size_t ch = 0; ch < c; ch++) out[ch] += v[ch];
          }
        const int count = (r1 - r0) * (c1 - c0);
        // No in-bounds value: 0 / 0, as on the cpu backend.
        const float scale = count > 0 ? 1.f / static_cast<float>(count) : kNaN;
        for (size_t ch = 0; ch < c; ch++) out[ch] = count > 0 ? out[ch] * scale : kNaN;
      }
    }
  }
}

void maxPoolGrad(const PoolGeometry& g, const float* x, const float* dy, float* dx, int threads, float* scratch) {
  const size_t c = static_cast<size_t>(g.c);
  // Windows that tile the input without overlap (stride = window, the usual 2x2/2): every input
  // position gets at most one window's gradient, so it is written, not accumulated.
  const bool tiled = g.strideH == g.filterH && g.strideW == g.filterW;
  if (volume(g.n, g.inH, g.inW, g.c) < static_cast<size_t>(kComputeParallelThreshold)) threads = 1;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (int b = 0; b < g.n; b++) {
    float* best = scratch + 2 * c * static_cast<size_t>(omp_get_thread_num());
    float* pending = best + c;
    const float* image = x + volume(b, g.inH, g.inW, g.c);
    float* grad = dx + volume(b, g.inH, g.inW, g.c);
    // Positions no window reaches (edges a VALID pooling leaves out) must still be zero.
    std::memset(grad, 0, sizeof(float) * volume(1, g.inH, g.inW, g.c));
    for (int oh = 0; oh < g.outH; oh++) {
      int r0, r1;
      windowRange(oh, g.strideH, g.padTop, g.filterH, g.inH, r0, r1);
      for (int ow = 0; ow < g.outW; ow++) {
        int c0, c1;
        windowRange(ow, g.strideW, g.padLeft, g.filterW, g.inW, c0, c1);
        for (size_t ch = 0; ch < c; ch++) best[ch] = -kInf;
        for (int r = r0; r < r1; r++)
          for (int col = c0; col < c1; col++) {
            const float* v = image + (static_cast<size_t>(r) * g.inW + col) * c;
            for (size_t ch = 0; ch < c; ch++) best[ch] = v[ch] > best[ch] ? v[ch] : best[ch];
          }
        // The first position holding the maximum gets dy (the cpu backend's rule: a later equal
        // value does not replace the first); a window of only -Infinity or NaN gets none.
        const float* up = dy + ((static_cast<size_t>(b) * g.outH + oh) * g.outW + ow) * c;
        for (size_t ch = 0; ch < c; ch++) pending[ch] = best[ch] > -kInf ? 1.f : 0.f;
        for (int r = r0; r < r1; r++)
          for (int col = c0; col < c1; col++) {
            const size_t at = (static_cast<size_t>(r) * g.inW + col) * c;
            const float* v = image + at;
            float* out = grad + at;
            if (tiled) {
              for (size_t ch = 0; ch < c; ch++) {
                const bool hit = pending[ch] != 0.f && v[ch] == best[ch];
                out[ch] = hit ? up[ch] : 0.f;
                pending[ch] = hit ? 0.f : pending[ch];
              }
            } else {
              for (size_t ch = 0; ch < c; ch++) {
                const bool hit = pending[ch] != 0.f && v[ch] == best[ch];
                out[ch] += hit ? up[ch] : 0.f;
                pending[ch] = hit ? 0.f : pending[ch];
              }
            }
          }
      }
    }
  }
}

void avgPoolGrad(const PoolGeometry& g, const float* dy, float* dx, int threads) {
  const size_t c = static_cast<size_t>(g.c);
  const float scale = 1.f / static_cast<float>(g.filterH * g.filterW);
  const int64_t rows = static_cast<int64_t>(g.n) * g.inH;
  if (rows * g.inW * g.c < kComputeParallelThreshold) threads = 1;
  // Gathered: each input position sums the dy of the windows covering it, then scales.
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (int64_t row = 0; row < rows; row++) {
    const int b = static_cast<int>(row / g.inH);
    const int r = static_cast<int>(row % g.inH);
    // Output rows whose window [oh * s - pad, oh * s - pad + filter) holds r.
    const int ohLo = std::max(0, (r + g.padTop - g.filterH + g.strideH) / g.strideH);
    const int ohHi = std::min(g.outH - 1, (r + g.padTop) / g.strideH);
    for (int col = 0; col < g.inW; col++) {
      const int owLo = std::max(0, (col + g.padLeft - g.filterW + g.strideW) / g.strideW);
      const int owHi = std::min(g.outW - 1, (col + g.padLeft) / g.strideW);
      float* out = dx + ((static_cast<size_t>(b) * g.inH + r) * g.inW + col) * c;
      for (size_t ch = 0; ch < c; ch++) out[ch] = 0.f;
      for (int oh = ohLo; oh <= ohHi; oh++) {
        if (oh * g.strideH - g.padTop > r || oh * g.strideH - g.padTop + g.filterH <= r) continue;
        for (int ow = owLo; ow <= owHi; ow++) {
          if (ow * g.strideW - g.padLeft > col || ow * g.strideW - g.padLeft + g.filterW <= col) continue;
          const float* d = dy + ((static_cast<size_t>(b) * g.outH + oh) * g.outW + ow) * c;
          for (size_t ch = 0; ch < c; ch++) out[ch] += d[ch];
        }
      }
      for (size_t ch = 0; ch < c; ch++) out[ch] *= scale;
    }
  }
}

// The n values of a suffix-broadcast operand that go with the output row starting at `first`.
inline const float* rowOf(const float* values, size_t length, int64_t first) {
  return length == 1 ? values : values + static_cast<size_t>(first) % length;
}

void finishRow(float* row, int64_t n, int64_t first, const Epilogue& e) {
  if (e.bias != nullptr) {
    if (e.biasLength == 1) {
      const float b = e.bias[0];
      for (int64_t j = 0; j < n; j++) row[j] += b;
    } else {
      const float* b = rowOf(e.bias, e.biasLength, first);
      for (int64_t j = 0; j < n; j++) row[j] += b[j];
    }
  }
  switch (e.activation) {
    case kActRelu:
      for (int64_t j = 0; j < n; j++) row[j] = row[j] < 0.f ? 0.f : row[j];
      break;
    case kActRelu6:
      for (int64_t j = 0; j < n; j++) row[j] = row[j] < 0.f ? 0.f : (row[j] > 6.f ? 6.f : row[j]);
      break;
    case kActElu:
      for (int64_t j = 0; j < n; j++) row[j] = row[j] < 0.f ? vexpm1(row[j]) : row[j];
      break;
    case kActLeakyRelu:
      for (int64_t j = 0; j < n; j++) row[j] = row[j] < 0.f ? e.alpha * row[j] : row[j];
      break;
    case kActSigmoid:
      for (int64_t j = 0; j < n; j++) row[j] = vsigmoid(row[j]);
      break;
    case kActPrelu:
      if (e.preluLength == 1) {
        const float a = e.prelu[0];
        for (int64_t j = 0; j < n; j++) row[j] = row[j] < 0.f ? a * row[j] : row[j];
      } else {
        const float* a = rowOf(e.prelu, e.preluLength, first);
        for (int64_t j = 0; j < n; j++) row[j] = row[j] < 0.f ? a[j] * row[j] : row[j];
      }
      break;
    default:
      break;
  }
}

void finishRows(float* rows, int64_t count, int64_t n, int64_t first, const Epilogue& e) {
  for (int64_t r = 0; r < count; r++) finishRow(rows + r * n, n, first + r * n, e);
}

using FloatRun = void (*)(const float*, int64_t, const float*, int64_t, float*, int64_t);
using UnaryRun = void (*)(const float*, float*, int64_t, float, float);

FloatRun floatRunFor(int op) {
  switch (op) {
    case kAdd: return run<kAdd, float>;
    case kSub: return run<kSub, float>;
    case kMul: return run<kMul, float>;
    case kDiv: return run<kDiv, float>;
    case kMaximum: return run<kMaximum, float>;
    case kMinimum: return run<kMinimum, float>;
    case kSquaredDifference: return run<kSquaredDifference, float>;
    default: return nullptr;
  }
}

UnaryRun unaryRunFor(int op) {
  switch (op) {
    case kRelu: return unaryRun<kRelu>;
    case kRelu6: return unaryRun<kRelu6>;
    case kStep: return unaryRun<kStep>;
    case kNeg: return unaryRun<kNeg>;
    case kAbs: return unaryRun<kAbs>;
    case kSquare: return unaryRun<kSquare>;
    case kSqrt: return unaryRun<kSqrt>;
    case kRsqrt: return unaryRun<kRsqrt>;
    case kReciprocal: return unaryRun<kReciprocal>;
    case kExp: return unaryRun<kExp>;
    case kLog: return unaryRun<kLog>;
    case kTanh: return unaryRun<kTanh>;
    case kSigmoid: return unaryRun<kSigmoid>;
    case kLeakyRelu: return unaryRun<kLeakyRelu>;
    case kElu: return unaryRun<kElu>;
    case kClip: return unaryRun<kClip>;
    default: return nullptr;
  }
}

// Block by block: each node's values for the block are computed into its output (when it has
// one) or into a block-sized register, so intermediate values never leave the cache.
void fused(const FusedProgram& p, int threads, float* scratch) {
  FloatRun binaryRuns[kMaxFusedNodes];
  UnaryRun unaryRuns[kMaxFusedNodes];
  for (int j = 0; j < p.nodes; j++) {
    binaryRuns[j] = p.node[j].unary ? nullptr : floatRunFor(p.node[j].op);
    unaryRuns[j] = p.node[j].unary ? unaryRunFor(p.node[j].op) : nullptr;
  }
  const int64_t blocks = (p.count + kFusedBlock - 1) / kFusedBlock;
  if (p.count < kParallelThreshold) threads = 1;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (int64_t block = 0; block < blocks; block++) {
    float* registers = scratch + static_cast<int64_t>(omp_get_thread_num()) * p.nodes * kFusedBlock;
    const int64_t start = block * kFusedBlock;
    const int64_t length = std::min<int64_t>(kFusedBlock, p.count - start);
    float* values[kMaxFusedNodes];
    auto operand = [&](int ref, int64_t& stride) -> const float* {
      if (ref < 0) {
        stride = 1;
        return values[-ref - 1];
      }
      stride = p.scalar[ref] ? 0 : 1;
      return p.scalar[ref] ? p.input[ref] : p.input[ref] + start;
    };
    for (int j = 0; j < p.nodes; j++) {
      const FusedNode& n = p.node[j];
      float* out = n.output != nullptr ? n.output + start : registers + static_cast<int64_t>(j) * kFusedBlock;
      int64_t sa = 0, sb = 0;
      const float* a = operand(n.a, sa);
      if (n.unary) {
        unaryRuns[j](a, out, length, n.alpha, n.beta);
      } else {
        const float* b = operand(n.b, sb);
        binaryRuns[j](a, sa, b, sb, out, length);
      }
      values[j] = out;
    }
  }
}

// The gate loops read and write each gate through a pointer of its own, declared not to
// overlap the others (they are the four quarters of a row): written as offsets from one row
// pointer, the compiler could not rule out that a store to one gate feeds a later load of another
// and left the loop scalar, five times slower.
template <bool kFirstStep>
void lstmForwardRow(float* __restrict zi, float* __restrict zf, float* __restrict zg, float* __restrict zo, const float* __restrict cPrev,
                    float* __restrict c, float* __restrict h, int64_t units) {
  for (int64_t j = 0; j < units; j++) {
    const float i = vsigmoid(zi[j]);
    const float f = vsigmoid(zf[j]);
    const float g = vtanh(zg[j]);
    const float o = vsigmoid(zo[j]);
    const float cell = kFirstStep ? i * g : f * cPrev[j] + i * g;
    zi[j] = i;
    zf[j] = f;
    zg[j] = g;
    zo[j] = o;
    c[j] = cell;
    h[j] = o * vtanh(cell);
  }
}

void lstmForwardStep(const LstmForwardStep& s) {
  const int64_t units = s.units;
  for (int64_t r = 0; r < s.rows; r++) {
    float* z = s.gates + r * s.gatesStride;
    if (s.bias != nullptr) {
      float* __restrict row = z;
      const float* __restrict bias = s.bias;
      for (int64_t j = 0; j < 4 * units; j++) row[j] += bias[j];
    }
    float* c = s.c + r * s.cStride;
    float* h = s.h + r * s.hStride;
    if (s.cPrev == nullptr) {
      lstmForwardRow<true>(z, z + units, z + 2 * units, z + 3 * units, nullptr, c, h, units);
    } else {
      lstmForwardRow<false>(z, z + units, z + 2 * units, z + 3 * units, s.cPrev + r * s.cPrevStride, c, h, units);
    }
  }
}

template <bool kFirstStep>
void lstmBackwardRow(const float* __restrict ai, const float* __restrict af, const float* __restrict ag, const float* __restrict ao,
                     const float* __restrict c, const float* __restrict cPrev, const float* __restrict dh, float* __restrict dc,
                     float* __restrict dzi, float* __restrict dzf, float* __restrict dzg, float* __restrict dzo, int64_t units) {
  for (int64_t j = 0; j < units; j++) {
    const float i = ai[j], f = af[j], g = ag[j], o = ao[j];
    const float tc = vtanh(c[j]);
    const float dcell = dc[j] + dh[j] * o * (1.f - tc * tc);
    dzi[j] = dcell * g * i * (1.f - i);
    dzf[j] = kFirstStep ? 0.f : dcell * cPrev[j] * f * (1.f - f);
    dzg[j] = dcell * i * (1.f - g * g);
    dzo[j] = dh[j] * tc * o * (1.f - o);
    dc[j] = dcell * f;
  }
}

void lstmBackwardStep(const LstmBackwardStep& s) {
  const int64_t units = s.units;
  for (int64_t r = 0; r < s.rows; r++) {
    const float* a = s.gates + r * s.gatesStride;
    float* dz = s.dz + r * s.dzStride;
    const float* c = s.c + r * s.cStride;
    const float* dh = s.dh + r * units;
    float* dc = s.dc + r * units;
    if (s.cPrev == nullptr) {
      lstmBackwardRow<true>(a, a + units, a + 2 * units, a + 3 * units, c, nullptr, dh, dc, dz, dz + units, dz + 2 * units, dz + 3 * units, units);
    } else {
      lstmBackwardRow<false>(a, a + units, a + 2 * units, a + 3 * units, c, s.cPrev + r * s.cPrevStride, dh, dc, dz, dz + units, dz + 2 * units,
                             dz + 3 * units, units);
    }
  }
}

// Each operation rounded on its own, as the TF.js operations it replaces round them: no
// multiply-add contracted into one instruction.
__attribute__((optimize("fp-contract=off"))) void adamRun(const float* __restrict g, const float* __restrict m, const float* __restrict v,
                                                          float* __restrict nextM, float* __restrict nextV, float* __restrict update, int64_t n,
                                                          float beta1, float oneMinusBeta1, float beta2, float oneMinusBeta2, float scale,
                                                          float epsilon) {
  for (int64_t j = 0; j < n; j++) {
    const float gj = g[j];
    const float mj = m[j] * beta1 + gj * oneMinusBeta1;
    const float vj = v[j] * beta2 + (gj * gj) * oneMinusBeta2;
    nextM[j] = mj;
    nextV[j] = vj;
    update[j] = (mj * scale) / (std::sqrt(vj) + epsilon);
  }
}

void adam(const AdamStep& s, int threads) {
  forRanges(1, s.count, threads, [&](int64_t, int64_t first, int64_t n) {
    adamRun(s.g + first, s.m + first, s.v + first, s.nextM + first, s.nextV + first, s.update + first, n, s.beta1, s.oneMinusBeta1, s.beta2,
            s.oneMinusBeta2, s.scale, s.epsilon);
  });
}

#if defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX2__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif
typedef float Vector __attribute__((vector_size(kLanes * sizeof(float))));

// Twelve independent chains of vector multiply-adds: enough to cover the latency of the fused
// multiply-add units, so the loop runs at their throughput. (Contracted to real FMA instructions
// here only; the kernels keep separate multiplies and adds, as the other backends compute.)
__attribute__((optimize("fp-contract=fast"))) float fmaLoop(int64_t iterations) {
  Vector scale, shift;
  Vector a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11;
  for (int l = 0; l < kLanes; l++) {
    scale[l] = 0.999999f;
    shift[l] = 1e-7f;
    const float base = static_cast<float>(l);
    a0[l] = base;
    a1[l] = base + 1;
    a2[l] = base + 2;
    a3[l] = base + 3;
    a4[l] = base + 4;
    a5[l] = base + 5;
    a6[l] = base + 6;
    a7[l] = base + 7;
    a8[l] = base + 8;
    a9[l] = base + 9;
    a10[l] = base + 10;
    a11[l] = base + 11;
  }
  for (int64_t k = 0; k < iterations; k++) {
    a0 = a0 * scale + shift;
    a1 = a1 * scale + shift;
    a2 = a2 * scale + shift;
    a3 = a3 * scale + shift;
    a4 = a4 * scale + shift;
    a5 = a5 * scale + shift;
    a6 = a6 * scale + shift;
    a7 = a7 * scale + shift;
    a8 = a8 * scale + shift;
    a9 = a9 * scale + shift;
    a10 = a10 * scale + shift;
    a11 = a11 * scale + shift;
    // Keep the chains in registers.
    __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5));
    __asm__ volatile("" : "+x"(a6), "+x"(a7), "+x"(a8), "+x"(a9), "+x"(a10), "+x"(a11));
  }
  const Vector sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
  float total = 0;
  for (int l = 0; l < kLanes; l++) total += sum[l];
  return total;
}

}  // namespace

extern const Loops kLoops;
const Loops kLoops = {DLEXP_STRING(DLEXP_ISA), binary, select, unary, sum, poolForward, maxPoolGrad, avgPoolGrad, finishRows, fused, lstmForwardStep, lstmBackwardStep, adam, fmaLoop, kLanes};

}  // namespace DLEXP_CONCAT(isa_, DLEXP_ISA)
}  // namespace dlexp
