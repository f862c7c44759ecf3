// Per-thread scratch for kernels that run once per call on many threads (attention): buffers
// that only grow, so the hot path stops allocating once a model has run its largest shape.
// Compiled at the baseline level: a kernel file built with ISA flags must not instantiate
// AlignedArray's members itself, since the linker could keep that copy for every caller.
#pragma once

#include <cstddef>

namespace sparq::kernels {

// Whose buffer: one per user, so buffers in use at the same time never alias.
enum class ScratchSlot { attention_f32, attention_int8_bytes, attention_int8_floats, count };

// At least `bytes` bytes, 64-byte aligned, for this thread and slot; valid until the same
// thread asks for the slot again. Contents are left from the last use (zero at first).
void* thread_scratch(ScratchSlot slot, size_t bytes);

}  // namespace sparq::kernels
