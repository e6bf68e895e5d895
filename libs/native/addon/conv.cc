// 2-D convolutions (NHWC activations, HWIO filters, as TF.js stores them) with oneDNN.
//
// oneDNN 2.6 has direct AVX-512 kernels that read and write NHWC activations as they are (brgemm
// convolutions forward, direct kernels for both gradients); only the filter is converted to the
// blocked layout they want, a small copy. Where a processor has no such kernel for NHWC, the
// activations are converted to channel-blocked layouts (nChw16c) and back instead. Each distinct
// convolution (shapes, strides, padding, activation, thread count) gets a plan: the primitive,
// its reorders and the sizes of the workspace slots they need, built once and reused. Converted
// copies live in the shared workspace, so a call allocates nothing.
//
// Arguments (a Float64Array), after the three heap offsets [a, b, out]:
//   3: bias offset or -1 (forward only)
//   4..20: n, inH, inW, inC, outC, filterH, filterW, outH, outW, strideH, strideW,
//          dilationH, dilationW, padTop, padLeft, padBottom, padRight
//   21: activation (0 linear, 1 relu, 2 relu6, 3 elu, 4 leakyrelu, 5 sigmoid), 22: its alpha
#include "conv.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common.h"
#include "dnnl-context.h"

namespace dlexp {
namespace {

using dims = dnnl::memory::dims;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

enum class ConvKind { kForward = 0, kBackwardData = 1, kBackwardWeights = 2 };

struct Geometry {
  int n, inH, inW, inC, outC, filterH, filterW, outH, outW, strideH, strideW, dilationH, dilationW, padTop, padLeft,
      padBottom, padRight;
};

constexpr size_t kGeometryArgs = 17;

Geometry readGeometry(const Args& a, size_t first) {
  Geometry g;
  int* fields = &g.n;
  for (size_t k = 0; k < kGeometryArgs; k++) fields[k] = a.n(first + k);
  return g;
}

struct ConvPlan {
  dnnl::primitive primitive;
  Port a, b, out;
  int argA = 0, argB = 0, argOut = 0;
  bool hasBias = false;
  dnnl::memory bias;
  dnnl::memory scratchpad;
  size_t scratchpadBytes = 0;
  // Built once: the memories are handles whose data pointers are set on every call.
  std::unordered_map<int, dnnl::memory> execArgs;
  std::string implementation;
};

std::unordered_map<std::string, std::unique_ptr<ConvPlan>>& plans() {
  static std::unordered_map<std::string, std::unique_ptr<ConvPlan>> cache;
  return cache;
}

// More distinct convolutions than this in one process means shapes vary call to call (say, a
// last partial batch per epoch is fine; a new size every step is not): start over then.
constexpr size_t kMaxPlans = 512;

std::string planKey(ConvKind kind, const Geometry& g, bool hasBias, int activation, float alpha) {
  std::string key(reinterpret_cast<const char*>(&g), sizeof g);
  int extra[4] = {static_cast<int>(kind), hasBias ? 1 : 0, activation, threadCount()};
  key.append(reinterpret_cast<const char*>(extra), sizeof extra);
  key.append(reinterpret_cast<const char*>(&alpha), sizeof alpha);
  return key;
}

dnnl::post_ops activationOps(int activation, float alpha) {
  dnnl::post_ops ops;
  switch (activation) {
    case 0:
      break;
    case 1:
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      break;
    case 2:
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, 0.f, 6.f);
      break;
    case 3:
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_elu, 1.f, 0.f);
      break;
    case 4:
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, alpha, 0.f);
      break;
    case 5:
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_logistic, 0.f, 0.f);
      break;
    default:
      throw std::invalid_argument("unknown fused activation code " + std::to_string(activation));
  }
  return ops;
}

