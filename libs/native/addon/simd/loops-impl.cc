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

// Below this many elements a pass runs on the calling thread: waking the pool costs more.
constexpr int64_t kParallelThreshold = 1 << 15;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

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
void forRanges(int64_t rows, int64_t inner, int threads, Body body) {
  if (rows * inner < kParallelThreshold) threads = 1;
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

void binary(int op, const BinaryLayout& l, const float* a, const float* b, void* out, int threads) {
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
    if constexpr (Op == kExp) r = std::exp(v);
    if constexpr (Op == kLog) r = std::log(v);
    if constexpr (Op == kTanh) r = std::tanh(v);
    if constexpr (Op == kSigmoid) r = 1.f / (1.f + std::exp(-v));
    if constexpr (Op == kLeakyRelu) r = v < 0.f ? alpha * v : v;
    if constexpr (Op == kElu) r = v < 0.f ? std::expm1(v) : v;
    if constexpr (Op == kClip) r = v > beta ? beta : (v < alpha ? alpha : v);
    out[j] = r;
  }
}

template <int Op>
void unaryOp(const float* x, float* out, int64_t count, float alpha, float beta, int threads) {
  forRanges(1, count, threads, [&](int64_t, int64_t first, int64_t n) { unaryRun<Op>(x + first, out + first, n, alpha, beta); });
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
  if (rows * g.outW * g.c < kParallelThreshold) threads = 1;
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
  if (rows * g.inW * g.c < kParallelThreshold) threads = 1;
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
      for (int64_t j = 0; j < n; j++) row[j] = row[j] < 0.f ? std::expm1(row[j]) : row[j];
      break;
    case kActLeakyRelu:
      for (int64_t j = 0; j < n; j++) row[j] = row[j] < 0.f ? e.alpha * row[j] : row[j];
      break;
    case kActSigmoid:
      for (int64_t j = 0; j < n; j++) row[j] = 1.f / (1.f + std::exp(-row[j]));
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

}  // namespace

extern const Loops kLoops;
const Loops kLoops = {DLEXP_STRING(DLEXP_ISA), binary, unary, sum, poolForward, maxPoolGrad, avgPoolGrad, finishRows};

}  // namespace DLEXP_CONCAT(isa_, DLEXP_ISA)
}  // namespace dlexp
