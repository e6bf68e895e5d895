// Shared pieces of the addon: reading the wasm heap and the argument block, the thread count, and
// the reusable workspace every kernel draws its scratch memory from.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace dlexp {

// The wasm backend's memory as the kernels see it: the base of its ArrayBuffer and its length.
// Every offset a kernel receives is checked against the length before it is used.
struct Heap {
  uint8_t* base = nullptr;
  size_t bytes = 0;

  template <typename T>
  T* at(double offset, double count, const char* what) const {
    check(offset, count * static_cast<double>(sizeof(T)), what);
    return reinterpret_cast<T*>(base + static_cast<size_t>(offset));
  }

 private:
  void check(double offset, double length, const char* what) const;
};

Heap heapFrom(const Napi::Env& env, const Napi::Value& value);

// The numbers of one call, passed as a Float64Array the JavaScript side fills in place (one
// reused array: no allocation per call). Offsets into the heap can exceed 2^31, hence doubles.
class Args {
 public:
  Args(const Napi::Env& env, const Napi::Value& value, size_t expected, const char* kernel);
  int64_t i(size_t k) const { return static_cast<int64_t>(values_[k]); }
  int n(size_t k) const { return static_cast<int>(values_[k]); }
  double d(size_t k) const { return values_[k]; }
  float f(size_t k) const { return static_cast<float>(values_[k]); }

 private:
  const double* values_;
};

int threadCount();
void setThreadCount(int threads);

// Runs a library call with `threads` OpenMP threads (oneDNN sizes its work by the calling
// thread's setting), putting the configured count back afterwards.
class ThreadScope {
 public:
  explicit ThreadScope(int threads);
  ~ThreadScope();
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  bool changed_;
};

// Scratch buffers reused by every call: one slot per role (a kernel's reordered input, its
// reordered output, the library's scratchpad...). A slot grows to the largest size asked of it
// and is never shrunk, so after the first steps of a training run nothing is allocated.
enum Slot { kSlotIn0 = 0, kSlotIn1, kSlotOut, kSlotScratchpad, kSlotExtra, kSlotCount };

class Workspace {
 public:
  // The slot's buffer, at least `bytes` long and 64-byte aligned. Earlier pointers to the slot
  // stay valid only until the slot grows: take every pointer a call needs before using any.
  void* get(Slot slot, size_t bytes);
  size_t reservedBytes() const;
  void release();
  ~Workspace() { release(); }

 private:
  void* buffers_[kSlotCount] = {};
  size_t sizes_[kSlotCount] = {};
};

Workspace& workspace();

[[noreturn]] void fail(const Napi::Env& env, const std::string& message);

}  // namespace dlexp
