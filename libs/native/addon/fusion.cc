// One pass over a chain of elementwise operations the JavaScript side has held back (see
// src/fusion.ts): an optimizer update is a dozen elementwise kernels over each weight tensor,
// every one a full pass over memory; evaluated together, block by block, the chain reads its
// inputs once and writes only the results still wanted.
//
// fused(heap, args): 0 element count, 1 inputs, 2 nodes, then per input (offset, scalar: 1 when
// it is one float broadcast), then per node (unary, operation, operand a, operand b, alpha,
// beta, output offset or -1). Operands >= 0 name inputs, < 0 the node -(operand + 1), which must
// come earlier.
#include "fusion.h"

#include <string>

#include "common.h"
#include "simd/loops.h"

namespace dlexp {

Napi::Value fused(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const char* kernel = "fused elementwise";
  const Heap heap = heapFrom(env, info[0]);
  const Args header(env, info[1], 3, kernel);
  FusedProgram p;
  p.count = header.i(0);
  p.inputs = header.n(1);
  p.nodes = header.n(2);
  if (p.count < 1 || p.inputs < 0 || p.inputs > kMaxFusedInputs || p.nodes < 1 || p.nodes > kMaxFusedNodes) {
    fail(env, "fused elementwise: invalid program size");
  }
  const Args args(env, info[1], 3 + 2 * static_cast<size_t>(p.inputs) + 7 * static_cast<size_t>(p.nodes), kernel);
  try {
    size_t at = 3;
    for (int i = 0; i < p.inputs; i++, at += 2) {
      p.scalar[i] = args.n(at + 1) != 0;
      p.input[i] = heap.at<float>(args.d(at), p.scalar[i] ? 1.0 : static_cast<double>(p.count), kernel);
    }
    for (int j = 0; j < p.nodes; j++, at += 7) {
      FusedNode& n = p.node[j];
      n.unary = args.n(at);
      n.op = args.n(at + 1);
      n.a = args.n(at + 2);
      n.b = args.n(at + 3);
      n.alpha = args.f(at + 4);
      n.beta = args.f(at + 5);
      n.output = args.d(at + 6) >= 0 ? heap.at<float>(args.d(at + 6), static_cast<double>(p.count), kernel) : nullptr;
      const bool opValid = n.unary ? (n.op >= 0 && n.op < kUnaryOpCount) : (n.op >= 0 && n.op < kGreater);
      auto operandValid = [&](int ref) { return ref >= 0 ? ref < p.inputs : (-ref - 1) < j; };
      if ((n.unary != 0 && n.unary != 1) || !opValid || !operandValid(n.a) || (!n.unary && !operandValid(n.b))) {
        fail(env, "fused elementwise: invalid node " + std::to_string(j));
      }
    }
    const int threads = threadCount();
    auto* scratch = static_cast<float*>(workspace().get(kSlotExtra, sizeof(float) * threads * p.nodes * kFusedBlock));
    loops().fused(p, threads, scratch);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(env, std::string(kernel) + ": " + e.what());
  }
  return env.Undefined();
}

}  // namespace dlexp
