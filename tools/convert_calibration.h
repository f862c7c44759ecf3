// `sparq convert --calibration FILE.txt`: the calibration run activation-aware pruning and
// quantization (Wanda, SparseGPT, GPTQ) need, on the dense model before it is compressed.
#pragma once

#include <cstddef>
#include <string>

#include "formats/error.h"
#include "runtime/convert/compression_recipe.h"

namespace sparq::tools {

// Tokenizes `text_file` with the tokenizer `dense_model` carries, keeps the first
// `max_tokens` tokens (0: all) and runs the decoder over them, collecting each linear
// layer's input-column norms and, with `grams`, its XᵀX. The provenance names the file, its
// SHA-256 and the tokens.
Result<runtime::RecipeCalibration> calibrate(const std::string& dense_model, const std::string& text_file,
                                             size_t max_tokens, bool grams);

}  // namespace sparq::tools
