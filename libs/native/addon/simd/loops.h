// The addon's own loops (elementwise passes, sums, pooling, the matmul epilogue), compiled once per
// instruction set (AVX-512, AVX2+FMA, baseline x86-64) from loops-impl.cc; loops() picks the
// widest the processor runs. oneDNN does its own dispatch; this is the same idea for the rest.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dlexp {

enum BinaryOp {
  kAdd = 0,
  kSub = 1,
  kMul = 2,
  kDiv = 3,
  kMaximum = 4,
  kMinimum = 5,
  kSquaredDifference = 6,
  kGreater = 7,
  kGreaterEqual = 8,
  kLess = 9,
  kLessEqual = 10,
  kEqual = 11,
  kNotEqual = 12,
  // Bytes (TF.js bool) in and out.
  kLogicalAnd = 13,
  kLogicalOr = 14,
  kBinaryOpCount = 15,
};

enum UnaryOp {
  kRelu = 0,
  kRelu6 = 1,
  kStep = 2,
  kNeg = 3,
  kAbs = 4,
  kSquare = 5,
  kSqrt = 6,
  kRsqrt = 7,
  kExp = 8,
  kLog = 9,
  kTanh = 10,
  kSigmoid = 11,
  kLeakyRelu = 12,
  kElu = 13,
  kClip = 14,
  kReciprocal = 15,
  kUnaryOpCount = 16,
};

// Activations fused into matmuls (codes shared with src/kernels/kernel-context.ts).
enum Activation { kLinear = 0, kActRelu = 1, kActRelu6 = 2, kActElu = 3, kActLeakyRelu = 4, kActSigmoid = 5, kActPrelu = 6 };

// a op b over an output of `dims`, a and b read with `strideA`/`strideB` (0 where broadcast).
struct BinaryLayout {
  int rank = 1;
  int64_t dims[6] = {1, 1, 1, 1, 1, 1};
  int64_t strideA[6] = {};
  int64_t strideB[6] = {};
};

struct PoolGeometry {
  int n, inH, inW, c, outH, outW, filterH, filterW, strideH, strideW, padTop, padLeft;
};

// Bias and activation applied to matmul output rows. `bias`/`prelu` broadcast as a suffix of the
// output: `length` is 1 or a multiple of the row length, element e reads entry e % length.
struct Epilogue {
  const float* bias = nullptr;
  size_t biasLength = 0;
  int activation = kLinear;
  float alpha = 0.f;
  const float* prelu = nullptr;
  size_t preluLength = 0;
  bool active() const { return bias != nullptr || activation != kLinear; }
};

// A chain of elementwise operations evaluated in one pass (see fusion.cc): every input is either
// `count` floats or one float broadcast, every node reads inputs or earlier nodes, and the
// outputs are the nodes whose values are still wanted.
constexpr int kMaxFusedNodes = 64;
constexpr int kMaxFusedInputs = 64;
// 128 floats per node and block: a whole chain's blocks (64 nodes at most, 32 KiB) stay in the
// first-level cache. Blocks of 1024 spilled to the second level and made an Adam update of a
// 784x500 weight twice as slow (1.3 ms against 0.68 on one core).
constexpr int kFusedBlock = 128;

struct FusedNode {
  int unary;       // 1: a unary operation (UnaryOp), 0: a binary one (BinaryOp, not a comparison)
  int op;
  int a, b;        // operands: >= 0 an input, < 0 the node -(operand + 1)
  float alpha, beta;
  float* output;   // where the node's values go, or nullptr when only later nodes need them
};

struct FusedProgram {
  int64_t count = 0;
  int inputs = 0, nodes = 0;
  const float* input[kMaxFusedInputs] = {};
  bool scalar[kMaxFusedInputs] = {};
  FusedNode node[kMaxFusedNodes] = {};
};

