// The .sparq container: write/read round trips, and every corruption of a valid file
// (truncation at any offset, any flipped byte) ends in a clear error or a safe read.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include <zstd.h>

#include "cli_runner.h"
#include "formats/sparq_reader.h"
#include "formats/sparq_writer.h"
#include "formats/tensor_codec.h"

namespace sparq::formats {
namespace {

std::vector<float> random_matrix(uint64_t rows, uint64_t cols, double sparsity, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<float> v(rows * cols);
  for (auto& x : v) x = unit(rng) < sparsity ? 0.0f : normal(rng);
  return v;
}

struct Sample {
  std::string name;
  std::vector<uint64_t> dims;
  EncodeOptions options;
  double sparsity;
  bool compress;
};

std::vector<Sample> samples() {
  EncodeOptions f32, f16, q8, q4, csr, bsr;
  f16.encoding = Encoding::f16;
  q8.encoding = Encoding::q8;
  q4.encoding = Encoding::q4;
  q4.group_size = 32;
  q4.asymmetric = true;
  csr.encoding = Encoding::csr;
  csr.value_encoding = Encoding::q8;
  bsr.encoding = Encoding::bsr;
  bsr.value_encoding = Encoding::q8;
  bsr.block_rows = 4;
  bsr.block_cols = 1;
  return {
      {"dense.f32", {7, 9}, f32, 0.0, false},
      {"dense.f16", {3, 2, 5}, f16, 0.0, true},
      {"quant.q8", {6, 40}, q8, 0.0, false},
      {"quant.q4", {5, 70}, q4, 0.0, true},
      {"sparse.csr", {9, 33}, csr, 0.8, false},
      {"sparse.bsr", {10, 12}, bsr, 0.7, false},
  };
}

std::string write_sample_file(const std::string& path, bool big = false) {
  auto writer = SparqWriter::create(path);
  EXPECT_TRUE(writer.ok()) << writer.error().message();
  uint32_t seed = 1;
  for (const Sample& s : samples()) {
    uint64_t rows = 1;
    for (size_t i = 0; i + 1 < s.dims.size(); ++i) rows *= s.dims[i];
    auto values = random_matrix(rows, s.dims.back(), s.sparsity, seed++);
    auto enc = encode_tensor(s.name, s.dims, values, s.options);
    EXPECT_TRUE(enc.ok()) << enc.error().message();
    WriteOptions wo;
    wo.compress = s.compress;
    auto stored = (*writer)->add_tensor(enc->desc, enc->payload, wo);
    EXPECT_TRUE(stored.ok()) << stored.error().message();
  }
  if (big) {  // large enough to be page-aligned
    auto values = random_matrix(128, 256, 0.0, 99);
    auto enc = encode_tensor("big", {128, 256}, values, {});
    EXPECT_TRUE((*writer)->add_tensor(enc->desc, enc->payload).ok());
  }
  Status st = (*writer)->finish({{"architecture", {{"name", "test"}}}, {"labels", {"a", "b"}}});
  EXPECT_TRUE(st.ok()) << st.error().message();
  return path;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(Container, RoundTripPreservesEveryTensorAndMetadata) {
  std::string path = write_sample_file(test::temp_dir("container_roundtrip") + "/m.sparq", true);
  auto reader = SparqReader::open(path);
  ASSERT_TRUE(reader.ok()) << reader.error().message();
  const auto& r = **reader;
  EXPECT_EQ(r.metadata()["format"], "sparq");
  EXPECT_EQ(r.metadata()["architecture"]["name"], "test");
  EXPECT_TRUE(r.metadata().contains("created_utc"));
  ASSERT_EQ(r.tensors().size(), samples().size() + 1);

  uint32_t seed = 1;
  for (const Sample& s : samples()) {
    const TensorView* t = r.find(s.name);
    ASSERT_NE(t, nullptr) << s.name;
    EXPECT_EQ(t->desc.dims, s.dims);
    EXPECT_EQ(t->desc.encoding, s.options.encoding);
    // The payload read back decodes exactly as the payload that was written.
    uint64_t rows = 1;
    for (size_t i = 0; i + 1 < s.dims.size(); ++i) rows *= s.dims[i];
    auto values = random_matrix(rows, s.dims.back(), s.sparsity, seed++);
    auto enc = encode_tensor(s.name, s.dims, values, s.options);
    ASSERT_EQ(t->payload.size(), enc->payload.size());
    EXPECT_TRUE(std::equal(t->payload.begin(), t->payload.end(), enc->payload.begin())) << s.name;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t->payload.data()) % 64, 0u) << s.name;
  }
  const TensorView* big = r.find("big");
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(big->offset % kPageAlign, 0u);
  EXPECT_EQ(r.find("missing"), nullptr);
}

TEST(Container, CompressedTensorsAreSmallerOnDiskAndIdenticalInMemory) {
  std::string dir = test::temp_dir("container_compress");
  auto writer = SparqWriter::create(dir + "/z.sparq");
  ASSERT_TRUE(writer.ok());
  std::vector<float> zeros(64 * 1024, 0.0f);
  zeros[5] = 1.0f;
  auto enc = encode_tensor("mostly_zero", {64, 1024}, zeros, {});
  WriteOptions wo;
  wo.compress = true;
  auto stored = (*writer)->add_tensor(enc->desc, enc->payload, wo);
  ASSERT_TRUE(stored.ok()) << stored.error().message();
  ASSERT_TRUE((*writer)->finish({{"architecture", {{"name", "test"}}}}).ok());
  auto reader = SparqReader::open(dir + "/z.sparq");
  ASSERT_TRUE(reader.ok()) << reader.error().message();
  const TensorView* t = (*reader)->find("mostly_zero");
  EXPECT_EQ(t->compression, Compression::zstd);
  EXPECT_LT(t->stored_size, enc->payload.size() / 100);
  EXPECT_TRUE(std::equal(t->payload.begin(), t->payload.end(), enc->payload.begin()));
  // What add_tensor reported is what the file holds.
  EXPECT_EQ(stored->desc.name, "mostly_zero");
  EXPECT_EQ(stored->compression, t->compression);
  EXPECT_EQ(stored->stored_size, t->stored_size);
  EXPECT_EQ(stored->raw_size, enc->payload.size());
  EXPECT_EQ(stored_encoding_string(stored->desc, stored->compression), "f32+zstd");
}

// A zstd frame may leave out its content size (`zstd --no-content-size`, streaming
// writers); such a payload must read exactly like the frame sparq writes. The frame without
// the size field has a window descriptor byte instead, so it fits in place of the original.
TEST(Container, ZstdFrameWithoutContentSizeIsRead) {
  std::string path = test::temp_dir("container_zstd_no_size") + "/z.sparq";
  auto writer = SparqWriter::create(path);
  ASSERT_TRUE(writer.ok());
  std::vector<float> values(48, 0.0f);
  values[7] = 2.5f;
  auto enc = encode_tensor("small", {6, 8}, values, {});
  ASSERT_TRUE(enc.ok());
  auto stored = (*writer)->add_tensor(enc->desc, enc->payload, WriteOptions{.compress = true});
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->compression, Compression::zstd);
  ASSERT_TRUE((*writer)->finish({{"architecture", {{"name", "test"}}}}).ok());

  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 3);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
  std::vector<uint8_t> frame(ZSTD_compressBound(enc->payload.size()));
  size_t n = ZSTD_compress2(cctx, frame.data(), frame.size(), enc->payload.data(), enc->payload.size());
  ZSTD_freeCCtx(cctx);
  ASSERT_FALSE(ZSTD_isError(n));
  frame.resize(n);
  ASSERT_EQ(ZSTD_getFrameContentSize(frame.data(), frame.size()), ZSTD_CONTENTSIZE_UNKNOWN);

  uint64_t offset = 0;
  {
    auto reader = SparqReader::open(path);
    ASSERT_TRUE(reader.ok()) << reader.error().message();
    const TensorView* t = (*reader)->find("small");
    ASSERT_EQ(t->stored_size, frame.size()) << "the frame no longer fits in place; pick another payload size";
    offset = t->offset;
  }
  std::vector<uint8_t> bytes = read_bytes(path);
  std::copy(frame.begin(), frame.end(), bytes.begin() + std::ptrdiff_t(offset));
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(bytes.data()),
                                                                  std::streamsize(bytes.size()));
  // The payload checksum covers the original frame; the decoded bytes are what is compared.
  auto reader = SparqReader::open(path, ReadOptions{.verify_checksums = false});
  ASSERT_TRUE(reader.ok()) << reader.error().message();
  const TensorView* t = (*reader)->find("small");
  ASSERT_EQ(t->payload.size(), enc->payload.size());
  EXPECT_TRUE(std::equal(t->payload.begin(), t->payload.end(), enc->payload.begin()));
}

