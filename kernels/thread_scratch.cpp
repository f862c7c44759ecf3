#include "kernels/thread_scratch.h"

#include <cstdint>

#include "kernels/aligned_array.h"

namespace sparq::kernels {

void* thread_scratch(ScratchSlot slot, size_t bytes) {
  thread_local AlignedArray<uint8_t> buffers[static_cast<size_t>(ScratchSlot::count)];
  return buffers[static_cast<size_t>(slot)].at_least(bytes);
}

}  // namespace sparq::kernels
