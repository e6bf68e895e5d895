// 2-D max and average pooling over NHWC data and their gradients, with the cpu backend's rules:
// - max: the largest in-bounds value (NaN never wins: `value > best`); its gradient goes to the
//   first maximum of each window in row-major order;
// - average: the mean of the in-bounds values; its gradient spreads dy / (filterH * filterW) to
//   every position of the window, in bounds or not (what TF.js's AvgPoolGrad computes).
// The channel axis is innermost, so every inner loop runs over contiguous channels.
// Work is split by image (and for the forward passes by output row): each output value is
// written by one thread in a fixed order, so results repeat bit for bit.
//
// Arguments (a Float64Array): the heap offsets (forward: x, y; gradients: x, dy, dx), then
//   n, inH, inW, channels, outH, outW, filterH, filterW, strideH, strideW, padTop, padLeft.
#include "pool.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "common.h"

namespace dlexp {
namespace {

struct PoolGeometry {
  int n, inH, inW, c, outH, outW, filterH, filterW, strideH, strideW, padTop, padLeft;
};

PoolGeometry readPool(const Napi::Env& env, const Args& a, size_t first, const char* kernel) {
  PoolGeometry g;
  int* fields = &g.n;
  for (size_t k = 0; k < 12; k++) fields[k] = a.n(first + k);
  for (size_t k = 0; k < 10; k++) {
    if (fields[k] < (k == 0 || k == 3 ? 0 : 1)) fail(env, std::string(kernel) + ": invalid pooling geometry");
  }
  if (g.padTop < 0 || g.padLeft < 0) fail(env, std::string(kernel) + ": negative padding");
  return g;
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

void poolForward(const PoolGeometry& g, const float* x, float* y, bool isMax) {
  const int threads = threadCount();
  const int64_t rows = static_cast<int64_t>(g.n) * g.outH;
  const size_t c = static_cast<size_t>(g.c);
#pragma omp parallel for num_threads(threads) schedule(static) if (rows * g.outW * g.c >= 4096)
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
        for (size_t ch = 0; ch < c; ch++) out[ch] = -std::numeric_limits<float>::infinity();
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
        const float scale = count > 0 ? 1.f / static_cast<float>(count) : 0.f;
        if (count == 0) {
          for (size_t ch = 0; ch < c; ch++) out[ch] = std::numeric_limits<float>::quiet_NaN();
        } else {
          for (size_t ch = 0; ch < c; ch++) out[ch] *= scale;
        }
      }
    }
  }
}

Napi::Value forward(const Napi::CallbackInfo& info, bool isMax, const char* kernel) {
  const Napi::Env env = info.Env();
  const Heap heap = heapFrom(env, info[0]);
  const Args args(env, info[1], 14, kernel);
  const PoolGeometry g = readPool(env, args, 2, kernel);
  try {
    const float* x = heap.at<float>(args.d(0), static_cast<double>(volume(g.n, g.inH, g.inW, g.c)), kernel);
    float* y = heap.at<float>(args.d(1), static_cast<double>(volume(g.n, g.outH, g.outW, g.c)), kernel);
    poolForward(g, x, y, isMax);
  } catch (const std::exception& e) {
    fail(env, std::string(kernel) + ": " + e.what());
  }
  return env.Undefined();
}

}  // namespace

Napi::Value maxPool(const Napi::CallbackInfo& info) { return forward(info, true, "MaxPool"); }
Napi::Value avgPool(const Napi::CallbackInfo& info) { return forward(info, false, "AvgPool"); }

