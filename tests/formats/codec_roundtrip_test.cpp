// decode(encode(x)) for every encoding and option over random data and edge shapes,
// checked against the error bounds SPEC.md section 5 states (computed here from the input
// alone), plus the payload invariants: layout-sized, 64-aligned sections, accepted by
// validate_payload, and for csr/bsr exactly the input's sparsity pattern, read back from
// the payload bytes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "formats/float16.h"
#include "formats/tensor_codec.h"
#include "tests/formats/codec_test_util.h"

namespace sparq::formats {
namespace {

using testing::random_matrix;
using testing::read_uint;

struct Case {
  std::string label;
  std::vector<uint64_t> dims;
  EncodeOptions options;
  double sparsity = 0.0;
};

EncodeOptions opts(Encoding e, Encoding value = Encoding::f32, uint32_t group = 0,
                   bool asym = false, uint16_t br = 0, uint16_t bc = 0) {
  return {e, value, group, asym, br, bc};
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  const std::vector<std::vector<uint64_t>> shapes = {{24, 200}, {1, 77},    {65, 1}, {1, 1},
                                                     {37},      {2, 3, 17}, {5, 33}};
  auto add = [&](const std::string& label, EncodeOptions o, double sparsity = 0.0) {
    for (const auto& dims : shapes) cases.push_back({label, dims, o, sparsity});
  };
  add("f32", opts(Encoding::f32));
  add("f16", opts(Encoding::f16));
  add("bf16", opts(Encoding::bf16));
  add("q8", opts(Encoding::q8));
  for (uint32_t g : {1u, 32u, 64u, 100u})
    add("q8:g" + std::to_string(g), opts(Encoding::q8, Encoding::f32, g));
  for (uint32_t g : {32u, 64u, 128u})
    for (bool asym : {false, true})
      add("q4:g" + std::to_string(g) + (asym ? ":asym" : ""),
          opts(Encoding::q4, Encoding::f32, g, asym));
  for (Encoding v : {Encoding::f32, Encoding::f16, Encoding::q8, Encoding::q4})
    for (double s : {0.0, 0.7, 0.97, 1.0})
      add(std::string("csr:") + std::string(encoding_name(v)), opts(Encoding::csr, v), s);
  const std::vector<std::pair<uint16_t, uint16_t>> blocks = {
      {1, 4}, {4, 1}, {8, 1}, {16, 1}, {4, 4}};
  for (Encoding v : {Encoding::f32, Encoding::q8})
    for (auto [br, bc] : blocks)
      for (double s : {0.0, 0.9, 0.99, 1.0})
        add("bsr:" + std::string(encoding_name(v)), opts(Encoding::bsr, v, 0, false, br, bc), s);
  // Index widths switch to u32 past 65536 columns (csr) / block columns (bsr).
  cases.push_back({"csr:f32 wide", {2, 65537}, opts(Encoding::csr), 0.999});
  cases.push_back(
      {"bsr:f32 wide", {1, 65537}, opts(Encoding::bsr, Encoding::f32, 0, false, 1, 1), 0.999});
  return cases;
}

float max_abs(std::span<const float> w) {
  float m = 0;
  for (float v : w) m = std::max(m, std::fabs(v));
  return m;
}

// Slack for the f32 arithmetic in w / scale and scale * q: a few ulps of the group's
// magnitude, plus an absolute term for scales that underflow into subnormals.
double rounding_slack(double magnitude) { return magnitude * 0x1p-21 + 1e-37; }

double half_tolerance(Encoding e, float w) {
  if (e == Encoding::f16) return std::max(std::fabs(w) * 0x1p-11, 0x1p-25);
  return std::fabs(w) * 0x1p-8 + 1e-40;  // bf16 keeps f32's exponent range
}

// |w - decoded| <= tolerance, per element, from the bounds SPEC.md states.
std::vector<double> tolerances(const TensorDesc& d, std::span<const float> w) {
  const uint64_t rows = d.rows(), cols = d.cols();
  std::vector<double> tol(w.size(), 0.0);
  auto symmetric_groups = [&](uint64_t g, float qmax) {
    for (uint64_t r = 0; r < rows; ++r)
      for (uint64_t begin = 0; begin < cols; begin += g) {
        const uint64_t end = std::min(begin + g, cols);
        const float m = max_abs(w.subspan(r * cols + begin, end - begin));
        for (uint64_t c = begin; c < end; ++c) tol[r * cols + c] = m / qmax / 2 + rounding_slack(m);
      }
  };
  const Encoding values =
      d.encoding == Encoding::csr || d.encoding == Encoding::bsr ? d.value_encoding : d.encoding;
  switch (values) {
    case Encoding::f32: break;
    case Encoding::f16:
    case Encoding::bf16:
      for (size_t i = 0; i < w.size(); ++i) tol[i] = half_tolerance(values, w[i]);
      break;
    case Encoding::q8:
      symmetric_groups(d.encoding == Encoding::q8 && d.group_size ? d.group_size : cols, 127.0f);
      break;
    case Encoding::q4:
      if (d.encoding == Encoding::csr || !d.asymmetric) {
        symmetric_groups(d.encoding == Encoding::q4 ? d.group_size : cols, 7.0f);
        break;
      }
      for (uint64_t r = 0; r < rows; ++r)
        for (uint64_t begin = 0; begin < cols; begin += d.group_size) {
          const uint64_t end = std::min<uint64_t>(begin + d.group_size, cols);
          const auto [lo, hi] =
              std::minmax_element(w.begin() + r * cols + begin, w.begin() + r * cols + end);
          const double scale = (static_cast<double>(*hi) - *lo) / 15;
          for (uint64_t c = begin; c < end; ++c)
            tol[r * cols + c] =
                scale / 2 + rounding_slack(std::max(std::fabs(*lo), std::fabs(*hi)));
        }
      break;
    default: ADD_FAILURE() << "no bound for " << d.encoding_string();
  }
  return tol;
}

// The stored pattern, read from the payload bytes: (outer row, inner column) pairs.
std::vector<std::pair<uint64_t, uint64_t>> stored_pattern(const TensorDesc& d,
                                                          const TensorLayout& l,
                                                          std::span<const uint8_t> p,
                                                          uint64_t outer, uint64_t inner) {
  const unsigned ptr_width = d.count < (uint64_t{1} << 32) ? 4 : 8;
  const unsigned idx_width = inner <= 65536 ? 2 : 4;
  EXPECT_EQ(l.row_ptr_width, ptr_width);
  EXPECT_EQ(l.col_idx_width, idx_width);
  EXPECT_EQ(l.row_ptr.size, (outer + 1) * ptr_width);
  EXPECT_EQ(l.col_idx.size, d.count * idx_width);
  std::vector<std::pair<uint64_t, uint64_t>> pattern;
  for (uint64_t r = 0; r < outer; ++r) {
    const uint64_t begin = read_uint(p, l.row_ptr.offset + r * ptr_width, ptr_width);
    const uint64_t end = read_uint(p, l.row_ptr.offset + (r + 1) * ptr_width, ptr_width);
    for (uint64_t k = begin; k < end && k < d.count; ++k)
      pattern.emplace_back(r, read_uint(p, l.col_idx.offset + k * idx_width, idx_width));
  }
  return pattern;
}

std::vector<std::pair<uint64_t, uint64_t>> expected_pattern(const TensorDesc& d,
                                                            std::span<const float> w) {
  const uint64_t rows = d.rows(), cols = d.cols();
  const uint64_t bh = d.encoding == Encoding::bsr ? d.block_rows : 1;
  const uint64_t bw = d.encoding == Encoding::bsr ? d.block_cols : 1;
  std::vector<std::pair<uint64_t, uint64_t>> pattern;
  for (uint64_t br = 0; br * bh < rows; ++br)
    for (uint64_t bc = 0; bc * bw < cols; ++bc) {
      bool any = false;
      for (uint64_t r = br * bh; r < std::min(rows, (br + 1) * bh); ++r)
        for (uint64_t c = bc * bw; c < std::min(cols, (bc + 1) * bw); ++c)
          any |= w[r * cols + c] != 0;
      if (any) pattern.emplace_back(br, bc);
    }
  return pattern;
}

void check_sections(const TensorLayout& l) {
  for (const Section* s : {&l.values, &l.scales, &l.mins, &l.row_ptr, &l.col_idx}) {
    EXPECT_EQ(s->offset % 64, 0u);
    EXPECT_LE(s->offset + s->size, l.total_size);
  }
}

TEST(CodecRoundTrip, EveryEncodingWithinItsStatedBound) {
  uint32_t seed = 1;
  for (const Case& c : all_cases()) {
    uint64_t n = 1;
    for (uint64_t d : c.dims) n *= d;
    const std::vector<float> w = random_matrix(n, c.sparsity, seed++);
    Result<EncodedTensor> t = encode_tensor("t", c.dims, w, c.options);
    ASSERT_TRUE(t.ok()) << c.label << ": " << t.error().message();
    const TensorDesc& d = t->desc;
    SCOPED_TRACE(c.label + " " + d.shape_string() + " sparsity " + std::to_string(c.sparsity));
    EXPECT_EQ(d.encoding_string().rfind(c.label.substr(0, c.label.find(' ')), 0), 0u)
        << d.encoding_string();
    Result<TensorLayout> l = compute_layout(d);
    ASSERT_TRUE(l.ok()) << l.error().message();
    EXPECT_EQ(t->payload.size(), l->total_size);
    check_sections(*l);
    Status valid = validate_payload(d, *l, t->payload);
    ASSERT_TRUE(valid.ok()) << valid.error().message();

    Result<std::vector<float>> decoded = decode_tensor(d, t->payload);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message();
    ASSERT_EQ(decoded->size(), n);
    const std::vector<double> tol = tolerances(d, w);
    for (uint64_t i = 0; i < n; ++i)
      ASSERT_LE(std::fabs(static_cast<double>(w[i]) - (*decoded)[i]), tol[i])
          << "element " << i << " w=" << w[i] << " decoded=" << (*decoded)[i];

    if (d.encoding == Encoding::csr || d.encoding == Encoding::bsr) {
      const bool bsr = d.encoding == Encoding::bsr;
      const uint64_t outer = bsr ? (d.rows() + d.block_rows - 1) / d.block_rows : d.rows();
      const uint64_t inner = bsr ? (d.cols() + d.block_cols - 1) / d.block_cols : d.cols();
      EXPECT_EQ(stored_pattern(d, *l, t->payload, outer, inner), expected_pattern(d, w));
      EXPECT_EQ(stored_entries(d), d.count * (bsr ? uint64_t{d.block_rows} * d.block_cols : 1));
      for (uint64_t i = 0; i < n; ++i) {
        if (w[i] == 0) {
          ASSERT_EQ((*decoded)[i], 0.0f) << "element " << i;
        }
      }
    } else {
      EXPECT_EQ(stored_entries(d), n);
    }
  }
}

// The 2-byte encodings hold their own values exactly: every finite f16 / bf16 bit pattern,
// widened to f32 (formats/float16.h), is stored as that very pattern and decodes to the
// same f32 bits; this is what lets GGUF F16/BF16 and HF F16/BF16 checkpoints stay exact.
TEST(CodecRoundTrip, F16AndBf16StoreEveryFiniteValueAsItsOwnBits) {
  for (Encoding e : {Encoding::f16, Encoding::bf16}) {
    std::vector<uint16_t> bits;
    std::vector<float> values;
    for (uint32_t h = 0; h < 0x10000; ++h) {
      const float v = e == Encoding::f16 ? f16_to_f32(uint16_t(h)) : bf16_to_f32(uint16_t(h));
      if (!std::isfinite(v)) continue;
      bits.push_back(uint16_t(h));
      values.push_back(v);
    }
    Result<EncodedTensor> t = encode_tensor("t", {values.size()}, values, opts(e));
    ASSERT_TRUE(t.ok()) << t.error().message();
    ASSERT_EQ(t->payload.size(), 2 * bits.size());
    EXPECT_EQ(0, std::memcmp(t->payload.data(), bits.data(), t->payload.size())) << encoding_name(e);
    Result<std::vector<float>> back = decode_tensor(t->desc, t->payload);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(0, std::memcmp(back->data(), values.data(), values.size() * sizeof(float))) << encoding_name(e);
  }
}

TEST(CodecRoundTrip, Q4OddColumnsLeaveTheUnusedHighNibbleZero) {
  const std::vector<float> w = random_matrix(5 * 33, 0.0, 7);
  for (bool asym : {false, true}) {
    Result<EncodedTensor> t =
        encode_tensor("t", {5, 33}, w, opts(Encoding::q4, Encoding::f32, 32, asym));
    ASSERT_TRUE(t.ok());
    Result<TensorLayout> l = compute_layout(t->desc);
    ASSERT_TRUE(l.ok());
    for (uint64_t r = 0; r < 5; ++r) EXPECT_EQ(t->payload[l->values.offset + r * 17 + 16] >> 4, 0);
  }
}

// The nibble order of SPEC.md: column c in the low nibble of byte c/2 when c is even.
TEST(CodecRoundTrip, Q4NibbleOrderFollowsTheSpec) {
  const std::vector<float> w = {-7, 7, 0, 1};  // scale = 7/7 = 1, q = w + 8
  Result<EncodedTensor> t = encode_tensor("t", {1, 4}, w, opts(Encoding::q4, Encoding::f32, 32));
  ASSERT_TRUE(t.ok());
  Result<TensorLayout> l = compute_layout(t->desc);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(testing::read_f32(t->payload, l->scales.offset), 1.0f);
  EXPECT_EQ(t->payload[l->values.offset], 0x01 | 0xf0);
  EXPECT_EQ(t->payload[l->values.offset + 1], 0x08 | 0x90);
}

TEST(CodecRoundTrip, AllZeroGroupsHaveZeroScale) {
  const std::vector<float> w(2 * 40, 0.0f);
  for (EncodeOptions o :
       {opts(Encoding::q8, Encoding::f32, 32), opts(Encoding::q4, Encoding::f32, 32, true)}) {
    Result<EncodedTensor> t = encode_tensor("t", {2, 40}, w, o);
    ASSERT_TRUE(t.ok());
    Result<TensorLayout> l = compute_layout(t->desc);
    ASSERT_TRUE(l.ok());
    for (uint64_t i = 0; i < 4; ++i)
      EXPECT_EQ(testing::read_f32(t->payload, l->scales.offset + 4 * i), 0.0f);
    Result<std::vector<float>> back = decode_tensor(t->desc, t->payload);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, w);
  }
}

TEST(CodecRoundTrip, EncodeRejectsBadInput) {
  const std::vector<float> six(6, 1.0f);
  auto message = [](const Result<EncodedTensor>& r) {
    return r.ok() ? std::string("accepted") : r.error().message();
  };
  EXPECT_NE(message(encode_tensor("t", {2, 4}, six, {})).find("6 values"), std::string::npos);
  std::vector<float> nan = six;
  nan[5] = std::nanf("");
  EXPECT_EQ(message(encode_tensor("t", {2, 3}, nan, {})), "value 5 is not finite");
  std::vector<float> inf = six;
  inf[2] = -INFINITY;
  EXPECT_EQ(message(encode_tensor("t", {2, 3}, inf, opts(Encoding::q8))), "value 2 is not finite");
  std::vector<float> big = six;
  big[4] = 1e6f;
  EXPECT_NE(message(encode_tensor("t", {2, 3}, big, opts(Encoding::f16))).find("value 4"),
            std::string::npos);
  EXPECT_NE(message(encode_tensor("t", {2, 3}, big, opts(Encoding::csr, Encoding::f16)))
                .find("overflows f16"),
            std::string::npos);
  EXPECT_TRUE(encode_tensor("t", {2, 3}, big, opts(Encoding::bf16)).ok());
  EXPECT_NE(message(encode_tensor("t", {2, 3}, six, opts(Encoding::q4, Encoding::f32, 48)))
                .find("group_size"),
            std::string::npos);
  EXPECT_NE(
      message(encode_tensor("t", {2, 3}, six, opts(Encoding::bsr, Encoding::q4, 0, false, 4, 1)))
          .find("value_encoding"),
      std::string::npos);
  const std::vector<float> wide = {-3e38f, 3e38f};
  EXPECT_NE(message(encode_tensor("t", {1, 2}, wide, opts(Encoding::q4, Encoding::f32, 32, true)))
                .find("overflow"),
            std::string::npos);
}

}  // namespace
}  // namespace sparq::formats
