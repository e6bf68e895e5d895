#include "common.h"

#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <mutex>
#include <thread>

extern "C" void openblas_set_num_threads(int threads);

namespace dlexp {

void fail(const Napi::Env& env, const std::string& message) { throw Napi::Error::New(env, message); }

void Heap::check(double offset, double length, const char* what) const {
  if (!(offset >= 0) || std::floor(offset) != offset || !(length >= 0) || offset + length > static_cast<double>(bytes)) {
    // Not a Napi error here: the caller has no env; the kernel entry points translate.
    throw std::out_of_range(std::string(what) + ": offset " + std::to_string(static_cast<int64_t>(offset)) + " + " +
                            std::to_string(static_cast<int64_t>(length)) + " bytes lies outside the " +
                            std::to_string(bytes) + "-byte heap");
  }
}

Heap heapFrom(const Napi::Env& env, const Napi::Value& value) {
  // A typed array over the heap (HEAPU8): napi_get_typedarray_info hands back the data pointer
  // whether the memory is an ArrayBuffer or, in the threaded wasm build, a SharedArrayBuffer.
  bool isTypedArray = false;
  napi_is_typedarray(env, value, &isTypedArray);
  Heap heap;
  if (isTypedArray) {
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    napi_value buffer;
    size_t byteOffset = 0;
    if (napi_get_typedarray_info(env, value, &type, &length, &data, &buffer, &byteOffset) != napi_ok) {
      fail(env, "could not read the heap view");
    }
    if (type != napi_uint8_array) fail(env, "the heap must be passed as a Uint8Array (HEAPU8)");
    heap.base = static_cast<uint8_t*>(data);
    heap.bytes = length;
    return heap;
  }
  bool isArrayBuffer = false;
  napi_is_arraybuffer(env, value, &isArrayBuffer);
  if (!isArrayBuffer) fail(env, "the heap must be a Uint8Array or an ArrayBuffer");
  void* data = nullptr;
  size_t length = 0;
  if (napi_get_arraybuffer_info(env, value, &data, &length) != napi_ok) fail(env, "could not read the heap buffer");
  heap.base = static_cast<uint8_t*>(data);
  heap.bytes = length;
  return heap;
}

Args::Args(const Napi::Env& env, const Napi::Value& value, size_t expected, const char* kernel) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    fail(env, std::string(kernel) + ": arguments must come as a Float64Array");
  }
  auto array = value.As<Napi::Float64Array>();
  if (array.ElementLength() < expected) {
    fail(env, std::string(kernel) + ": expected " + std::to_string(expected) + " arguments, got " +
                  std::to_string(array.ElementLength()));
  }
  values_ = array.Data();
}

namespace {
int g_threads = 1;
}

int threadCount() { return g_threads; }

void setThreadCount(int threads) {
  g_threads = threads < 1 ? 1 : threads;
  omp_set_num_threads(g_threads);
  openblas_set_num_threads(g_threads);
}

ThreadScope::ThreadScope(int threads) : changed_(threads != g_threads) {
  if (changed_) omp_set_num_threads(threads);
}

ThreadScope::~ThreadScope() {
  if (changed_) omp_set_num_threads(g_threads);
}

void* Workspace::get(Slot slot, size_t bytes) {
  if (bytes == 0) bytes = 64;
  if (sizes_[slot] < bytes) {
    std::free(buffers_[slot]);
    // Round up so that slightly larger requests later do not each reallocate.
    size_t rounded = (bytes + (bytes >> 3) + 4095) & ~static_cast<size_t>(4095);
    void* p = nullptr;
    if (posix_memalign(&p, 64, rounded) != 0) {
      buffers_[slot] = nullptr;
      sizes_[slot] = 0;
      throw std::bad_alloc();
    }
    buffers_[slot] = p;
    sizes_[slot] = rounded;
  }
  return buffers_[slot];
}

size_t Workspace::reservedBytes() const {
  size_t total = 0;
  for (size_t s : sizes_) total += s;
  return total;
}

void Workspace::release() {
  for (int s = 0; s < kSlotCount; s++) {
    std::free(buffers_[s]);
    buffers_[s] = nullptr;
    sizes_[s] = 0;
  }
}

Workspace& workspace() {
  static Workspace instance;
  return instance;
}

}  // namespace dlexp
