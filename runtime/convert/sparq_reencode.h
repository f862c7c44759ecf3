// Re-encoding of an existing .sparq model (`sparq convert --from sparq IN.sparq`): the
// tensors a compression recipe selects are decoded to f32, pruned and encoded again; every
// other tensor is copied byte for byte. The metadata is carried over, with the new
// "compression" record and a provenance entry for this step. Without a recipe every tensor
// is copied: a step that only changes metadata (a classifier's calibration temperature).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "formats/error.h"
#include "formats/tensor_codec.h"
#include "runtime/convert/compression_recipe.h"

namespace sparq::runtime {

struct ReencodeOptions {
  const CompressionRecipe* recipe = nullptr;  // nullptr: no tensor re-encoded (then `temperature` is required)
  // Encoding of the selected tensors whose rule names none; absent: the tensor's own value
  // encoding (q8 stays q8, bsr:q8:4x4 becomes q8 before the sparse layout is chosen again).
  std::optional<formats::EncodeOptions> weights;
  bool compress = false;
  // A classifier's calibration temperature to store (classifier_calibration.h); absent: the
  // source's is kept.
  std::optional<double> temperature;
  std::string command_line;  // recorded in the provenance
};

struct ReencodeSummary {
  std::vector<CompressedTensor> compressed;
  uint64_t tensors = 0, source_bytes = 0, file_bytes = 0;
};

Result<ReencodeSummary> reencode_sparq(const std::string& in_path, const ReencodeOptions& options,
                                       const std::string& out_path);

}  // namespace sparq::runtime
