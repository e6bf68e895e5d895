#pragma once

#include <napi.h>

namespace dlexp {

Napi::Value matMul(const Napi::CallbackInfo& info);
void releaseMatMulPlans();

}  // namespace dlexp
