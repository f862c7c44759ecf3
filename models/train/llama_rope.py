"""RoPE conventions between checkpoints.

HF Llama rotates the two halves of each head (dimension i with i + head_dim/2); Meta's
original checkpoints, llama2.c and llama.cpp's "NORM" RoPE rotate adjacent pairs (2i, 2i+1).
HF's converter turned Meta's q/k weights into its layout by permuting each head's output rows;
`hf_to_interleaved` undoes that permutation (as llama.cpp's convert_hf_to_gguf.py and
llama2.c's export.py do), so the same attention scores come out under the pairwise rotation.

llama3's RoPE scaling divides each rotation frequency by a factor that depends on its
wavelength; llama.cpp takes those factors from a `rope_freqs.weight` tensor (one per pair).
"""

import math

import numpy as np


def hf_to_interleaved(w, heads):
    """Rows of a q or k projection ([heads*head_dim, ...], HF order) in the pairwise order:
    within each head, row r of the first half goes to 2r and row r of the second to 2r+1."""
    rows = w.shape[0]
    return w.reshape(heads, 2, rows // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def inverse_frequencies(head_dim, theta):
    return 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)


def llama3_frequency_divisors(head_dim, theta, scaling):
    """Per rotation pair, what llama3 scaling divides the frequency by: `factor` for long
    wavelengths, 1 for short ones, a smooth blend between (HF's _compute_llama3_parameters)."""
    factor = scaling.get("factor", 8.0)
    low = scaling.get("low_freq_factor", 1.0)
    high = scaling.get("high_freq_factor", 4.0)
    old_context = scaling.get("original_max_position_embeddings", 8192)
    divisors = []
    for freq in inverse_frequencies(head_dim, theta):
        wavelen = 2 * math.pi / freq
        if wavelen < old_context / high:
            divisors.append(1.0)
        elif wavelen > old_context / low:
            divisors.append(factor)
        else:
            smooth = (old_context / wavelen - low) / (high - low)
            divisors.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.array(divisors, dtype=np.float32)


def rope_scaling_type(scaling):
    return scaling.get("rope_type") or scaling.get("type") or "none"
