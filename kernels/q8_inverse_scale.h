// The multiplier of the q8 rule (q = round-to-nearest-even(x · 127 / max|x|), scale max|x| / 127)
// that every quantizer of activations and of the KV cache shares, at every ISA level.
#pragma once

namespace sparq::kernels {

// Below this largest magnitude a vector quantizes to all zeros: 127 / max|x| would overflow to
// infinity (127 / FLT_MAX is about 3.7e-37) and 0 · inf is NaN. No real activation is this small.
inline constexpr float kQ8SmallestMax = 1e-36f;

// 127 / amax, or 0 for a vector that quantizes to zeros (amax 0, below kQ8SmallestMax, or NaN).
constexpr float q8_inverse_scale(float amax) { return amax >= kQ8SmallestMax ? 127.0f / amax : 0.0f; }

}  // namespace sparq::kernels