// One time step of an LSTM layer over `rows` examples, gates in Keras' order (input, forget,
// candidate, output), each matrix row-major with the given distance between rows.
struct LstmForwardStep {
  int64_t rows = 0, units = 0;
  float* gates = nullptr;  // [rows, 4 * units]: pre-activations in, activations out
  int64_t gatesStride = 0;
  const float* bias = nullptr;  // 4 * units, added to the pre-activations; nullptr for none
  const float* cPrev = nullptr;  // the previous cell state; nullptr at the first step (zeros)
  int64_t cPrevStride = 0;
  float* c = nullptr;  // the new cell state
  int64_t cStride = 0;
  float* h = nullptr;  // the new output
  int64_t hStride = 0;
};

struct LstmBackwardStep {
  int64_t rows = 0, units = 0;
  const float* gates = nullptr;  // the activations the forward step wrote
  int64_t gatesStride = 0;
  const float* c = nullptr;
  int64_t cStride = 0;
  const float* cPrev = nullptr;  // nullptr at the first step
  int64_t cPrevStride = 0;
  const float* dh = nullptr;  // [rows, units]: the loss' gradient with respect to this step's output
  float* dc = nullptr;        // [rows, units]: in, the gradient reaching the cell state from later steps; out, the one for the previous step
  float* dz = nullptr;        // [rows, 4 * units]: the gradient with respect to the pre-activations
  int64_t dzStride = 0;
};

// One Adam step over `count` weights, in the order TF.js operations would take it:
// nextM = m·β1 + g·(1 − β1), nextV = v·β2 + g²·(1 − β2), update = nextM·scale / (√nextV + ε).
struct AdamStep {
  const float* g = nullptr;
  const float* m = nullptr;
  const float* v = nullptr;
  float* nextM = nullptr;
  float* nextV = nullptr;
  float* update = nullptr;
  int64_t count = 0;
  float beta1 = 0, oneMinusBeta1 = 0, beta2 = 0, oneMinusBeta2 = 0, scale = 0, epsilon = 0;
};

struct Loops {
  const char* isa;
  // Comparisons write bytes (TF.js bool), the rest floats; logical operations read and write bytes.
  void (*binary)(int op, const BinaryLayout& layout, const void* a, const void* b, void* out, int threads);
  // out[i] = condition[i] ? t[i] : e[i] over `count` floats.
  void (*select)(const uint8_t* condition, const float* t, const float* e, float* out, int64_t count, int threads);
  void (*unary)(int op, const float* x, float* out, int64_t count, float alpha, float beta, int threads);
  // out[o, i] = sum over r of x[o, r, i], in double; `scratch` holds threads * inner doubles.
  void (*sum)(const float* x, float* out, int64_t outer, int64_t reduced, int64_t inner, int threads, double* scratch);
  void (*poolForward)(const PoolGeometry& g, const float* x, float* y, bool isMax, int threads);
  // `scratch` holds threads * 2 * channels floats.
  void (*maxPoolGrad)(const PoolGeometry& g, const float* x, const float* dy, float* dx, int threads, float* scratch);
  void (*avgPoolGrad)(const PoolGeometry& g, const float* dy, float* dx, int threads);
  // Rows [0, rows) of n values starting at flat output index `first`.
  void (*finishRows)(float* rows, int64_t count, int64_t n, int64_t first, const Epilogue& e);
  // `scratch` holds threads * nodes * kFusedBlock floats.
  void (*fused)(const FusedProgram& program, int threads, float* scratch);
  // Sigmoid gates and tanh activation (the only ones the LSTM kernels run).
  void (*lstmForwardStep)(const LstmForwardStep& step);
  void (*lstmBackwardStep)(const LstmBackwardStep& step);
  void (*adam)(const AdamStep& step, int threads);
  // Multiply-adds in registers only, to measure a core's peak: `iterations` * 12 * fmaLanes of
  // them; returns a value that depends on all of them (so the loop is not optimised away).
  float (*fmaLoop)(int64_t iterations);
  int fmaLanes;
};

const Loops& loops();

}  // namespace dlexp
