// The textual form of encoding choices: every canonical spelling parses and prints back
// unchanged, shorthand forms print canonically, and malformed ones are refused.
#include <gtest/gtest.h>

#include "formats/encoding_spec.h"

namespace sparq::formats {
namespace {

TEST(EncodingSpec, CanonicalSpellingsRoundTrip) {
  for (const char* spec : {"f32", "f16", "bf16", "q8", "q8:g64", "q4:g32", "q4:g128:asym", "csr:f32", "csr:q8",
                           "csr:q4", "bsr:q8:4x4", "bsr:f32:16x1", "bsr:q8:1x8"}) {
    Result<EncodeOptions> parsed = parse_encode_options(spec);
    ASSERT_TRUE(parsed.ok()) << spec << ": " << parsed.error().message();
    EXPECT_EQ(encode_options_string(*parsed), spec);
  }
}

TEST(EncodingSpec, RefusesMalformedSpellings) {
  for (const char* spec : {"", "q7", "q4:g0", "bsr:q8", "bsr:q8:0x4", "csr", "f32:g32", "q4:asym:g32:x"}) {
    EXPECT_FALSE(parse_encode_options(spec).ok()) << spec;
  }
}

}  // namespace
}  // namespace sparq::formats
