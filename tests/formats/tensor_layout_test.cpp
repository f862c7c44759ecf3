// compute_layout against layouts worked out by hand from SPEC.md section 5, its parameter
// checks, and the descriptor's names.
#include <gtest/gtest.h>

#include <string>

#include "formats/tensor_desc.h"

namespace sparq::formats {
namespace {

TensorDesc desc(std::vector<uint64_t> dims, Encoding e) {
  TensorDesc d;
  d.name = "t";
  d.dims = std::move(dims);
  d.encoding = e;
  return d;
}

std::string layout_error(const TensorDesc& d) {
  Result<TensorLayout> l = compute_layout(d);
  return l.ok() ? std::string("accepted") : l.error().message();
}

TEST(TensorLayout, DenseAndQuantizedSectionsByHand) {
  Result<TensorLayout> f16 = compute_layout(desc({3, 5}, Encoding::f16));
  ASSERT_TRUE(f16.ok());
  EXPECT_EQ(f16->total_size, 30u);

  TensorDesc q8 = desc({3, 100}, Encoding::q8);
  q8.group_size = 32;  // G = 4: scales 3*4*4 = 48 bytes at 0, values 300 at 64
  Result<TensorLayout> l = compute_layout(q8);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->groups_per_row, 4u);
  EXPECT_EQ(l->scales.offset, 0u);
  EXPECT_EQ(l->scales.size, 48u);
  EXPECT_EQ(l->values.offset, 64u);
  EXPECT_EQ(l->total_size, 364u);

  TensorDesc q4 = desc({3, 5}, Encoding::q4);
  q4.group_size = 32;
  q4.asymmetric = true;  // scales 12 @0, mins 12 @64, nibbles 3*3 @128
  l = compute_layout(q4);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->mins.offset, 64u);
  EXPECT_EQ(l->values.offset, 128u);
  EXPECT_EQ(l->values.size, 9u);
  EXPECT_EQ(l->total_size, 137u);
}

TEST(TensorLayout, SparseSectionsByHand) {
  TensorDesc csr = desc({2, 3, 70000}, Encoding::csr);  // rows 6, u32 col_idx
  csr.value_encoding = Encoding::q4;
  csr.count = 101;  // row_ptr 7*4 @0, col_idx 404 @64, scales 24 @512, values 51 @576
  Result<TensorLayout> l = compute_layout(csr);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->col_idx_width, 4);
  EXPECT_EQ(l->row_ptr.size, 28u);
  EXPECT_EQ(l->col_idx.offset, 64u);
  EXPECT_EQ(l->scales.offset, 512u);
  EXPECT_EQ(l->values.offset, 576u);
  EXPECT_EQ(l->total_size, 627u);

  TensorDesc bsr = desc({10, 7}, Encoding::bsr);  // 3x2 grid of 4x4 blocks
  bsr.value_encoding = Encoding::q8;
  bsr.block_rows = bsr.block_cols = 4;
  bsr.count = 5;  // ptr 16 @0, idx 10 @64, scales 40 @128, values 80 @192
  l = compute_layout(bsr);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->col_idx_width, 2);
  EXPECT_EQ(l->row_ptr.size, 16u);
  EXPECT_EQ(l->scales.size, 40u);
  EXPECT_EQ(l->total_size, 272u);

  // An empty section still starts at the next multiple of 64 (SPEC.md 5).
  TensorDesc empty = desc({3, 4}, Encoding::csr);
  l = compute_layout(empty);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->col_idx.offset, 64u);
  EXPECT_EQ(l->total_size, 64u);
}

