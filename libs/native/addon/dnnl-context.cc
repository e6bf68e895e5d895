#include "dnnl-context.h"

namespace dlexp {

dnnl::engine& cpuEngine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& cpuStream() {
  static dnnl::stream stream(cpuEngine());
  return stream;
}

void Port::init(const dnnl::memory::desc& userDesc, const dnnl::memory::desc& wanted, Slot workspaceSlot, bool isOutput) {
  output = isOutput;
  slot = workspaceSlot;
  user = dnnl::memory(userDesc, cpuEngine(), DNNL_MEMORY_NONE);
  reordered = wanted != userDesc;
  if (reordered) {
    inner = dnnl::memory(wanted, cpuEngine(), DNNL_MEMORY_NONE);
    innerBytes = wanted.get_size();
    reorder = isOutput ? dnnl::reorder(inner, user) : dnnl::reorder(user, inner);
  }
}

void Port::bind(void* heapData, void* slotData) {
  user.set_data_handle(heapData);
  if (reordered) inner.set_data_handle(slotData);
}

void Port::reorderIn() {
  if (reordered && !output) reorder.execute(cpuStream(), user, inner);
}

void Port::reorderOut() {
  if (reordered && output) reorder.execute(cpuStream(), inner, user);
}

}  // namespace dlexp
