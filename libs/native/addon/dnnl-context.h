// The oneDNN engine and stream every primitive runs on, and a small helper to move data between
// the layouts TF.js uses (NHWC activations, HWIO filters) and the ones a primitive prefers.
#pragma once

#include <dnnl.hpp>

#include "common.h"

namespace dlexp {

dnnl::engine& cpuEngine();
dnnl::stream& cpuStream();

// One tensor a primitive reads or writes: `user` lies in the wasm heap in TF.js's layout; when
// the primitive wants another layout, `inner` is that layout in a workspace slot and `reorder`
// converts between the two (before the primitive for inputs, after it for outputs).
struct Port {
  dnnl::memory user;
  dnnl::memory inner;
  dnnl::reorder reorder;
  bool reordered = false;
  bool output = false;
  Slot slot = kSlotIn0;
  size_t innerBytes = 0;

  void init(const dnnl::memory::desc& userDesc, const dnnl::memory::desc& wanted, Slot workspaceSlot, bool isOutput);
  // Points the port at its heap data (and its workspace slot).
  void bind(void* heapData, void* slotData);
  void reorderIn();
  void reorderOut();
};

}  // namespace dlexp
