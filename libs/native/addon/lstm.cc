// An LSTM layer over a whole sequence in two calls, forward and backward, instead of a dozen
// TF.js kernels per time step each way (4 000 per training step for the course's 28-step LSTM,
// each paying the engine's per-kernel cost). The products that do not depend on the previous
// step are one matrix product over every step at once: the input projection forward, and the
// weight gradients and the input gradient backward; only h·U and dz·Uᵀ run step by step.
//
// x, y and their gradients are batch-major as TF.js holds them ([batch, steps, ...]); inside,
// everything is time-major ([steps, batch, ...]), so that a time step is one dense matrix the
// matrix-product kernels take as it is (oneDNN's brgemm kernels take dense matrices only; strided
// time steps went to a generic product three times slower). x is transposed on the way in,
// and y (all steps) and dx on the way out: copies of the smallest tensors involved. Gates in
// Keras' order (input, forget, candidate, output); sigmoid gates, tanh activation; initial
// state zero.
//
// The saved state, time-major: gate activations [steps, batch, 4u], cell states [steps, batch,
// u], outputs [steps + 1, batch, u] with the first block zero (the output before the first step,
// so that "the previous output" of every step is one dense [steps, batch, u] block).
// batch * (6 steps + 1) * u floats in all.
//
// lstmForward(heap, args): 0 x, 1 kernel [inputs, 4u], 2 recurrent kernel [u, 4u], 3 bias [4u]
// or -1, 4 y ([batch, u], or [batch, steps, u] with return sequences), 5 saved state, 6 batch,
// 7 steps, 8 inputs, 9 units u, 10 return sequences.
// lstmBackward(heap, args): 0 dy (shaped as y), 1 x, 2 kernel, 3 recurrent kernel, 4 saved
// state, 5 dx, 6 dkernel, 7 drecurrent kernel, 8 dbias or -1, 9 batch, 10 steps, 11 inputs,
// 12 units, 13 return sequences.
#include "lstm.h"

#include <cstring>
#include <string>

#include "common.h"
#include "matmul.h"
#include "simd/loops.h"

namespace dlexp {
namespace {

struct LstmShape {
  int64_t batch, steps, inputs, units;
  bool returnSequences;
};

LstmShape shapeFrom(const Napi::Env& env, const Args& args, size_t first, const char* kernel) {
  LstmShape s{args.i(first), args.i(first + 1), args.i(first + 2), args.i(first + 3), args.i(first + 4) != 0};
  if (s.batch < 1 || s.steps < 1 || s.inputs < 1 || s.units < 1) fail(env, std::string(kernel) + ": invalid shape");
  if (s.batch * s.steps * s.units * 6 > (int64_t{1} << 40)) fail(env, std::string(kernel) + ": the sequence is too large");
  return s;
}

// [outer, inner, width] to [inner, outer, width].
void swapLeadingAxes(const float* from, float* to, int64_t outer, int64_t inner, int64_t width) {
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t i = 0; i < inner; i++) std::memcpy(to + (i * outer + o) * width, from + (o * inner + i) * width, sizeof(float) * width);
  }
}

double stateLength(const LstmShape& s) { return static_cast<double>(s.batch * (6 * s.steps + 1) * s.units); }

}  // namespace

Napi::Value lstmForward(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const char* kernel = "LSTM";
  const Heap heap = heapFrom(env, info[0]);
  const Args args(env, info[1], 11, kernel);
  const LstmShape s = shapeFrom(env, args, 6, kernel);
  const int64_t B = s.batch, T = s.steps, I = s.inputs, H = s.units, G = 4 * H;
  try {
    const float* x = heap.at<float>(args.d(0), static_cast<double>(B * T * I), kernel);
    const float* w = heap.at<float>(args.d(1), static_cast<double>(I * G), kernel);
    const float* u = heap.at<float>(args.d(2), static_cast<double>(H * G), kernel);
    const float* bias = args.d(3) >= 0 ? heap.at<float>(args.d(3), static_cast<double>(G), kernel) : nullptr;
    float* y = heap.at<float>(args.d(4), static_cast<double>(s.returnSequences ? B * T * H : B * H), kernel);
    float* saved = heap.at<float>(args.d(5), stateLength(s), kernel);
    float* gates = saved;
    float* cells = gates + T * B * G;
    float* outputs = cells + T * B * H;  // outputs + (t + 1) * B * H is step t's
    auto* xByTime = static_cast<float*>(workspace().get(kSlotIn0, sizeof(float) * T * B * I));
    swapLeadingAxes(x, xByTime, B, T, I);
    // The input projection of every step at once.
    gemm(false, false, T * B, G, I, xByTime, I, w, G, false, gates, G);
    std::memset(outputs, 0, sizeof(float) * B * H);
    const auto forwardStep = loops().lstmForwardStep;
    for (int64_t t = 0; t < T; t++) {
      float* stepGates = gates + t * B * G;
      if (t > 0) gemm(false, false, B, G, H, outputs + t * B * H, H, u, G, true, stepGates, G);
      LstmForwardStep step;
      step.rows = B;
      step.units = H;
      step.gates = stepGates;
      step.gatesStride = G;
      step.bias = bias;
      step.cPrev = t > 0 ? cells + (t - 1) * B * H : nullptr;
      step.cPrevStride = H;
      step.c = cells + t * B * H;
      step.cStride = H;
      step.h = outputs + (t + 1) * B * H;
      step.hStride = H;
      forwardStep(step);
    }
    if (s.returnSequences) {
      swapLeadingAxes(outputs + B * H, y, T, B, H);
    } else {
      std::memcpy(y, outputs + T * B * H, sizeof(float) * B * H);
    }
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(env, std::string(kernel) + ": " + e.what());
  }
  return env.Undefined();
}