// Steps `pd` past oneDNN's GEMM-based implementations: their SGEMM corrupts the heap when a
// signal arrives mid-call (see matmul.cc). Returns whether a direct kernel remains (false: only
// the reference implementation is left). The one case this costs is the data gradient into very
// few channels (an image's first layer, which training never asks for): about 3x slower than the
// GEMM path was.
template <typename PrimitiveDesc>
bool skipGemm(PrimitiveDesc& pd) {
  for (;;) {
    const std::string impl = pd.impl_info_str();
    if (impl.find("gemm") == std::string::npos) return impl.find("ref") == std::string::npos;
    if (!pd.next_impl()) throw std::runtime_error("oneDNN offers only GEMM-based kernels for this convolution");
  }
}

// `blockedActivations`: let the primitive pick the activations' layout too (then they are
// converted); otherwise it works on NHWC directly. Returns nullptr when, with NHWC, only the
// reference kernel is left.
std::unique_ptr<ConvPlan> makePlan(ConvKind kind, const Geometry& g, bool hasBias, int activation, float alpha, bool blockedActivations) {
  auto& engine = cpuEngine();
  const dims srcDims = {g.n, g.inC, g.inH, g.inW};
  const dims weiDims = {g.outC, g.inC, g.filterH, g.filterW};
  const dims dstDims = {g.n, g.outC, g.outH, g.outW};
  const dims strides = {g.strideH, g.strideW};
  const dims dilates = {g.dilationH - 1, g.dilationW - 1};
  const dims padL = {g.padTop, g.padLeft};
  const dims padR = {g.padBottom, g.padRight};
  const dnnl::memory::desc srcUser(srcDims, dt::f32, tag::nhwc);
  const dnnl::memory::desc weiUser(weiDims, dt::f32, tag::hwio);
  const dnnl::memory::desc dstUser(dstDims, dt::f32, tag::nhwc);
  const tag activations = blockedActivations ? tag::any : tag::nhwc;
  const dnnl::memory::desc srcAny(srcDims, dt::f32, activations);
  const dnnl::memory::desc weiAny(weiDims, dt::f32, tag::any);
  const dnnl::memory::desc dstAny(dstDims, dt::f32, activations);
  const dnnl::memory::desc biasDesc({g.outC}, dt::f32, tag::x);

  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  auto plan = std::make_unique<ConvPlan>();

  auto forwardDesc = [&](bool withBias) {
    return withBias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                                      srcAny, weiAny, biasDesc, dstAny, strides, dilates, padL, padR)
                    : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                                      srcAny, weiAny, dstAny, strides, dilates, padL, padR);
  };

  dnnl::memory::desc scratchpadDesc;
  if (kind == ConvKind::kForward) {
    attr.set_post_ops(activationOps(activation, alpha));
    dnnl::convolution_forward::primitive_desc pd(forwardDesc(hasBias), attr, engine);
    if (!skipGemm(pd) && !blockedActivations) return nullptr;
    plan->a.init(srcUser, pd.src_desc(), kSlotIn0, false);
    plan->b.init(weiUser, pd.weights_desc(), kSlotIn1, false);
    plan->out.init(dstUser, pd.dst_desc(), kSlotOut, true);
    plan->argA = DNNL_ARG_SRC;
    plan->argB = DNNL_ARG_WEIGHTS;
    plan->argOut = DNNL_ARG_DST;
    plan->hasBias = hasBias;
    if (hasBias) plan->bias = dnnl::memory(biasDesc, engine, DNNL_MEMORY_NONE);
    plan->primitive = dnnl::convolution_forward(pd);
    plan->implementation = std::string("forward ") + pd.impl_info_str();
    scratchpadDesc = pd.scratchpad_desc();
  } else if (kind == ConvKind::kBackwardData) {
    dnnl::convolution_forward::primitive_desc hint(forwardDesc(false), engine);
    skipGemm(hint);
    dnnl::convolution_backward_data::desc desc(dnnl::algorithm::convolution_direct, srcAny, weiAny, dstAny, strides, dilates,
                                               padL, padR);
    dnnl::convolution_backward_data::primitive_desc pd(desc, attr, engine, hint);
    if (!skipGemm(pd) && !blockedActivations) return nullptr;
    plan->a.init(dstUser, pd.diff_dst_desc(), kSlotIn0, false);
    plan->b.init(weiUser, pd.weights_desc(), kSlotIn1, false);
    plan->out.init(srcUser, pd.diff_src_desc(), kSlotOut, true);
    plan->argA = DNNL_ARG_DIFF_DST;
    plan->argB = DNNL_ARG_WEIGHTS;
    plan->argOut = DNNL_ARG_DIFF_SRC;
    plan->primitive = dnnl::convolution_backward_data(pd);
    plan->implementation = std::string("backward data ") + pd.impl_info_str();
    scratchpadDesc = pd.scratchpad_desc();
  } else {
    dnnl::convolution_forward::primitive_desc hint(forwardDesc(false), engine);
    skipGemm(hint);
    dnnl::convolution_backward_weights::desc desc(dnnl::algorithm::convolution_direct, srcAny, weiAny, dstAny, strides,
                                                  dilates, padL, padR);
    dnnl::convolution_backward_weights::primitive_desc pd(desc, attr, engine, hint);
    if (!skipGemm(pd) && !blockedActivations) return nullptr;
    plan->a.init(srcUser, pd.src_desc(), kSlotIn0, false);
    plan->b.init(dstUser, pd.diff_dst_desc(), kSlotIn1, false);
    plan->out.init(weiUser, pd.diff_weights_desc(), kSlotOut, true);
    plan->argA = DNNL_ARG_SRC;
    plan->argB = DNNL_ARG_DIFF_DST;
    plan->argOut = DNNL_ARG_DIFF_WEIGHTS;
    plan->primitive = dnnl::convolution_backward_weights(pd);
    plan->implementation = std::string("backward weights ") + pd.impl_info_str();
    scratchpadDesc = pd.scratchpad_desc();
  }
  plan->scratchpadBytes = scratchpadDesc.get_size();
  plan->scratchpad = dnnl::memory(scratchpadDesc, engine, DNNL_MEMORY_NONE);
  auto used = [](const Port& p) { return p.reordered ? p.inner : p.user; };
  plan->execArgs = {{plan->argA, used(plan->a)},
                    {plan->argB, used(plan->b)},
                    {plan->argOut, used(plan->out)},
                    {DNNL_ARG_SCRATCHPAD, plan->scratchpad}};
  if (plan->hasBias) plan->execArgs.emplace(DNNL_ARG_BIAS, plan->bias);
  // The activations are a and out, except for the filter gradient where they are a and b.
  const bool converted = plan->a.reordered || (kind == ConvKind::kBackwardWeights ? plan->b.reordered : plan->out.reordered);
  plan->implementation += converted ? " (activations converted to a blocked layout)" : " (NHWC)";
  return plan;
}

