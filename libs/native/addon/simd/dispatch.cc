#include "loops.h"

namespace dlexp {
namespace isa_avx512 {
extern const Loops kLoops;
}
namespace isa_avx2 {
extern const Loops kLoops;
}
namespace isa_baseline {
extern const Loops kLoops;
}

const Loops& loops() {
  static const Loops* chosen = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl")) {
      return &isa_avx512::kLoops;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &isa_avx2::kLoops;
    return &isa_baseline::kLoops;
  }();
  return *chosen;
}

}  // namespace dlexp