Napi::Value maxPoolGrad(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const char* kernel = "MaxPoolGrad";
  const Heap heap = heapFrom(env, info[0]);
  const Args args(env, info[1], 15, kernel);
  const PoolGeometry g = readPool(env, args, 3, kernel);
  try {
    const size_t inSize = volume(g.n, g.inH, g.inW, g.c);
    const size_t outSize = volume(g.n, g.outH, g.outW, g.c);
    const float* x = heap.at<float>(args.d(0), static_cast<double>(inSize), kernel);
    const float* dy = heap.at<float>(args.d(1), static_cast<double>(outSize), kernel);
    float* dx = heap.at<float>(args.d(2), static_cast<double>(inSize), kernel);
    const int threads = threadCount();
    const size_t c = static_cast<size_t>(g.c);
    // Per thread: the best value and its flat position, one per channel.
    const size_t perThread = c * (sizeof(float) + sizeof(int64_t));
    auto* scratch = static_cast<uint8_t*>(workspace().get(kSlotExtra, perThread * threads));
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int b = 0; b < g.n; b++) {
      uint8_t* mine = scratch + perThread * omp_get_thread_num();
      auto* best = reinterpret_cast<float*>(mine);
      auto* where = reinterpret_cast<int64_t*>(mine + c * sizeof(float));
      const float* image = x + volume(b, g.inH, g.inW, g.c);
      float* grad = dx + volume(b, g.inH, g.inW, g.c);
      std::memset(grad, 0, sizeof(float) * volume(1, g.inH, g.inW, g.c));
      for (int oh = 0; oh < g.outH; oh++) {
        int r0, r1;
        windowRange(oh, g.strideH, g.padTop, g.filterH, g.inH, r0, r1);
        for (int ow = 0; ow < g.outW; ow++) {
          int c0, c1;
          windowRange(ow, g.strideW, g.padLeft, g.filterW, g.inW, c0, c1);
          for (size_t ch = 0; ch < c; ch++) {
            best[ch] = -std::numeric_limits<float>::infinity();
            where[ch] = -1;
          }
          for (int r = r0; r < r1; r++)
            for (int col = c0; col < c1; col++) {
              const int64_t base = (static_cast<int64_t>(r) * g.inW + col) * static_cast<int64_t>(c);
              const float* v = image + base;
              for (size_t ch = 0; ch < c; ch++) {
                const bool better = v[ch] > best[ch];
                best[ch] = better ? v[ch] : best[ch];
                where[ch] = better ? base + static_cast<int64_t>(ch) : where[ch];
              }
            }
          const float* g0 = dy + ((static_cast<size_t>(b) * g.outH + oh) * g.outW + ow) * c;
          for (size_t ch = 0; ch < c; ch++)
            if (where[ch] >= 0) grad[where[ch]] += g0[ch];
        }
      }
    }
  } catch (const std::exception& e) {
    fail(env, std::string(kernel) + ": " + e.what());
  }
  return env.Undefined();
}

Napi::Value avgPoolGrad(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const char* kernel = "AvgPoolGrad";
  const Heap heap = heapFrom(env, info[0]);
  const Args args(env, info[1], 15, kernel);
  const PoolGeometry g = readPool(env, args, 3, kernel);
  try {
    const size_t inSize = volume(g.n, g.inH, g.inW, g.c);
    const size_t outSize = volume(g.n, g.outH, g.outW, g.c);
    heap.at<float>(args.d(0), static_cast<double>(inSize), kernel);
    const float* dy = heap.at<float>(args.d(1), static_cast<double>(outSize), kernel);
    float* dx = heap.at<float>(args.d(2), static_cast<double>(inSize), kernel);
    const int threads = threadCount();
    const size_t c = static_cast<size_t>(g.c);
    const float scale = 1.f / static_cast<float>(g.filterH * g.filterW);
    const int64_t rows = static_cast<int64_t>(g.n) * g.inH;
    // Gathered: each input position sums the dy of the windows covering it, then scales.
#pragma omp parallel for num_threads(threads) schedule(static) if (rows * g.inW * g.c >= 4096)
    for (int64_t row = 0; row < rows; row++) {
      const int b = static_cast<int>(row / g.inH);
      const int r = static_cast<int>(row % g.inH);
      // Output rows whose window [oh*s - pad, oh*s - pad + filter) holds r.
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
  } catch (const std::exception& e) {
    fail(env, std::string(kernel) + ": " + e.what());
  }
  return env.Undefined();
}

}  // namespace dlexp
