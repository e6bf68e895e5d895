#pragma once

#include <napi.h>

namespace dlexp {

Napi::Value maxPool(const Napi::CallbackInfo& info);
Napi::Value avgPool(const Napi::CallbackInfo& info);
Napi::Value maxPoolGrad(const Napi::CallbackInfo& info);
Napi::Value avgPoolGrad(const Napi::CallbackInfo& info);

}  // namespace dlexp
