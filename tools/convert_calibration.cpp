#include "tools/convert_calibration.h"

#include <fmt/core.h>

#include "formats/input_file.h"
#include "formats/sha256_file.h"
#include "formats/utf8.h"
#include "runtime/jobs/calibration_statistics.h"
#include "runtime/jobs/model_tokenizer.h"
#include "runtime/model/decoder_model.h"

namespace sparq::tools {

Result<runtime::RecipeCalibration> calibrate(const std::string& dense_model, const std::string& text_file,
                                             size_t max_tokens, bool grams) {
  constexpr size_t kMaxTextBytes = size_t{256} << 20;
  auto text = formats::read_regular_file(text_file, kMaxTextBytes);
  if (!text) return text.error().within("--calibration");
  if (size_t bad = formats::find_invalid_utf8(*text); bad != std::string::npos) {
    return Error(fmt::format("--calibration {}: invalid UTF-8 at byte {}", text_file, bad), ErrorKind::invalid_input);
  }
  auto sha256 = formats::sha256_file(text_file);
  if (!sha256) return sha256.error().within("--calibration");
  auto model = runtime::DecoderModel::load(dense_model);
  if (!model) {
    return Error(fmt::format("--calibration runs the model as a decoder: {}", model.error().message()),
                 ErrorKind::invalid_input);
  }
  auto tokenizer = runtime::tokenizer_from_metadata((*model)->metadata(), dense_model, (*model)->config().vocab_size);
  if (!tokenizer) return tokenizer.error();
  auto encoded = (*tokenizer)->encode(*text, 0);
  if (!encoded) return encoded.error().within(text_file);
  std::vector<int32_t> ids = std::move(encoded->ids);
  if (max_tokens > 0 && ids.size() > max_tokens) ids.resize(max_tokens);
  if (ids.size() < 2) {
    return Error(fmt::format("--calibration {}: {} token(s); a calibration run needs text", text_file, ids.size()),
                 ErrorKind::invalid_input);
  }
  auto norms = runtime::linear_input_statistics(**model, ids, {.grams = grams});
  if (!norms) return norms.error();
  runtime::RecipeCalibration c;
  c.provenance = {{"file", text_file},         {"sha256", *sha256},          {"tokens", norms->tokens},
                  {"windows", norms->windows}, {"context", norms->context}};
  c.input_norms = std::move(norms->input_norms);
  c.input_grams = std::move(norms->input_grams);
  return c;
}

}  // namespace sparq::tools