std::unique_ptr<ConvPlan> makePlan(ConvKind kind, const Geometry& g, bool hasBias, int activation, float alpha) {
  auto plan = makePlan(kind, g, hasBias, activation, alpha, false);
  return plan != nullptr ? std::move(plan) : makePlan(kind, g, hasBias, activation, alpha, true);
}

ConvPlan& planFor(ConvKind kind, const Geometry& g, bool hasBias, int activation, float alpha) {
  auto& cache = plans();
  std::string key = planKey(kind, g, hasBias, activation, alpha);
  auto found = cache.find(key);
  if (found != cache.end()) return *found->second;
  if (cache.size() >= kMaxPlans) cache.clear();
  auto plan = makePlan(kind, g, hasBias, activation, alpha);
  ConvPlan& ref = *plan;
  cache.emplace(std::move(key), std::move(plan));
  return ref;
}

size_t elements(std::initializer_list<int> extents) {
  size_t total = 1;
  for (int e : extents) total *= static_cast<size_t>(e);
  return total;
}

void checkGeometry(const Napi::Env& env, const Geometry& g, const char* kernel) {
  const int* fields = &g.n;
  for (size_t k = 0; k < kGeometryArgs; k++) {
    const bool padding = k >= 13;
    if (padding ? fields[k] < 0 : fields[k] < 1) fail(env, std::string(kernel) + ": invalid convolution geometry");
  }
}

