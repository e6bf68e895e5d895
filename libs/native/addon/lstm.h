#pragma once

#include <napi.h>

namespace dlexp {

Napi::Value lstmForward(const Napi::CallbackInfo& info);
Napi::Value lstmBackward(const Napi::CallbackInfo& info);

}  // namespace dlexp
