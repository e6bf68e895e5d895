#pragma once

#include <napi.h>

namespace dlexp {

Napi::Value copyBoxes(const Napi::CallbackInfo& info);

}  // namespace dlexp