Napi::Value runConv(const Napi::CallbackInfo& info, ConvKind kind, const char* kernel) {
  const Napi::Env env = info.Env();
  const Heap heap = heapFrom(env, info[0]);
  const Args args(env, info[1], 23, kernel);
  const Geometry g = readGeometry(args, 4);
  checkGeometry(env, g, kernel);
  const bool hasBias = kind == ConvKind::kForward && args.d(3) >= 0;
  const int activation = kind == ConvKind::kForward ? args.n(21) : 0;
  const float alpha = kind == ConvKind::kForward ? args.f(22) : 0.f;
  try {
    const size_t src = elements({g.n, g.inH, g.inW, g.inC});
    const size_t wei = elements({g.filterH, g.filterW, g.inC, g.outC});
    const size_t dst = elements({g.n, g.outH, g.outW, g.outC});
    size_t sizeA = src, sizeB = wei, sizeOut = dst;
    if (kind == ConvKind::kBackwardData) sizeA = dst, sizeB = wei, sizeOut = src;
    if (kind == ConvKind::kBackwardWeights) sizeA = src, sizeB = dst, sizeOut = wei;
    float* a = heap.at<float>(args.d(0), sizeA, kernel);
    float* b = heap.at<float>(args.d(1), sizeB, kernel);
    float* out = heap.at<float>(args.d(2), sizeOut, kernel);
    float* bias = hasBias ? heap.at<float>(args.d(3), g.outC, kernel) : nullptr;

    ConvPlan& plan = planFor(kind, g, hasBias, activation, alpha);
    // Every slot first: a slot that grows moves, so no pointer is taken before all have grown.
    Workspace& ws = workspace();
    if (plan.a.reordered) ws.get(plan.a.slot, plan.a.innerBytes);
    if (plan.b.reordered) ws.get(plan.b.slot, plan.b.innerBytes);
    if (plan.out.reordered) ws.get(plan.out.slot, plan.out.innerBytes);
    ws.get(kSlotScratchpad, plan.scratchpadBytes);
    auto slot = [&](const Port& p) { return p.reordered ? ws.get(p.slot, p.innerBytes) : nullptr; };

    plan.a.bind(a, slot(plan.a));
    plan.b.bind(b, slot(plan.b));
    plan.out.bind(out, slot(plan.out));
    plan.scratchpad.set_data_handle(ws.get(kSlotScratchpad, plan.scratchpadBytes));
    if (plan.hasBias) plan.bias.set_data_handle(bias);
    plan.a.reorderIn();
    plan.b.reorderIn();
    plan.primitive.execute(cpuStream(), plan.execArgs);
    plan.out.reorderOut();
    cpuStream().wait();
  } catch (const dnnl::error& e) {
    fail(env, std::string(kernel) + ": oneDNN: " + e.what());
  } catch (const std::exception& e) {
    fail(env, std::string(kernel) + ": " + e.what());
  }
  return env.Undefined();
}

}  // namespace

Napi::Value conv2d(const Napi::CallbackInfo& info) { return runConv(info, ConvKind::kForward, "Conv2D"); }
Napi::Value conv2dBackpropInput(const Napi::CallbackInfo& info) {
  return runConv(info, ConvKind::kBackwardData, "Conv2DBackpropInput");
}
Napi::Value conv2dBackpropFilter(const Napi::CallbackInfo& info) {
  return runConv(info, ConvKind::kBackwardWeights, "Conv2DBackpropFilter");
}
void releaseConvPlans() { plans().clear(); }
size_t convPlanCount() { return plans().size(); }
std::vector<std::string> convImplementations() {
  std::vector<std::string> out;
  for (const auto& entry : plans()) out.push_back(entry.second->implementation);
  return out;
}

}  // namespace dlexp
