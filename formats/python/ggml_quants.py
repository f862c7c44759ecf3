"""ggml's tensor types in numpy: the type ids and block sizes of ggml.h / ggml-common.h, the
f16 and bf16 conversions, and quantizers that write the same bytes as ggml's reference
quantizers (quantize_row_q8_0_ref, quantize_row_q4_0_ref in ggml-quants.c), vectorised over
all blocks of a tensor so a 1.1 B-parameter model quantizes in seconds, not hours.

Written from the block layouts and the arithmetic of those C functions, not from their code:
one f32 rounding per operation, multiplication by the f32 reciprocal of the scale (not a
division), C's roundf (half away from zero, not numpy's half to even) for Q8_0 and a
truncating cast after adding 8.5 for Q4_0. Shared by the GGUF fixture generator
(tests/formats/fixtures/gguf) and the model exporter (models/train/gguf_export.py).
"""

import numpy as np

# ggml tensor type ids (ggml.h, enum ggml_type) and (values per block, bytes per block).
GGML = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 8, "Q4_K": 12, "Q5_K": 13, "Q6_K": 14, "IQ2_XXS": 16,
        "I32": 26, "BF16": 30}
BLOCK = {"F32": (1, 4), "F16": (1, 2), "BF16": (1, 2), "Q8_0": (32, 34), "Q4_0": (32, 18), "Q4_K": (256, 144),
         "Q5_K": (256, 176), "Q6_K": (256, 210), "Q4_1": (32, 20), "IQ2_XXS": (256, 66), "I32": (1, 4)}


def tensor_bytes(tname, n_values):
    """How many bytes n_values take in type tname (n_values a whole number of blocks)."""
    per_block, size = BLOCK[tname]
    if n_values % per_block:
        raise ValueError(f"{n_values} values are not a whole number of {tname} blocks of {per_block}")
    return n_values // per_block * size


def f32(x):
    return np.asarray(x, dtype=np.float32)


def f32_to_f16_bits(x):
    """Round to nearest even, as F16C's vcvtps2ph and ggml's GGML_FP32_TO_FP16 do."""
    return np.asarray(x, dtype=np.float32).astype(np.float16).view(np.uint16)


def f16_bits_to_f32(h):
    """IEEE half bits -> float32, exactly; NaNs come out quiet with their payload (as x86
    F16C and AArch64 FCVT convert them, which is what ggml's GGML_FP16_TO_FP32 does)."""
    h = h.astype(np.uint32)
    sign = (h & 0x8000) << 16
    exp = (h >> 10) & 0x1F
    mant = h & 0x3FF
    normal = sign | ((exp + 112) << 23) | (mant << 13)
    special = sign | 0x7F800000 | np.where(mant != 0, 0x400000 | (mant << 13), 0)
    out = np.where(exp == 0x1F, special, normal).astype(np.uint32).view(np.float32).copy()
    sub = exp == 0  # zero and subnormals: mant * 2^-24, exact in f32
    magnitude = mant.astype(np.float32) * np.float32(2.0 ** -24)
    out[sub] = np.where(sign[sub] != 0, -magnitude[sub], magnitude[sub])
    return out


def bf16_bits_to_f32(h):
    return (h.astype(np.uint32) << 16).view(np.float32)


def reciprocal_or_zero(d):
    """ggml's `id = d ? 1.0f/d : 0.0f`, per block."""
    out = np.zeros_like(d)
    nonzero = d != 0
    out[nonzero] = np.float32(1.0) / d[nonzero]
    return out


def round_half_away(x):
    """C's roundf on float32: ties go away from zero (np.round would send them to even)."""
    whole = np.trunc(x)
    return whole + np.where(np.abs(x - whole) >= np.float32(0.5), np.sign(x), np.float32(0)).astype(np.float32)


def quantize_q8_0(x):
    """Blocks of 32: f16 d = max|x| / 127, then 32 int8 roundf(x / d) (as x * (1/d))."""
    b = f32(x).reshape(-1, 32)
    d = np.abs(b).max(axis=1) / np.float32(127)
    q = round_half_away(b * reciprocal_or_zero(d)[:, None]).astype(np.int8)
    out = np.empty((b.shape[0], 34), np.uint8)
    out[:, 0:2] = f32_to_f16_bits(d).astype("<u2").view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()


def quantize_q4_0(x):
    """Blocks of 32: f16 d = (the value of largest magnitude, the first if tied) / -8, then
    nibbles min(15, trunc(x / d + 8.5)): values 0-15 in the low nibbles of 16 bytes, 16-31 in
    the high ones."""
    b = f32(x).reshape(-1, 32)
    peak = b[np.arange(b.shape[0]), np.argmax(np.abs(b), axis=1)]
    d = peak / np.float32(-8)
    scaled = b * reciprocal_or_zero(d)[:, None] + np.float32(8.5)
    q = np.minimum(np.trunc(scaled), 15).astype(np.uint8)
    out = np.empty((b.shape[0], 18), np.uint8)
    out[:, 0:2] = f32_to_f16_bits(d).astype("<u2").view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q[:, :16] | (q[:, 16:] << 4)
    return out.tobytes()


def quantize(tname, x):
    """The bytes of x (flattened, row-major) in ggml type tname."""
    x = f32(x).ravel()
    if tname == "F32":
        return x.astype("<f4").tobytes()
    if tname == "F16":
        return f32_to_f16_bits(x).astype("<u2").tobytes()
    if tname == "BF16":  # round to nearest even on the upper 16 bits (finite inputs)
        bits = x.view(np.uint32)
        return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2").tobytes()
    if tname == "Q8_0":
        return quantize_q8_0(x)
    if tname == "Q4_0":
        return quantize_q4_0(x)
    raise ValueError(f"no quantizer for ggml type {tname}")
