// 64-byte aligned, zero-initialised storage for packed weights, panels and scratch. The
// allocation runs 64 bytes past the last element, so a kernel's full-vector load at the tail
// stays inside it.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace sparq::kernels {

template <class T>
class AlignedArray {
 public:
  AlignedArray() = default;
  explicit AlignedArray(size_t count) : size_(count), data_(allocate(count)) {}
  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  size_t size() const { return size_; }
  // Storage for at least `count` elements: reallocated (zeroed, contents dropped) only when
  // smaller, so a per-thread scratch stops allocating once it has seen its largest use.
  T* at_least(size_t count) {
    if (size_ < count) *this = AlignedArray(count);
    return data();
  }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  static T* allocate(size_t count) {
    const size_t bytes = (count * sizeof(T) + 63) / 64 * 64 + 64;
    void* p = std::aligned_alloc(64, bytes);
    std::memset(p, 0, bytes);
    return static_cast<T*>(p);
  }
  size_t size_ = 0;
  std::unique_ptr<T[], Free> data_;
};

}  // namespace sparq::kernels
