#pragma once

#include <napi.h>

namespace dlexp {

Napi::Value fused(const Napi::CallbackInfo& info);

}  // namespace dlexp
