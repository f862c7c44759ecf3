// The bitmap encoding (SPEC.md 5): it decodes to exactly what dense q8/q4 with the same group
// decodes the same pruned matrix to (the independent reference: the dense codecs), its
// masks and value order follow the spec, and validate_payload names every broken invariant.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>
#include <string>

#include "formats/encoding_spec.h"
#include "formats/tensor_codec.h"
#include "tests/formats/codec_test_util.h"

namespace sparq::formats {
namespace {

using testing::random_matrix;
using testing::read_uint;
using testing::write_f32;
using testing::write_uint;

EncodedTensor encode_ok(std::vector<uint64_t> dims, const std::vector<float>& w,
                        const EncodeOptions& o) {
  Result<EncodedTensor> t = encode_tensor("t", std::move(dims), w, o);
  EXPECT_TRUE(t.ok()) << t.error().message();
  return std::move(*t);
}

std::vector<float> decode_ok(const EncodedTensor& t) {
  Result<std::vector<float>> d = decode_tensor(t.desc, t.payload);
  EXPECT_TRUE(d.ok()) << d.error().message();
  return d.ok() ? *d : std::vector<float>{};
}

EncodeOptions bitmap(Encoding values, uint32_t group) {
  EncodeOptions o;
  o.encoding = Encoding::bitmap;
  o.value_encoding = values;
  o.group_size = group;
  return o;
}

TEST(CodecBitmap, DecodesExactlyAsTheDenseEncodingOfThePrunedMatrix) {
  struct Case {
    uint64_t rows, cols;
  };
  for (const Case shape : {Case{5, 70}, Case{3, 33}, Case{7, 64}, Case{1, 1}, Case{4, 200}}) {
    for (const double sparsity : {0.0, 0.5, 0.7, 1.0}) {
      for (const Encoding values : {Encoding::q8, Encoding::q4}) {
        for (const uint32_t group : {32u, 64u, 128u}) {
          SCOPED_TRACE(::testing::Message() << shape.rows << "x" << shape.cols << " s" << sparsity
                                            << " " << encoding_name(values) << " g" << group);
          const std::vector<float> w = random_matrix(shape.rows * shape.cols, sparsity,
                                                     static_cast<uint32_t>(shape.cols + group));
          const EncodedTensor b = encode_ok({shape.rows, shape.cols}, w, bitmap(values, group));
          EncodeOptions dense;
          dense.encoding = values;
          dense.group_size = group;
          const std::vector<float> expected = decode_ok(encode_ok({shape.rows, shape.cols}, w, dense));
          const std::vector<float> got = decode_ok(b);
          ASSERT_EQ(got.size(), w.size());
          uint64_t nnz = 0;
          for (size_t i = 0; i < w.size(); ++i) {
            nnz += w[i] != 0.0f;
            // Dense quantization maps a zero to 0 too, so the two agree everywhere.
            ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(expected[i])) << i;
          }
          EXPECT_EQ(b.desc.count, nnz);
          EXPECT_EQ(stored_entries(b.desc), nnz);
          Result<TensorLayout> l = compute_layout(b.desc);
          ASSERT_TRUE(l.ok());
          EXPECT_EQ(l->masks.size, shape.rows * ((shape.cols + 31) / 32) * 4);
          EXPECT_EQ(l->scales.size, shape.rows * ((shape.cols + group - 1) / group) * 4);
          EXPECT_EQ(l->values.size, values == Encoding::q4 ? (nnz + 1) / 2 : nnz);
          EXPECT_EQ(l->total_size, l->values.offset + l->values.size);
        }
      }
    }
  }
}

TEST(CodecBitmap, MasksAndValueOrderFollowTheSpec) {
  // Row 0 stores columns 0, 3 and 33; row 1 column 39 only.
  std::vector<float> w(2 * 40, 0.0f);
  w[0] = 7.0f, w[3] = -7.0f, w[33] = 3.0f, w[40 + 39] = 1.0f;
  for (const Encoding values : {Encoding::q8, Encoding::q4}) {
    const EncodedTensor t = encode_ok({2, 40}, w, bitmap(values, 32));
    const TensorLayout l = *compute_layout(t.desc);
    const std::span<const uint8_t> p = t.payload;
    EXPECT_EQ(l.words_per_row, 2u);
    EXPECT_EQ(read_uint(p, l.masks.offset + 0, 4), 0b1001u);
    EXPECT_EQ(read_uint(p, l.masks.offset + 4, 4), 0b10u);
    EXPECT_EQ(read_uint(p, l.masks.offset + 8, 4), 0u);
    EXPECT_EQ(read_uint(p, l.masks.offset + 12, 4), 1u << 7);
    EXPECT_EQ(read_uint(p, l.row_ptr.offset + 4, 4), 3u);
    EXPECT_EQ(read_uint(p, l.row_ptr.offset + 8, 4), 4u);
    const uint64_t v = l.values.offset;
    if (values == Encoding::q8) {
      // Scales max|w|/127 per group: 7/127 for columns 0..31, 3/127 and 1/127 for the others.
      EXPECT_EQ(static_cast<int8_t>(p[v]), 127);
      EXPECT_EQ(static_cast<int8_t>(p[v + 1]), -127);
      EXPECT_EQ(static_cast<int8_t>(p[v + 2]), 127);
      EXPECT_EQ(static_cast<int8_t>(p[v + 3]), 127);
    } else {
      // Offset-8 nibbles 15, 1, 15, 15: entry k in the low nibble of byte k/2 when k is even.
      EXPECT_EQ(p[v], 0x1f);
      EXPECT_EQ(p[v + 1], 0xff);
    }
  }
}

TEST(CodecBitmap, EncodingTextRoundTrips) {
  for (const char* text : {"bitmap:q8:g32", "bitmap:q8:g64", "bitmap:q4:g128"}) {
    Result<EncodeOptions> o = parse_encode_options(text);
    ASSERT_TRUE(o.ok()) << text;
    EXPECT_EQ(encode_options_string(*o), text);
  }
  Result<EncodeOptions> d = parse_encode_options("bitmap:q4");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->group_size, 32u);
  for (const char* bad : {"bitmap", "bitmap:f32", "bitmap:csr", "bitmap:q8:x"}) {
    Result<EncodeOptions> o = parse_encode_options(bad);
    if (o.ok()) {  // syntactically fine, refused when laid out
      EXPECT_FALSE(compute_layout(describe_encoding("t", {2, 64}, *o)).ok()) << bad;
    }
  }
  EXPECT_FALSE(parse_encode_options("bitmap").ok());
  for (const char* bad_group : {"bitmap:q8:g48", "bitmap:q4:g256"}) {
    Result<TensorLayout> l = compute_layout(describe_encoding("t", {2, 64}, *parse_encode_options(bad_group)));
    ASSERT_FALSE(l.ok()) << bad_group;
    EXPECT_NE(l.error().message().find("group_size"), std::string::npos) << l.error().message();
  }
}

