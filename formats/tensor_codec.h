// Reference encoders (f32 -> each encoding) and decoders (each encoding -> f32), and the
// structural validation of a payload. Plain scalar code: the definition of each encoding
// that the kernels' packing routines are tested against.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "formats/error.h"
#include "formats/tensor_desc.h"

namespace sparq::formats {

// What to encode a dense f32 matrix as. For csr/bsr/bitmap the zeros of the input are the
// sparsity pattern (csr and bitmap keep every non-zero; bsr every block with a non-zero).
struct EncodeOptions {
  Encoding encoding = Encoding::f32;
  Encoding value_encoding = Encoding::f32;  // csr: f32/f16/q8/q4; bsr: f32/q8; bitmap: q8/q4
  uint32_t group_size = 0;
  bool asymmetric = false;
  uint16_t block_rows = 0, block_cols = 0;
};

struct EncodedTensor {
  TensorDesc desc;
  std::vector<uint8_t> payload;  // exactly compute_layout(desc).total_size bytes
};

// The descriptor of a tensor encoded with `options`, before its values are seen (count 0).
TensorDesc describe_encoding(std::string name, std::vector<uint64_t> dims, const EncodeOptions& options);

// Encodes `values` (row-major, desc dims) as `options` says.
Result<EncodedTensor> encode_tensor(std::string name, std::vector<uint64_t> dims,
                                    std::span<const float> values, const EncodeOptions& options);

// Decodes a payload (raw, i.e. decompressed) to dense row-major f32.
Result<std::vector<float>> decode_tensor(const TensorDesc& desc, std::span<const uint8_t> payload);

// Structural checks of SPEC.md section 6.5 (row pointers, column indices, zero padding of
// edge blocks, finite scales). The payload must already be layout-sized.
Status validate_payload(const TensorDesc& desc, const TensorLayout& layout,
                        std::span<const uint8_t> payload);

// Stored (non-zero or pattern) entries of a tensor: nnz for csr and bitmap, nblocks·block area for
// bsr, elements for dense encodings.
uint64_t stored_entries(const TensorDesc& desc);

}  // namespace sparq::formats
