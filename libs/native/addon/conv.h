#pragma once

#include <napi.h>

#include <string>
#include <vector>

namespace dlexp {

// Each takes (heap: Uint8Array, args: Float64Array); the layouts of `args` are documented in conv.cc.
Napi::Value conv2d(const Napi::CallbackInfo& info);
Napi::Value conv2dBackpropInput(const Napi::CallbackInfo& info);
Napi::Value conv2dBackpropFilter(const Napi::CallbackInfo& info);
void releaseConvPlans();
size_t convPlanCount();
// What each cached plan runs, for reports: "forward brgconv:avx512_core (NHWC)".
std::vector<std::string> convImplementations();

}  // namespace dlexp
