// The addon's entry point: what it was built with, the thread count, the kernels, and releasing
// the memory it keeps between calls.
#include <dnnl.h>
#include <napi.h>
#include <omp.h>

#include <algorithm>
#include <ctime>
#include <string>
#include <vector>

#include "common.h"
#include "conv.h"
#include "copy.h"
#include "elementwise.h"
#include "fusion.h"
#include "lstm.h"
#include "matmul.h"
#include "pool.h"
#include "simd/loops.h"

namespace dlexp {
namespace {

std::string isaName(dnnl_cpu_isa_t isa) {
  switch (isa) {
    case dnnl_cpu_isa_sse41:
      return "sse41";
    case dnnl_cpu_isa_avx:
      return "avx";
    case dnnl_cpu_isa_avx2:
      return "avx2";
    case dnnl_cpu_isa_avx2_vnni:
      return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core:
      return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "other (" + std::to_string(static_cast<int>(isa)) + ")";
  }
}

Napi::Value info(const Napi::CallbackInfo& call) {
  const Napi::Env env = call.Env();
  Napi::Object out = Napi::Object::New(env);
  const dnnl_version_t* v = dnnl_version();
  out.Set("onednn", std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
  out.Set("isa", isaName(dnnl_get_effective_cpu_isa()));
  out.Set("loops", loops().isa);
  out.Set("openmp", std::to_string(_OPENMP));
  out.Set("processors", omp_get_num_procs());
  out.Set("threads", threadCount());
  return out;
}

Napi::Value setThreads(const Napi::CallbackInfo& call) {
  const Napi::Env env = call.Env();
  if (call.Length() < 1 || !call[0].IsNumber()) fail(env, "setThreads needs a number");
  const int threads = call[0].As<Napi::Number>().Int32Value();
  if (threads < 1 || threads > 1024) fail(env, "setThreads: the thread count must be 1 to 1024, got " + std::to_string(threads));
  setThreadCount(threads);
  return env.Undefined();
}

// The peak multiply-add rate of the cores, measured: GFLOP/s per thread, each thread timed by
// the processor time it got (so another process on a shared machine does not lower it).
Napi::Value measurePeak(const Napi::CallbackInfo& call) {
  const Napi::Env env = call.Env();
  const int threads = call.Length() > 0 && call[0].IsNumber() ? call[0].As<Napi::Number>().Int32Value() : 1;
  const int64_t iterations = 20000000;
  std::vector<double> rates(static_cast<size_t>(std::max(1, threads)), 0.0);
  float sink = 0;
#pragma omp parallel num_threads(std::max(1, threads)) reduction(+ : sink)
  {
    timespec start{}, end{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
    sink += loops().fmaLoop(iterations);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end);
    const double seconds = static_cast<double>(end.tv_sec - start.tv_sec) + 1e-9 * static_cast<double>(end.tv_nsec - start.tv_nsec);
    rates[static_cast<size_t>(omp_get_thread_num())] = 2.0 * 12.0 * loops().fmaLanes * static_cast<double>(iterations) / seconds / 1e9;
  }
  Napi::Array out = Napi::Array::New(env);
  for (size_t i = 0; i < rates.size(); i++) out.Set(static_cast<uint32_t>(i), rates[i]);
  // Depend on the result so the loops are not optimised away.
  if (sink == 12345.f) out.Set("sink", sink);
  return out;
}

Napi::Value memoryStats(const Napi::CallbackInfo& call) {
  const Napi::Env env = call.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("workspaceBytes", static_cast<double>(workspace().reservedBytes()));
  out.Set("convolutionPlans", static_cast<double>(convPlanCount()));
  Napi::Array implementations = Napi::Array::New(env);
  uint32_t i = 0;
  for (const auto& name : convImplementations()) implementations.Set(i++, name);
  out.Set("convolutionImplementations", implementations);
  return out;
}

Napi::Value release(const Napi::CallbackInfo& call) {
  releaseConvPlans();
  releaseMatMulPlans();
  workspace().release();
  return call.Env().Undefined();
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
  setThreadCount(1);
  exports.Set("info", Napi::Function::New(env, info, "info"));
  exports.Set("setThreads", Napi::Function::New(env, setThreads, "setThreads"));
  exports.Set("memoryStats", Napi::Function::New(env, memoryStats, "memoryStats"));
  exports.Set("measurePeak", Napi::Function::New(env, measurePeak, "measurePeak"));
  exports.Set("release", Napi::Function::New(env, release, "release"));
  exports.Set("conv2d", Napi::Function::New(env, conv2d, "conv2d"));
  exports.Set("conv2dBackpropInput", Napi::Function::New(env, conv2dBackpropInput, "conv2dBackpropInput"));
  exports.Set("conv2dBackpropFilter", Napi::Function::New(env, conv2dBackpropFilter, "conv2dBackpropFilter"));
  exports.Set("matMul", Napi::Function::New(env, matMul, "matMul"));
  exports.Set("maxPool", Napi::Function::New(env, maxPool, "maxPool"));
  exports.Set("avgPool", Napi::Function::New(env, avgPool, "avgPool"));
  exports.Set("maxPoolGrad", Napi::Function::New(env, maxPoolGrad, "maxPoolGrad"));
  exports.Set("avgPoolGrad", Napi::Function::New(env, avgPoolGrad, "avgPoolGrad"));
  exports.Set("binary", Napi::Function::New(env, binary, "binary"));
  exports.Set("unary", Napi::Function::New(env, unary, "unary"));
  exports.Set("select", Napi::Function::New(env, selectWhere, "select"));
  exports.Set("sum", Napi::Function::New(env, sumReduce, "sum"));
  exports.Set("fused", Napi::Function::New(env, fused, "fused"));
  exports.Set("copyBoxes", Napi::Function::New(env, copyBoxes, "copyBoxes"));
  exports.Set("adam", Napi::Function::New(env, adamStep, "adam"));
  exports.Set("lstmForward", Napi::Function::New(env, lstmForward, "lstmForward"));
  exports.Set("lstmBackward", Napi::Function::New(env, lstmBackward, "lstmBackward"));
  return exports;
}

}  // namespace
}  // namespace dlexp

static Napi::Object initAddon(Napi::Env env, Napi::Object exports) { return dlexp::init(env, exports); }

NODE_API_MODULE(dlexp_native, initAddon)