struct Corruptible {
  EncodedTensor t;
  TensorLayout l;
  std::string error(std::span<const uint8_t> p) const {
    Status s = validate_payload(t.desc, l, p);
    if (s.ok()) return "accepted";
    EXPECT_FALSE(decode_tensor(t.desc, p).ok());
    return s.error().message();
  }
};

Corruptible corruptible(Encoding values, uint64_t nnz_parity) {
  // 4x40: row 1 empty, row 2 stores columns 2, 5 and 36, the rest random.
  std::vector<float> w = random_matrix(4 * 40, 0.5, 11);
  for (int c = 0; c < 40; ++c) {
    w[40 + c] = 0.0f;
    w[80 + c] = (c == 2 || c == 5 || c == 36) ? 1.0f + c : 0.0f;
  }
  uint64_t nnz = 0;
  for (float v : w) nnz += v != 0.0f;
  if (nnz % 2 != nnz_parity) w[3 * 40 + 39] = w[3 * 40 + 39] == 0.0f ? 2.5f : 0.0f;
  Corruptible c{encode_ok({4, 40}, w, bitmap(values, 32)), {}};
  c.l = *compute_layout(c.t.desc);
  return c;
}

TEST(CodecBitmap, EveryBrokenInvariantIsReported) {
  const Corruptible c = corruptible(Encoding::q8, 0);
  ASSERT_EQ(c.error(c.t.payload), "accepted");
  const uint64_t ptr = c.l.row_ptr.offset, masks = c.l.masks.offset;
  std::vector<uint8_t> p;

  p = c.t.payload;
  write_uint(p, ptr, 4, 1);
  EXPECT_EQ(c.error(p), "bitmap row_ptr[0] is 1, not 0");

  p = c.t.payload;  // a fourth column in row 2's first word: the mask marks 4, row_ptr spans 3
  write_uint(p, masks + 4 * 4, 4, read_uint(p, masks + 4 * 4, 4) | 1u << 9);
  EXPECT_EQ(c.error(p), "bitmap row_ptr of row 2 spans 3 values, its mask marks 4");

  p = c.t.payload;  // row_ptr[2] below row_ptr[1]
  write_uint(p, ptr + 4 * 2, 4, 0);
  EXPECT_NE(c.error(p).find("bitmap row_ptr of row 1 spans -"), std::string::npos) << c.error(p);

  p = c.t.payload;  // far past nnz: compared, never followed
  write_uint(p, ptr + 4 * 3, 4, 0xffffff00u);
  EXPECT_NE(c.error(p).find("bitmap row_ptr of row 2 spans"), std::string::npos) << c.error(p);

  p = c.t.payload;  // column 40 of a 40-column row: bit 8 of the second word
  write_uint(p, masks + 4 * 2 + 4, 4, read_uint(p, masks + 4 * 2 + 4, 4) | 1u << 8);
  EXPECT_EQ(c.error(p), "bitmap mask of row 1 marks columns past 40");

  p = c.t.payload;
  write_f32(p, c.l.scales.offset + 4 * 5, std::nanf(""));
  EXPECT_EQ(c.error(p), "bitmap scale of row 2 group 1 is not finite");

  // A count one short of the masks' bits (its layout recomputed, so only the count is wrong).
  Corruptible short_count = c;
  short_count.t.desc.count -= 1;
  short_count.l = *compute_layout(short_count.t.desc);
  p = c.t.payload;
  p.resize(short_count.l.total_size);
  EXPECT_NE(short_count.error(p).find("not count"), std::string::npos) << short_count.error(p);

  const Corruptible q4 = corruptible(Encoding::q4, 1);
  ASSERT_EQ(q4.t.desc.count % 2, 1u);
  ASSERT_EQ(q4.error(q4.t.payload), "accepted");
  p = q4.t.payload;
  p[q4.l.values.offset + q4.t.desc.count / 2] |= 0x30;
  EXPECT_EQ(q4.error(p), "bitmap q4 unused high nibble of the last value byte is not 0");
}

TEST(CodecBitmap, RandomByteFlipsNeverCrash) {
  std::mt19937 rng(77);
  int rejected = 0, accepted = 0;
  for (const Encoding values : {Encoding::q8, Encoding::q4}) {
    const Corruptible c = corruptible(values, 1);
    const uint64_t index_end = c.l.masks.offset + c.l.masks.size;
    for (int round = 0; round < 500; ++round) {
      std::vector<uint8_t> p = c.t.payload;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) {
        const uint64_t limit = rng() % 4 != 0 ? index_end : p.size();
        p[rng() % limit] ^= static_cast<uint8_t>(1 + rng() % 255);
      }
      if (validate_payload(c.t.desc, c.l, p).ok()) {
        ++accepted;
        Result<std::vector<float>> d = decode_tensor(c.t.desc, p);
        ASSERT_TRUE(d.ok());
        ASSERT_EQ(d->size(), c.t.desc.elements());
      } else {
        ++rejected;
      }
    }
  }
  EXPECT_GT(rejected, 0);
  EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace sparq::formats
