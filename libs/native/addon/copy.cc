// Data movement for Slice, SplitV, Unpack and Concat: boxes of a tensor copied in place in the
// heap, a whole kernel's worth in one call. (The wasm backend's Slice first copies the entire
// input out of the heap into JavaScript, and SplitV and Unpack call it once per output: an LSTM
// step spent more time there than in its matrix products.)
//
// copyBoxes(heap, args): 0 number of boxes, 1 bytes per element (1, 2, 4 or 8), then per box 15
// values: source offset, destination offset (heap bytes), rank (1..4), the box's 4 dims, the
// source's 4 strides and the destination's 4 strides (in elements; the unused leading dims 1).
#include "copy.h"

#include <cstring>
#include <string>

#include "common.h"

namespace dlexp {

Napi::Value copyBoxes(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const char* kernel = "copy";
  const Heap heap = heapFrom(env, info[0]);
  const Args header(env, info[1], 2, kernel);
  const int64_t boxes = header.i(0);
  const int64_t bytes = header.i(1);
  if (boxes < 0 || (bytes != 1 && bytes != 2 && bytes != 4 && bytes != 8)) fail(env, "copy: invalid header");
  const Args args(env, info[1], 2 + 15 * static_cast<size_t>(boxes), kernel);
  try {
    for (int64_t box = 0; box < boxes; box++) {
      const size_t at = 2 + 15 * static_cast<size_t>(box);
      int64_t dims[4], src[4], dst[4];
      int64_t srcLast = 0, dstLast = 0, count = 1;
      for (int d = 0; d < 4; d++) {
        dims[d] = args.i(at + 3 + d);
        src[d] = args.i(at + 7 + d);
        dst[d] = args.i(at + 11 + d);
        if (dims[d] < 0 || src[d] < 0 || dst[d] < 0) fail(env, "copy: invalid box");
        count *= dims[d];
        if (dims[d] > 0) {
          srcLast += (dims[d] - 1) * src[d];
          dstLast += (dims[d] - 1) * dst[d];
        }
      }
      if (count == 0) continue;
      uint8_t* from = heap.at<uint8_t>(args.d(at), static_cast<double>((srcLast + 1) * bytes), kernel);
      uint8_t* to = heap.at<uint8_t>(args.d(at + 1), static_cast<double>((dstLast + 1) * bytes), kernel);
      const bool contiguousRows = src[3] == 1 && dst[3] == 1;
      for (int64_t i = 0; i < dims[0]; i++)
        for (int64_t j = 0; j < dims[1]; j++)
          for (int64_t k = 0; k < dims[2]; k++) {
            uint8_t* s = from + (i * src[0] + j * src[1] + k * src[2]) * bytes;
            uint8_t* t = to + (i * dst[0] + j * dst[1] + k * dst[2]) * bytes;
            if (contiguousRows) {
              std::memmove(t, s, static_cast<size_t>(dims[3] * bytes));
            } else {
              for (int64_t l = 0; l < dims[3]; l++) std::memmove(t + l * dst[3] * bytes, s + l * src[3] * bytes, static_cast<size_t>(bytes));
            }
          }
    }
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(env, std::string(kernel) + ": " + e.what());
  }
  return env.Undefined();
}

}  // namespace dlexp
