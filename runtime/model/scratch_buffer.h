// Grow-only, 64-byte aligned float storage for a forward pass's activations: a forward
// allocates only when it has more tokens than any before it.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

namespace sparq::runtime {

class ScratchBuffer {
 public:
  float* reserve(size_t n) {
    if (n > capacity_) {
      void* p = std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
      if (!p) throw std::bad_alloc();
      data_.reset(static_cast<float*>(p));
      capacity_ = n;
    }
    return data_.get();
  }
  float* data() const { return data_.get(); }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  size_t capacity_ = 0;
};

}  // namespace sparq::runtime
