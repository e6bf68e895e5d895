// Elementwise kernels and sums, the optimizer's and the activations' share of a training step:
// each is a pass over memory, so the work is to make that pass once, with wide vectors and on
// every thread (the loops are in simd/loops-impl.cc).
//
// binary(heap, args): 0 a, 1 b, 2 out (heap byte offsets), 3 operation (simd/loops.h), 4 rank
//   (1..6), then the output dims (6 slots from 5), a's strides (from 11) and b's strides (from
//   17), in elements, 0 along broadcast dims. The JavaScript side merges dims so that the
//   innermost one is long.
// unary(heap, args): 0 x, 1 out, 2 operation, 3 element count, 4 alpha, 5 beta.
// adam(heap, args): 0 g, 1 m, 2 v, 3 next m, 4 next v, 5 update, 6 element count, 7 β1, 8 1 − β1,
//   9 β2, 10 1 − β2, 11 scale, 12 ε (see AdamStep in simd/loops.h).
// sum(heap, args): 0 x, 1 out, 2 outer, 3 reduced, 4 inner: out[o, i] = sum over r of
//   x[o, r, i], accumulated in double as the cpu backend does.
#include "elementwise.h"

#include <string>

#include "common.h"
#include "simd/loops.h"

namespace dlexp {
namespace {

int64_t extent(const BinaryLayout& l, const int64_t* strides) {
  int64_t last = 0;
  for (int d = 0; d < l.rank; d++) last += (l.dims[d] - 1) * strides[d];
  return last + 1;
}

}  // namespace

Napi::Value binary(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const char* kernel = "binary elementwise";
  const Heap heap = heapFrom(env, info[0]);
  const Args args(env, info[1], 23, kernel);
  const int op = args.n(3);
  if (op < 0 || op >= kBinaryOpCount) fail(env, "binary elementwise: unknown operation " + std::to_string(op));
  BinaryLayout layout;
  layout.rank = args.n(4);
  if (layout.rank < 1 || layout.rank > 6) fail(env, "binary elementwise: rank must be 1 to 6");
  int64_t total = 1;
  for (int d = 0; d < layout.rank; d++) {
    layout.dims[d] = args.i(5 + d);
    layout.strideA[d] = args.i(11 + d);
    layout.strideB[d] = args.i(17 + d);
    if (layout.dims[d] < 1 || layout.strideA[d] < 0 || layout.strideB[d] < 0) fail(env, "binary elementwise: invalid layout");
    total *= layout.dims[d];
  }
  try {
    const bool logical = op == kLogicalAnd || op == kLogicalOr;
    const void* a = logical ? static_cast<const void*>(heap.at<uint8_t>(args.d(0), static_cast<double>(extent(layout, layout.strideA)), kernel))
                            : static_cast<const void*>(heap.at<float>(args.d(0), static_cast<double>(extent(layout, layout.strideA)), kernel));
    const void* b = logical ? static_cast<const void*>(heap.at<uint8_t>(args.d(1), static_cast<double>(extent(layout, layout.strideB)), kernel))
                            : static_cast<const void*>(heap.at<float>(args.d(1), static_cast<double>(extent(layout, layout.strideB)), kernel));
    void* out = op >= kGreater ? static_cast<void*>(heap.at<uint8_t>(args.d(2), static_cast<double>(total), kernel))
                               : static_cast<void*>(heap.at<float>(args.d(2), static_cast<double>(total), kernel));
    loops().binary(op, layout, a, b, out, threadCount());
  } catch (const std::exception& e) {
    fail(env, std::string(kernel) + ": " + e.what());
  }
  return env.Undefined();
}

// select(heap, args): 0 condition (bytes), 1 t, 2 e, 3 out, 4 element count.
Napi::Value selectWhere(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const char* kernel = "Select";
  const Heap heap = heapFrom(env, info[0]);
  const Args args(env, info[1], 5, kernel);
  const int64_t count = args.i(4);
  if (count < 0) fail(env, "Select: negative element count");
  try {
    const uint8_t* condition = heap.at<uint8_t>(args.d(0), static_cast<double>(count), kernel);
    const float* t = heap.at<float>(args.d(1), static_cast<double>(count), kernel);
    const float* e = heap.at<float>(args.d(2), static_cast<double>(count), kernel);
    float* out = heap.at<float>(args.d(3), static_cast<double>(count), kernel);
    loops().select(condition, t, e, out, count, threadCount());
  } catch (const std::exception& ex) {
    fail(env, std::string(kernel) + ": " + ex.what());
  }
  return env.Undefined();
}

Napi::Value unary(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const char* kernel = "unary elementwise";
  const Heap heap = heapFrom(env, info[0]);
  const Args args(env, info[1], 6, kernel);
  const int op = args.n(2);
  if (op < 0 || op >= kUnaryOpCount) fail(env, "unary elementwise: unknown operation " + std::to_string(op));
  const int64_t count = args.i(3);
  if (count < 0) fail(env, "unary elementwise: negative element count");
  try {
    const float* x = heap.at<float>(args.d(0), static_cast<double>(count), kernel);
    float* out = heap.at<float>(args.d(1), static_cast<double>(count), kernel);
    loops().unary(op, x, out, count, args.f(4), args.f(5), threadCount());
  } catch (const std::exception& e) {
    fail(env, std::string(kernel) + ": " + e.what());
  }
  return env.Undefined();
}

Napi::Value adamStep(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const char* kernel = "Adam";
  const Heap heap = heapFrom(env, info[0]);
  const Args args(env, info[1], 13, kernel);
  const int64_t count = args.i(6);
  if (count < 0) fail(env, "Adam: negative element count");
  try {
    const double n = static_cast<double>(count);
    AdamStep s;
    s.g = heap.at<float>(args.d(0), n, kernel);
    s.m = heap.at<float>(args.d(1), n, kernel);
    s.v = heap.at<float>(args.d(2), n, kernel);
    s.nextM = heap.at<float>(args.d(3), n, kernel);
    s.nextV = heap.at<float>(args.d(4), n, kernel);
    s.update = heap.at<float>(args.d(5), n, kernel);
    s.count = count;
    s.beta1 = args.f(7);
    s.oneMinusBeta1 = args.f(8);
    s.beta2 = args.f(9);
    s.oneMinusBeta2 = args.f(10);
    s.scale = args.f(11);
    s.epsilon = args.f(12);
    loops().adam(s, threadCount());
  } catch (const std::exception& e) {
    fail(env, std::string(kernel) + ": " + e.what());
  }
  return env.Undefined();
}

Napi::Value sumReduce(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const char* kernel = "Sum";
  const Heap heap = heapFrom(env, info[0]);
  const Args args(env, info[1], 5, kernel);
  const int64_t outer = args.i(2), reduced = args.i(3), inner = args.i(4);
  if (outer < 1 || reduced < 0 || inner < 1) fail(env, "Sum: invalid shape");
  try {
    const float* x = heap.at<float>(args.d(0), static_cast<double>(outer * reduced * inner), kernel);
    float* out = heap.at<float>(args.d(1), static_cast<double>(outer * inner), kernel);
    const int threads = threadCount();
    auto* scratch = static_cast<double*>(workspace().get(kSlotExtra, sizeof(double) * threads * inner));
    loops().sum(x, out, outer, reduced, inner, threads, scratch);
  } catch (const std::exception& e) {
    fail(env, std::string(kernel) + ": " + e.what());
  }
  return env.Undefined();
}

}  // namespace dlexp