TEST(Container, WriterRejectsBadTensorsAndLeavesNoFileBehind) {
  std::string dir = test::temp_dir("container_writer_errors");
  std::string path = dir + "/bad.sparq";
  {
    auto writer = SparqWriter::create(path);
    ASSERT_TRUE(writer.ok());
    auto enc = encode_tensor("w", {2, 2}, std::vector<float>{1, 2, 3, 4}, {});
    ASSERT_TRUE((*writer)->add_tensor(enc->desc, enc->payload).ok());
    auto dup = (*writer)->add_tensor(enc->desc, enc->payload);
    ASSERT_FALSE(dup.ok());
    EXPECT_NE(dup.error().message().find("added twice"), std::string::npos);
    std::vector<uint8_t> short_payload(3);
    auto bad_size = (*writer)->add_tensor(TensorDesc{"x", {2, 2}}, short_payload);
    ASSERT_FALSE(bad_size.ok());
    EXPECT_NE(bad_size.error().message().find("tensor 'x'"), std::string::npos);
    // Destroyed without finish(): a crash or an error mid-way never leaves a model file.
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".partial"));
}

TEST(Container, NewerMajorVersionIsRefusedWithAClearMessage) {
  std::string path = write_sample_file(test::temp_dir("container_version") + "/v.sparq");
  std::vector<uint8_t> bytes = read_bytes(path);
  bytes[8] = 2;  // version_major
  uint64_t sum = checksum64(bytes.data(), kHeaderChecksumOffset);
  std::memcpy(bytes.data() + kHeaderChecksumOffset, &sum, 8);
  auto reader = SparqReader::from_memory(bytes, "v.sparq");
  ASSERT_FALSE(reader.ok());
  EXPECT_NE(reader.error().message().find("newer sparq"), std::string::npos) << reader.error().message();
}