TEST(TensorLayout, RejectsIllegalParametersNamingTheCheck) {
  EXPECT_EQ(layout_error(desc({}, Encoding::f32)), "rank 0 not in 1..4");
  EXPECT_EQ(layout_error(desc({1, 1, 1, 1, 1}, Encoding::f32)), "rank 5 not in 1..4");
  EXPECT_EQ(layout_error(desc({4, 0}, Encoding::f32)), "dim 1 is 0");
  EXPECT_EQ(layout_error(desc({uint64_t{1} << 31, uint64_t{1} << 31}, Encoding::f32)),
            "element count does not fit in 2^62");
  EXPECT_EQ(layout_error(desc({~uint64_t{0}, 3}, Encoding::f32)),
            "element count does not fit in 2^62");
  EXPECT_EQ(layout_error(desc({2, 3}, static_cast<Encoding>(9))), "unknown encoding 9");

  TensorDesc d = desc({4, 8}, Encoding::f32);
  d.group_size = 32;
  EXPECT_EQ(layout_error(d), "group_size must be 0 for f32");
  d = desc({4, 8}, Encoding::q8);
  d.asymmetric = true;
  EXPECT_EQ(layout_error(d), "asymmetric must be 0 for q8");
  d = desc({4, 8}, Encoding::q8);
  d.count = 3;
  EXPECT_EQ(layout_error(d), "count must be 0 for q8");
  d = desc({4, 8}, Encoding::bf16);
  d.value_encoding = Encoding::q8;
  EXPECT_EQ(layout_error(d), "value_encoding must be 0 for bf16");
  for (uint32_t g : {0u, 16u, 48u, 256u}) {
    d = desc({4, 8}, Encoding::q4);
    d.group_size = g;
    EXPECT_NE(layout_error(d).find("q4 group_size"), std::string::npos) << g;
  }
  d = desc({4, 8}, Encoding::csr);
  d.value_encoding = Encoding::bf16;
  EXPECT_EQ(layout_error(d), "value_encoding bf16 not allowed for csr");
  d.value_encoding = Encoding::f32;
  d.count = 33;
  EXPECT_EQ(layout_error(d), "csr nnz 33 exceeds rows*cols 32");
  d.count = 32;
  EXPECT_EQ(layout_error(d), "accepted");
  d.block_rows = 4;
  EXPECT_EQ(layout_error(d), "block_rows/block_cols must be 0 for csr");

  d = desc({5, 8}, Encoding::bsr);
  d.block_rows = 4;
  d.block_cols = 0;
  EXPECT_EQ(layout_error(d), "bsr block shape 4x0 not in 1..256");
  d.block_cols = 257;
  EXPECT_EQ(layout_error(d), "bsr block shape 4x257 not in 1..256");
  d.block_cols = 256;
  d.count = 3;  // grid is 2x1
  EXPECT_EQ(layout_error(d), "bsr nblocks 3 exceeds block grid 2");
  d.count = 2;
  d.value_encoding = Encoding::f16;
  EXPECT_EQ(layout_error(d), "value_encoding f16 not allowed for bsr");

  // Legal dims whose payload would not fit in 64 bits.
  d = desc({uint64_t{1} << 30, uint64_t{1} << 31}, Encoding::csr);
  d.count = uint64_t{1} << 61;
  EXPECT_EQ(layout_error(d), "payload size overflows 64 bits");
}

TEST(TensorLayout, NamesAndStrings) {
  for (Encoding e : {Encoding::f32, Encoding::f16, Encoding::bf16, Encoding::q8, Encoding::q4,
                     Encoding::csr, Encoding::bsr}) {
    Encoding parsed;
    ASSERT_TRUE(parse_encoding(encoding_name(e), &parsed));
    EXPECT_EQ(parsed, e);
  }
  Encoding unused;
  EXPECT_FALSE(parse_encoding("int3", &unused));
  EXPECT_EQ(encoding_name(Encoding::bf16), "bf16");

  TensorDesc d = desc({768, 3072}, Encoding::q8);
  EXPECT_EQ(d.shape_string(), "768x3072");
  EXPECT_EQ(d.rows(), 768u);
  EXPECT_EQ(d.encoding_string(), "q8");
  d.group_size = 64;
  EXPECT_EQ(d.encoding_string(), "q8:g64");
  d = desc({2, 3, 5}, Encoding::q4);
  EXPECT_EQ(d.rows(), 6u);
  EXPECT_EQ(d.cols(), 5u);
  EXPECT_EQ(d.elements(), 30u);
  d.group_size = 32;
  EXPECT_EQ(d.encoding_string(), "q4:g32");
  d.asymmetric = true;
  EXPECT_EQ(d.encoding_string(), "q4:g32:asym");
  d = desc({7}, Encoding::csr);
  EXPECT_EQ(d.rows(), 1u);
  EXPECT_EQ(d.shape_string(), "7");
  d.value_encoding = Encoding::q8;
  EXPECT_EQ(d.encoding_string(), "csr:q8");
  d.encoding = Encoding::bsr;
  d.block_rows = 4;
  d.block_cols = 1;
  EXPECT_EQ(d.encoding_string(), "bsr:q8:4x1");
}

}  // namespace
}  // namespace sparq::formats