Napi::Value lstmBackward(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const char* kernel = "LSTM gradient";
  const Heap heap = heapFrom(env, info[0]);
  const Args args(env, info[1], 14, kernel);
  const LstmShape s = shapeFrom(env, args, 9, kernel);
  const int64_t B = s.batch, T = s.steps, I = s.inputs, H = s.units, G = 4 * H;
  try {
    const float* dy = heap.at<float>(args.d(0), static_cast<double>(s.returnSequences ? B * T * H : B * H), kernel);
    const float* x = heap.at<float>(args.d(1), static_cast<double>(B * T * I), kernel);
    const float* w = heap.at<float>(args.d(2), static_cast<double>(I * G), kernel);
    const float* u = heap.at<float>(args.d(3), static_cast<double>(H * G), kernel);
    const float* saved = heap.at<float>(args.d(4), stateLength(s), kernel);
    float* dx = heap.at<float>(args.d(5), static_cast<double>(B * T * I), kernel);
    float* dw = heap.at<float>(args.d(6), static_cast<double>(I * G), kernel);
    float* du = heap.at<float>(args.d(7), static_cast<double>(H * G), kernel);
    float* dbias = args.d(8) >= 0 ? heap.at<float>(args.d(8), static_cast<double>(G), kernel) : nullptr;
    const float* gates = saved;
    const float* cells = gates + T * B * G;
    const float* outputs = cells + T * B * H;

    // Every scratch pointer first: a slot may move when it grows.
    Workspace& ws = workspace();
    const int threads = threadCount();
    auto* dz = static_cast<float*>(ws.get(kSlotOut, sizeof(float) * T * B * G));
    auto* state = static_cast<float*>(ws.get(kSlotIn0, sizeof(float) * 2 * B * H));
    auto* byTime = static_cast<float*>(ws.get(kSlotIn1, sizeof(float) * T * B * I));
    auto* sumScratch = static_cast<double*>(ws.get(kSlotExtra, sizeof(double) * threads * G));
    float* dh = state;
    float* dc = state + B * H;

    std::memset(dc, 0, sizeof(float) * B * H);
    const auto backwardStep = loops().lstmBackwardStep;
    for (int64_t t = T - 1; t >= 0; t--) {
      // dh: what reaches this step's output through the next step (already in dh), plus the
      // loss' own gradient for it.
      if (!s.returnSequences) {
        if (t == T - 1) std::memcpy(dh, dy, sizeof(float) * B * H);
      } else {
        for (int64_t b = 0; b < B; b++) {
          const float* d = dy + (b * T + t) * H;
          float* target = dh + b * H;
          if (t == T - 1) {
            std::memcpy(target, d, sizeof(float) * H);
          } else {
            for (int64_t j = 0; j < H; j++) target[j] += d[j];
          }
        }
      }
      LstmBackwardStep step;
      step.rows = B;
      step.units = H;
      step.gates = gates + t * B * G;
      step.gatesStride = G;
      step.c = cells + t * B * H;
      step.cStride = H;
      step.cPrev = t > 0 ? cells + (t - 1) * B * H : nullptr;
      step.cPrevStride = H;
      step.dh = dh;
      step.dc = dc;
      step.dz = dz + t * B * G;
      step.dzStride = G;
      backwardStep(step);
      if (t > 0) gemm(false, true, B, H, G, dz + t * B * G, G, u, G, false, dh, H);
    }
    // The weight gradients as one product over every step each: the outputs each step saw as
    // its previous one are the first `steps` blocks of the saved outputs.
    gemm(true, false, H, G, T * B, outputs, H, dz, G, false, du, G);
    swapLeadingAxes(x, byTime, B, T, I);
    gemm(true, false, I, G, T * B, byTime, I, dz, G, false, dw, G);
    gemm(false, true, T * B, I, G, dz, G, w, G, false, byTime, I);
    swapLeadingAxes(byTime, dx, T, B, I);
    if (dbias != nullptr) loops().sum(dz, dbias, 1, T * B, G, threads, sumScratch);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(env, std::string(kernel) + ": " + e.what());
  }
  return env.Undefined();
}

}  // namespace dlexp
