// 2-D max and average pooling over NHWC data and their gradients, with the cpu backend's rules:
// - max: the largest in-bounds value (NaN never wins: `value > best`); its gradient goes to the
//   first maximum of each window in row-major order;
// - average: the mean of the in-bounds values; its gradient spreads dy / (filterH * filterW) to
//   every position of the window, in bounds or not (what TF.js's AvgPoolGrad computes).
// The loops are in simd/loops-impl.cc.
//
// Arguments (a Float64Array): the heap offsets (forward: x, y; gradients: x, dy, dx), then
//   n, inH, inW, channels, outH, outW, filterH, filterW, strideH, strideW, padTop, padLeft.
#include "pool.h"

#include <string>

#include "common.h"
#include "simd/loops.h"

namespace dlexp {
namespace {

PoolGeometry readPool(const Napi::Env& env, const Args& a, size_t first, const char* kernel) {
  PoolGeometry g;
  int* fields = &g.n;
  for (size_t k = 0; k < 12; k++) fields[k] = a.n(first + k);
  for (size_t k = 0; k < 10; k++) {
    if (fields[k] < 1) fail(env, std::string(kernel) + ": invalid pooling geometry");
  }
  if (g.padTop < 0 || g.padLeft < 0 || g.padTop >= g.filterH || g.padLeft >= g.filterW) {
    fail(env, std::string(kernel) + ": padding must be smaller than the window");
  }
  return g;
}

double volume(int a, int b, int c, int d) { return static_cast<double>(a) * b * c * d; }

Napi::Value forward(const Napi::CallbackInfo& info, bool isMax, const char* kernel) {
  const Napi::Env env = info.Env();
  const Heap heap = heapFrom(env, info[0]);
  const Args args(env, info[1], 14, kernel);
  const PoolGeometry g = readPool(env, args, 2, kernel);
  try {
    const float* x = heap.at<float>(args.d(0), volume(g.n, g.inH, g.inW, g.c), kernel);
    float* y = heap.at<float>(args.d(1), volume(g.n, g.outH, g.outW, g.c), kernel);
    loops().poolForward(g, x, y, isMax, threadCount());
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
    const float* x = heap.at<float>(args.d(0), volume(g.n, g.inH, g.inW, g.c), kernel);
    const float* dy = heap.at<float>(args.d(1), volume(g.n, g.outH, g.outW, g.c), kernel);
    float* dx = heap.at<float>(args.d(2), volume(g.n, g.inH, g.inW, g.c), kernel);
    const int threads = threadCount();
    auto* scratch = static_cast<float*>(workspace().get(kSlotExtra, sizeof(float) * 2 * static_cast<size_t>(g.c) * threads));
    loops().maxPoolGrad(g, x, dy, dx, threads, scratch);
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
    heap.at<float>(args.d(0), volume(g.n, g.inH, g.inW, g.c), kernel);
    const float* dy = heap.at<float>(args.d(1), volume(g.n, g.outH, g.outW, g.c), kernel);
    float* dx = heap.at<float>(args.d(2), volume(g.n, g.inH, g.inW, g.c), kernel);
    loops().avgPoolGrad(g, dy, dx, threadCount());
  } catch (const std::exception& e) {
    fail(env, std::string(kernel) + ": " + e.what());
  }
  return env.Undefined();
}

}  // namespace dlexp
