// The stage every importer ends with: named f32 tensors in, a filled SparqWriter and a
// report per tensor out. A compression recipe prunes and re-encodes the matrices it
// selects; linear weights that hold zeros are stored as CSR/BSR where that is smaller.
// Tensors are read one at a time and dropped once written, so memory holds one tensor
// besides those a recipe prunes (a global threshold ranks those together, so they are read
// up front).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "formats/error.h"
#include "formats/sparq_reader.h"
#include "formats/sparq_writer.h"
#include "formats/tensor_codec.h"
#include "runtime/convert/compression_recipe.h"

namespace sparq::runtime {

struct SourceTensor {
  std::string name;  // in the .sparq file
  std::vector<uint64_t> dims;
  // Linear weights may take q4 and a sparse layout; other tensors keep `encoding` as it is.
  bool linear = false;
  // The encoding unless a recipe rule names one; for a linear weight, the dense encoding a
  // sparse layout has to beat.
  formats::EncodeOptions encoding;
  // The values as row-major f32; called at most once.
  std::function<Result<std::vector<float>>()> read;
  // A tensor that is already stored (re-encoding a .sparq file) is copied byte for byte
  // unless the recipe selects it: decoding and encoding again could change it.
  const formats::TensorView* stored = nullptr;
  // A tensor whose source is already in a sparq encoding (GGUF blocks transcoded exactly,
  // formats/gguf_transcode.h) is written as `encoded` returns it unless the recipe selects
  // it; then `read` gives its values. Encoding the decoded values again would requantize.
  std::function<Result<formats::EncodedTensor>()> encoded;
  // Prefixed to encoding errors, e.g. "model.safetensors: tensor 'layers.0.ffn.up.weight'".
  std::string origin;
};

struct TensorReport {
  std::string name;
  std::string encoding;  // as stored, e.g. "q8", "csr:q8", "bsr:q8:4x4+zstd"
  bool sparse_layout = false;  // csr, bsr or bitmap
  double sparsity = 0;   // zeros among the values encoded (not measured, 0, for a copied tensor)
  uint64_t bytes = 0;    // in the file
  uint64_t elements = 0;
};

struct EncodeAndWriteOptions {
  const CompressionRecipe* recipe = nullptr;
  bool keep_sparse = true;  // linear weights holding zeros may become CSR/BSR
  // With keep_sparse, also bitmap rows (formats/SPEC.md §5) for q8 weights in groups of a
  // multiple of 32 and symmetric q4: decoders, whose decode reads every weight once per token
  // through GEMV, where bitmap's 1 bit per column beats csr's 16-bit index. Encoders run
  // large-m GEMM, for which the csr/bsr kernels are made.
  bool bitmap_rows = false;
  bool compress = false;    // zstd per tensor, kept where it saves space
  // Called after each tensor is written (index from 0, of `total`), e.g. for a progress line.
  std::function<void(const TensorReport&, size_t index, size_t total)> on_tensor;
};

struct WrittenTensors {
  std::vector<TensorReport> tensors;         // in the order written
  std::vector<CompressedTensor> compressed;  // what the recipe did, one per tensor it selected
  uint64_t parameters = 0;                   // elements over all tensors
};

// Writes `tensors` in order; the caller then adds the metadata (SparqWriter::finish).
Result<WrittenTensors> encode_and_write(std::span<const SourceTensor> tensors, const EncodeAndWriteOptions& options,
                                        formats::SparqWriter& writer);

}  // namespace sparq::runtime
