// The tokenizer a .sparq file carries (metadata "tokenizer", a tokenizer.json object),
// checked against the model it belongs to. Errors name the file and the field.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "formats/error.h"
#include "runtime/text/tokenizer.h"

namespace sparq::runtime {

// `model_vocab`: the rows of the model's embedding table, which every token id must index.
Result<std::shared_ptr<const Tokenizer>> tokenizer_from_metadata(const nlohmann::json& metadata,
                                                                 const std::string& path, uint64_t model_vocab);

}  // namespace sparq::runtime
