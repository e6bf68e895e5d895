#pragma once

#include <napi.h>

namespace dlexp {

Napi::Value binary(const Napi::CallbackInfo& info);
Napi::Value unary(const Napi::CallbackInfo& info);
Napi::Value selectWhere(const Napi::CallbackInfo& info);
Napi::Value sumReduce(const Napi::CallbackInfo& info);
Napi::Value adamStep(const Napi::CallbackInfo& info);

}  // namespace dlexp
