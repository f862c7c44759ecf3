// An elementwise function of X that a matmul applies to its activations on the way in:
// y = f(X)·Wᵀ + b. The operators run f on a few rows at a time, just before they quantize or
// pack them, so f(X) lives in cache and never goes to memory. For an encoder's FFN (f = GELU
// on the M x 4H intermediate, 25 MB for BERT-base at 2,048 tokens) that saves the full write
// and re-read of the largest activation that a separate GELU pass costs.
#pragma once

#include <cstddef>

namespace sparq::kernels {

// f over n floats, single-threaded; y may equal x. The TransformerOpsConfig activations
// (gelu_erf, gelu_tanh, silu) have this type. Null means the identity.
using InputTransform = void (*)(size_t n, const float* x, float* y);

// x itself when f is null; otherwise f(x[0, n)) in this thread's scratch, which stays valid
// until the same thread calls this again.
const float* transformed_input(InputTransform f, const float* x, size_t n);

// The same for a whole m x k matrix that every thread reads (kernels that do not pack X):
// computed on the kernel threads into the calling thread's scratch, valid until its next
// call.
const float* transformed_matrix(InputTransform f, const float* x, size_t m, size_t k);

}  // namespace sparq::kernels
