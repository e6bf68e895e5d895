// The activations TF.js fuses into matmuls and convolutions, applied in place over a row of
// `count` values. Codes match the JavaScript side (src/kernels/fused.ts).
#pragma once

#include <cmath>
#include <cstddef>

namespace dlexp {

enum Activation { kLinear = 0, kRelu = 1, kRelu6 = 2, kElu = 3, kLeakyRelu = 4, kSigmoid = 5, kPrelu = 6 };

// `perChannel` (prelu's alphas) has `channels` entries, read as alpha[j % channels].
inline void applyActivation(float* row, size_t count, int activation, float alpha, const float* perChannel, size_t channels) {
  switch (activation) {
    case kRelu:
      for (size_t j = 0; j < count; j++) row[j] = row[j] < 0.f ? 0.f : row[j];
      break;
    case kRelu6:
      for (size_t j = 0; j < count; j++) row[j] = row[j] < 0.f ? 0.f : (row[j] > 6.f ? 6.f : row[j]);
      break;
    case kElu:
      for (size_t j = 0; j < count; j++) row[j] = row[j] < 0.f ? std::expm1(row[j]) : row[j];
      break;
    case kLeakyRelu:
      for (size_t j = 0; j < count; j++) row[j] = row[j] < 0.f ? alpha * row[j] : row[j];
      break;
    case kSigmoid:
      for (size_t j = 0; j < count; j++) row[j] = 1.f / (1.f + std::exp(-row[j]));
      break;
    case kPrelu:
      for (size_t j = 0; j < count; j++) {
        const float a = perChannel[channels == 1 ? 0 : j % channels];
        row[j] = row[j] < 0.f ? a * row[j] : row[j];
      }
      break;
    default:
      break;
  }
}

}  // namespace dlexp