TEST(Container, MissingFileAndNonSparqFileAreClearErrors) {
  auto missing = SparqReader::open("/nonexistent/model.sparq");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("/nonexistent/model.sparq"), std::string::npos);
  std::string path = test::temp_dir("container_notsparq") + "/x.sparq";
  std::ofstream(path) << std::string(300, 'x');
  auto not_sparq = SparqReader::open(path);
  ASSERT_FALSE(not_sparq.ok());
  EXPECT_NE(not_sparq.error().message().find("bad magic"), std::string::npos);
}

// Reading a damaged file must either fail with a message naming the file, or succeed with
// tensors that decode (a flipped byte in zero padding changes nothing that is read).
void expect_error_or_safe_read(std::span<const uint8_t> bytes, const std::string& what) {
  auto reader = SparqReader::from_memory(bytes, "damaged.sparq");
  if (!reader.ok()) {
    EXPECT_EQ(reader.error().message().rfind("damaged.sparq: ", 0), 0u) << what << ": " << reader.error().message();
    return;
  }
  for (const auto& t : (*reader)->tensors()) {
    auto decoded = decode_tensor(t.desc, t.payload);
    EXPECT_TRUE(decoded.ok()) << what;
  }
}

TEST(Container, TruncationAtEveryOffsetIsAnError) {
  std::string path = write_sample_file(test::temp_dir("container_truncate") + "/t.sparq");
  std::vector<uint8_t> bytes = read_bytes(path);
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto reader = SparqReader::from_memory(std::span(bytes).first(n), "t.sparq");
    ASSERT_FALSE(reader.ok()) << "truncated to " << n << " bytes was accepted";
    EXPECT_EQ(reader.error().message().rfind("t.sparq: ", 0), 0u) << reader.error().message();
  }
  // And through the file path too, for a few sizes.
  for (size_t n : {size_t{0}, size_t{64}, bytes.size() / 2, bytes.size() - 1}) {
    std::string cut = path + ".cut";
    std::ofstream(cut, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), n);
    auto reader = SparqReader::open(cut);
    ASSERT_FALSE(reader.ok());
    EXPECT_NE(reader.error().message().find(cut), std::string::npos);
  }
}

TEST(Container, EveryFlippedByteIsDetectedOrHarmless) {
  std::string path = write_sample_file(test::temp_dir("container_flip") + "/f.sparq");
  std::vector<uint8_t> bytes = read_bytes(path);
  size_t detected = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (uint8_t mask : {uint8_t{0x01}, uint8_t{0xFF}}) {
      bytes[i] ^= mask;
      auto reader = SparqReader::from_memory(bytes, "damaged.sparq");
      detected += !reader.ok();
      expect_error_or_safe_read(bytes, "byte " + std::to_string(i));
      bytes[i] ^= mask;
    }
  }
  // Everything but zero padding is covered by a checksum.
  EXPECT_GT(detected, bytes.size());
}

}  // namespace
}  // namespace sparq::formats
