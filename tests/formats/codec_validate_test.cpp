// validate_payload (SPEC.md 6.5) on corrupted encoder output: each broken invariant is
// reported naming the check and the row; and random byte flips never crash it (or the
// decoder behind it), which ASan/UBSan builds turn into an out-of-bounds check.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "formats/tensor_codec.h"
#include "tests/formats/codec_test_util.h"

namespace sparq::formats {
namespace {

using testing::random_matrix;
using testing::read_uint;
using testing::write_f32;
using testing::write_uint;

struct Encoded {
  EncodedTensor t;
  TensorLayout layout;
};

Encoded encode(std::vector<uint64_t> dims, const std::vector<float>& w, EncodeOptions o) {
  Result<EncodedTensor> t = encode_tensor("t", std::move(dims), w, o);
  EXPECT_TRUE(t.ok()) << t.error().message();
  Result<TensorLayout> l = compute_layout(t->desc);
  EXPECT_TRUE(l.ok());
  return {std::move(*t), *l};
}

// A 6x10 matrix whose row 2 is empty and row 4 holds columns 1, 5, 8.
std::vector<float> sparse_6x10() {
  std::vector<float> w = random_matrix(60, 0.6, 3);
  for (int c = 0; c < 10; ++c) {
    w[2 * 10 + c] = 0;
    w[4 * 10 + c] = (c == 1 || c == 5 || c == 8) ? 1.5f + c : 0.0f;
  }
  w[0] = 1;  // row 0 non-empty, so row_ptr[1] > 0
  return w;
}

std::string validation_error(const Encoded& e, std::span<const uint8_t> payload) {
  Status s = validate_payload(e.t.desc, e.layout, payload);
  if (s.ok()) return "accepted";
  // decode_tensor must refuse the same payload rather than follow it.
  EXPECT_FALSE(decode_tensor(e.t.desc, payload).ok());
  return s.error().message();
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(CodecValidate, CsrIndexCorruptionIsReportedWithItsRow) {
  const Encoded e = encode({6, 10}, sparse_6x10(), {Encoding::csr, Encoding::q8});
  ASSERT_EQ(validation_error(e, e.t.payload), "accepted");
  const uint64_t ptr = e.layout.row_ptr.offset, idx = e.layout.col_idx.offset;
  const uint64_t row4 = read_uint(e.t.payload, ptr + 4 * 4, 4);
  std::vector<uint8_t> p;

  p = e.t.payload;
  write_uint(p, ptr, 4, 1);
  EXPECT_EQ(validation_error(e, p), "csr row_ptr[0] is 1, not 0");

  p = e.t.payload;
  write_uint(p, ptr + 4 * 2, 4, 0);  // row_ptr[2] below row_ptr[1]
  EXPECT_TRUE(contains(validation_error(e, p), "csr row_ptr decreases at row 1"));

  p = e.t.payload;
  write_uint(p, ptr + 4 * 3, 4, 0xffffff00u);  // far past nnz: must not be followed
  EXPECT_TRUE(contains(validation_error(e, p), "csr row_ptr past count")) << validation_error(e, p);
  EXPECT_TRUE(contains(validation_error(e, p), "at row 2"));

  p = e.t.payload;
  write_uint(p, ptr + 4 * 6, 4, e.t.desc.count - 1);
  EXPECT_TRUE(contains(validation_error(e, p), "csr row_ptr ends at"));

  p = e.t.payload;  // row 4 is columns 1, 5, 8: make it 5, 1, 8
  write_uint(p, idx + 2 * row4, 2, 5);
  write_uint(p, idx + 2 * (row4 + 1), 2, 1);
  EXPECT_EQ(validation_error(e, p), "csr col_idx not increasing in row 4");

  p = e.t.payload;  // duplicate: 1, 1, 8
  write_uint(p, idx + 2 * (row4 + 1), 2, 1);
  EXPECT_EQ(validation_error(e, p), "csr col_idx not increasing in row 4");

  p = e.t.payload;
  write_uint(p, idx + 2 * (row4 + 2), 2, 10);
  EXPECT_EQ(validation_error(e, p), "csr col_idx out of range in row 4 (10 >= 10)");

  p = e.t.payload;
  write_f32(p, e.layout.scales.offset + 4 * 3, std::nanf(""));
  EXPECT_EQ(validation_error(e, p), "csr scale of row 3 is not finite");
}

TEST(CodecValidate, NonFiniteScalesAndMinsAreReported) {
  const std::vector<float> w = random_matrix(4 * 70, 0.0, 5);
  Encoded q8 = encode({4, 70}, w, {Encoding::q8, Encoding::f32, 32});
  write_f32(q8.t.payload, q8.layout.scales.offset + 4 * (2 * 3 + 1), std::nanf(""));
  EXPECT_EQ(validation_error(q8, q8.t.payload), "q8 scale of row 2 group 1 is not finite");

  Encoded q4 = encode({4, 70}, w, {Encoding::q4, Encoding::f32, 64, true});
  write_f32(q4.t.payload, q4.layout.mins.offset + 4 * (3 * 2), INFINITY);
  EXPECT_EQ(validation_error(q4, q4.t.payload), "q4 min of row 3 group 0 is not finite");

  Encoded bsr = encode({4, 70}, w, {Encoding::bsr, Encoding::q8, 0, false, 4, 1});
  write_f32(bsr.t.payload, bsr.layout.scales.offset + 4 * 1, -INFINITY);
  EXPECT_EQ(validation_error(bsr, bsr.t.payload), "bsr scale of row 1 is not finite");
}

TEST(CodecValidate, BsrEdgeBlockPaddingAndIndexAreChecked) {
  // 10x7 in 4x4 blocks: the last block row covers rows 8..11, the last block column 4..7.
  const std::vector<float> w = random_matrix(70, 0.0, 9);
  for (Encoding v : {Encoding::f32, Encoding::q8}) {
    const Encoded e = encode({10, 7}, w, {Encoding::bsr, v, 0, false, 4, 4});
    ASSERT_EQ(e.t.desc.count, 6u);
    ASSERT_EQ(validation_error(e, e.t.payload), "accepted");
    const uint64_t width = v == Encoding::q8 ? 1 : 4;
    std::vector<uint8_t> p = e.t.payload;
    // Block 5 is (block row 2, block col 1); element (3, 3) is matrix (11, 7): padding.
    p[e.layout.values.offset + (5 * 16 + 3 * 4 + 3) * width] = 1;
    EXPECT_EQ(validation_error(e, p),
              "bsr edge block padding not zero in block row 2 (block col 1)");

    p = e.t.payload;  // Block 1 is (block row 0, block col 1); element (0, 3) is column 7.
    p[e.layout.values.offset + (1 * 16 + 3) * width] = 0x80;
    EXPECT_EQ(validation_error(e, p),
              "bsr edge block padding not zero in block row 0 (block col 1)");

    p = e.t.payload;
    write_uint(p, e.layout.col_idx.offset + 2 * 3, 2, 2);
    EXPECT_EQ(validation_error(e, p), "bsr block_col_idx out of range in block row 1 (2 >= 2)");

    p = e.t.payload;
    write_uint(p, e.layout.row_ptr.offset + 4, 4, 7);
    EXPECT_TRUE(contains(validation_error(e, p), "bsr block_row_ptr past count 6 at block row 0"));
  }
}

TEST(CodecValidate, PayloadSizeAndLayoutMustMatchTheDescriptor) {
  const Encoded e = encode({6, 10}, sparse_6x10(), {Encoding::csr});
  std::vector<uint8_t> longer = e.t.payload;
  longer.push_back(0);
  EXPECT_TRUE(contains(validation_error(e, longer), "payload is"));
  TensorLayout shifted = e.layout;
  shifted.values.offset += 64;
  EXPECT_FALSE(validate_payload(e.t.desc, shifted, e.t.payload).ok());
}

// Dense 2-byte payloads are exactly rows·cols·2 bytes: one byte short or long is refused,
// and so are descriptor parameters the encodings do not have.
TEST(CodecValidate, F16AndBf16PayloadsMustBeTwoBytesPerValue) {
  for (Encoding enc : {Encoding::f16, Encoding::bf16}) {
    const Encoded e = encode({3, 7}, random_matrix(21, 0.0, 8), {enc});
    EXPECT_EQ(e.t.payload.size(), 42u);
    EXPECT_TRUE(validate_payload(e.t.desc, e.layout, e.t.payload).ok());
    std::vector<uint8_t> longer = e.t.payload, shorter = e.t.payload;
    longer.push_back(0);
    shorter.pop_back();
    EXPECT_TRUE(contains(validation_error(e, longer), "payload is")) << encoding_name(enc);
    EXPECT_TRUE(contains(validation_error(e, shorter), "payload is")) << encoding_name(enc);
    TensorDesc grouped = e.t.desc;
    grouped.group_size = 32;
    EXPECT_FALSE(compute_layout(grouped).ok()) << encoding_name(enc);
    TensorDesc asym = e.t.desc;
    asym.asymmetric = true;
    EXPECT_FALSE(compute_layout(asym).ok()) << encoding_name(enc);
  }
}

// Flips random bytes of valid payloads (mostly in the index sections, where a wrong value
// could send a reader out of bounds). validate may accept or reject; when it accepts,
// decoding must work and touch only the payload.
TEST(CodecValidate, RandomByteFlipsNeverCrash) {
  std::vector<Encoded> valid;
  valid.push_back(encode({6, 10}, sparse_6x10(), {Encoding::csr, Encoding::q4}));
  valid.push_back(encode({6, 10}, sparse_6x10(), {Encoding::csr, Encoding::f16}));
  valid.push_back(
      encode({13, 9}, random_matrix(117, 0.8, 4), {Encoding::bsr, Encoding::q8, 0, false, 4, 4}));
  valid.push_back(
      encode({13, 9}, random_matrix(117, 0.8, 5), {Encoding::bsr, Encoding::f32, 0, false, 8, 1}));
  valid.push_back(
      encode({3, 40}, random_matrix(120, 0.0, 6), {Encoding::q4, Encoding::f32, 32, true}));
  valid.push_back(encode({3, 40}, random_matrix(120, 0.0, 7), {Encoding::q8, Encoding::f32, 16}));
  std::mt19937 rng(2024);
  int rejected = 0, accepted = 0;
  for (const Encoded& e : valid) {
    const uint64_t index_end = e.layout.col_idx.offset + e.layout.col_idx.size;
    for (int round = 0; round < 400; ++round) {
      std::vector<uint8_t> p = e.t.payload;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) {
        const uint64_t limit = (index_end > 0 && rng() % 4 != 0) ? index_end : p.size();
        p[rng() % limit] ^= static_cast<uint8_t>(1 + rng() % 255);
      }
      if (validate_payload(e.t.desc, e.layout, p).ok()) {
        ++accepted;
        Result<std::vector<float>> d = decode_tensor(e.t.desc, p);
        ASSERT_TRUE(d.ok());
        ASSERT_EQ(d->size(), e.t.desc.elements());
      } else {
        ++rejected;
      }
    }
  }
  // Both outcomes occur, so the loop exercises the checks and the decoder.
  EXPECT_GT(rejected, 0);
  EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace sparq::formats
