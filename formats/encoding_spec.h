// The textual form of an encoding choice used on command lines and in recipes:
//   f32 | f16 | bf16 | q8[:gN] | q4[:gN][:asym] | csr:VALUES | bsr:VALUES:RxC |
//   bitmap:VALUES[:gN]
// e.g. "q8", "q8:g64", "q4:g32:asym", "csr:q8", "bsr:q8:4x1", "bitmap:q4:g32" (bitmap's group
// defaults to 32). It is the same string that
// TensorDesc::encoding_string() prints.
#pragma once

#include <string>
#include <string_view>

#include "formats/error.h"
#include "formats/tensor_codec.h"

namespace sparq::formats {

Result<EncodeOptions> parse_encode_options(std::string_view spec);
// The inverse: the canonical text of an encoding choice.
std::string encode_options_string(const EncodeOptions& options);

}  // namespace sparq::formats
