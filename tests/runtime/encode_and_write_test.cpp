// The stage every importer ends with (runtime/convert/encode_and_write.h): each tensor read
// once, its encoding chosen (a sparse layout for linear weights holding zeros), a recipe's
// tensors pruned, already stored tensors copied untouched, and a report that matches what
// the file holds (compared with SparqReader on the written file).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "cli_runner.h"
#include "formats/sparq_reader.h"
#include "formats/sparq_writer.h"
#include "runtime/convert/encode_and_write.h"

namespace {

using sparq::Result;
using sparq::formats::SparqReader;
using sparq::formats::SparqWriter;
using sparq::runtime::encode_and_write;
using sparq::runtime::EncodeAndWriteOptions;
using sparq::runtime::SourceTensor;

std::vector<float> random_values(size_t n, double zero_fraction, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<float> v(n);
  for (float& x : v) x = unit(rng) < zero_fraction ? 0.0f : normal(rng);
  return v;
}

// A tensor whose values come from `values`, counting how often they are read.
SourceTensor source(const std::string& name, std::vector<uint64_t> dims, bool linear, std::vector<float> values,
                    int* reads) {
  SourceTensor t;
  t.name = name;
  t.dims = std::move(dims);
  t.linear = linear;
  t.origin = "test: tensor '" + name + "'";
  t.read = [values = std::move(values), reads]() -> Result<std::vector<float>> {
    ++*reads;
    return values;
  };
  return t;
}

std::unique_ptr<SparqReader> finish_and_open(SparqWriter& writer, const std::string& path) {
  EXPECT_TRUE(writer.finish({{"architecture", {{"name", "test"}}}}).ok());
  auto reader = SparqReader::open(path);
  EXPECT_TRUE(reader.ok()) << reader.error().message();
  return reader.ok() ? std::move(*reader) : nullptr;
}

TEST(EncodeAndWrite, ReadsEachTensorOnceAndReportsWhatTheFileHolds) {
  const std::string path = sparq::test::temp_dir("encode_and_write_report") + "/m.sparq";
  std::vector<int> reads(3, 0);
  std::vector<SourceTensor> tensors;
  tensors.push_back(source("layers.0.ffn.up.weight", {32, 16}, true, random_values(32 * 16, 0.0, 1), &reads[0]));
  tensors.push_back(source("layers.0.ffn.down.weight", {16, 32}, true, random_values(16 * 32, 0.8, 2), &reads[1]));
  tensors.push_back(source("layers.0.ffn.norm.weight", {16}, false, std::vector<float>(16, 1.0f), &reads[2]));
  for (SourceTensor& t : tensors) {
    if (t.linear) t.encoding.encoding = sparq::formats::Encoding::q8;
  }
  auto writer = SparqWriter::create(path);
  ASSERT_TRUE(writer.ok());
  EncodeAndWriteOptions options;
  options.compress = true;
  size_t progress = 0;
  options.on_tensor = [&](const sparq::runtime::TensorReport&, size_t index, size_t total) {
    EXPECT_EQ(index, progress++);
    EXPECT_EQ(total, 3u);
  };
  auto written = encode_and_write(tensors, options, **writer);
  ASSERT_TRUE(written.ok()) << written.error().message();
  EXPECT_EQ(reads, std::vector<int>({1, 1, 1}));
  EXPECT_EQ(progress, 3u);
  EXPECT_TRUE(written->compressed.empty());
  EXPECT_EQ(written->parameters, 32u * 16 + 16 * 32 + 16);

  auto reader = finish_and_open(**writer, path);
  ASSERT_TRUE(reader);
  ASSERT_EQ(written->tensors.size(), 3u);
  for (const auto& report : written->tensors) {
    const auto* t = reader->find(report.name);
    ASSERT_NE(t, nullptr) << report.name;
    EXPECT_EQ(report.encoding, sparq::formats::stored_encoding_string(t->desc, t->compression)) << report.name;
    EXPECT_EQ(report.bytes, t->stored_size) << report.name;
  }
  EXPECT_EQ(reader->find("layers.0.ffn.up.weight")->desc.encoding_string(), "q8");
  // 80 % zeros: a sparse layout is smaller than dense q8.
  const auto sparse = reader->find("layers.0.ffn.down.weight")->desc.encoding;
  EXPECT_TRUE(sparse == sparq::formats::Encoding::csr || sparse == sparq::formats::Encoding::bsr);
  EXPECT_NEAR(written->tensors[1].sparsity, 0.8, 0.05);
  EXPECT_EQ(reader->find("layers.0.ffn.norm.weight")->desc.encoding_string(), "f32");
}

// Re-encoding: the recipe's tensor is decoded, pruned and encoded again; every other tensor
// is copied as stored and never read.
TEST(EncodeAndWrite, RecipePrunesWhatItSelectsAndCopiesTheRest) {
  const std::string dir = sparq::test::temp_dir("encode_and_write_recipe");
  std::vector<int> reads(2, 0);
  {
    std::vector<SourceTensor> tensors;
    tensors.push_back(source("layers.0.ffn.up.weight", {32, 16}, true, random_values(32 * 16, 0.0, 3), &reads[0]));
    tensors.push_back(source("layers.0.ffn.down.weight", {16, 32}, true, random_values(16 * 32, 0.0, 4), &reads[1]));
    auto writer = SparqWriter::create(dir + "/in.sparq");
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE(encode_and_write(tensors, {}, **writer).ok());
    ASSERT_TRUE((*writer)->finish({{"architecture", {{"name", "test"}}}}).ok());
  }
  auto in = SparqReader::open(dir + "/in.sparq");
  ASSERT_TRUE(in.ok()) << in.error().message();

  auto recipe = sparq::runtime::recipe_from_json(
      {{"rules", {{{"match", "*.up.weight"}, {"sparsity", 0.5}, {"encoding", "q8"}}}}}, "test recipe");
  ASSERT_TRUE(recipe.ok()) << recipe.error().message();
  std::vector<SourceTensor> tensors;
  std::vector<int> rereads(2, 0);
  for (const auto& view : (*in)->tensors()) {
    SourceTensor t;
    t.name = view.desc.name;
    t.dims = view.desc.dims;
    t.linear = true;
    t.read = [&view, count = &rereads[tensors.size()]]() -> Result<std::vector<float>> {
      ++*count;
      return sparq::formats::decode_tensor(view.desc, view.payload);
    };
    t.stored = &view;
    tensors.push_back(std::move(t));
  }
  auto writer = SparqWriter::create(dir + "/out.sparq");
  ASSERT_TRUE(writer.ok());
  EncodeAndWriteOptions options;
  options.recipe = &*recipe;
  auto written = encode_and_write(tensors, options, **writer);
  ASSERT_TRUE(written.ok()) << written.error().message();
  EXPECT_EQ(rereads, std::vector<int>({1, 0}));
  ASSERT_EQ(written->compressed.size(), 1u);
  const auto& c = written->compressed[0];
  EXPECT_EQ(c.name, "layers.0.ffn.up.weight");
  EXPECT_NEAR(c.sparsity, 0.5, 0.01);

  auto out = finish_and_open(**writer, dir + "/out.sparq");
  ASSERT_TRUE(out);
  const auto* up = out->find("layers.0.ffn.up.weight");
  EXPECT_EQ(c.encoding, up->desc.encoding_string());
  EXPECT_EQ(c.bytes, up->payload.size());
  const auto* copied = out->find("layers.0.ffn.down.weight");
  const auto* original = (*in)->find("layers.0.ffn.down.weight");
  EXPECT_TRUE(std::equal(copied->payload.begin(), copied->payload.end(), original->payload.begin(),
                         original->payload.end()));
}

TEST(EncodeAndWrite, RefusesQ4ForATensorThatIsNotALinearWeight) {
  const std::string path = sparq::test::temp_dir("encode_and_write_q4") + "/m.sparq";
  int reads = 0;
  std::vector<SourceTensor> tensors;
  tensors.push_back(source("embeddings.word.weight", {40, 16}, false, random_values(40 * 16, 0.0, 5), &reads));
  auto recipe = sparq::runtime::recipe_from_json(
      {{"include", {"embeddings.word.weight"}}, {"rules", {{{"match", "*"}, {"encoding", "q4"}}}}}, "test recipe");
  ASSERT_TRUE(recipe.ok()) << recipe.error().message();
  auto writer = SparqWriter::create(path);
  ASSERT_TRUE(writer.ok());
  EncodeAndWriteOptions options;
  options.recipe = &*recipe;
  auto written = encode_and_write(tensors, options, **writer);
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.error().message(),
            "test recipe: rules[0].encoding: tensor 'embeddings.word.weight' is not a linear weight; it takes f32, "
            "f16, bf16 or q8");
}

}  // namespace

namespace {

// A tensor that arrives already encoded (an exact GGUF transcode) is written byte for byte and
// never read; when a recipe selects it, its values are read and pruned instead.
TEST(EncodeAndWrite, WritesPreEncodedTensorsAsTheyAreUnlessARecipeSelectsThem) {
  const std::vector<float> values = random_values(32 * 64, 0.0, 7);
  sparq::formats::EncodeOptions q8g16;
  q8g16.encoding = sparq::formats::Encoding::q8;
  q8g16.group_size = 16;
  auto reference = sparq::formats::encode_tensor("layers.0.ffn.up.weight", {32, 64}, values, q8g16);
  ASSERT_TRUE(reference.ok());
  auto recipe = sparq::runtime::recipe_from_json(
      {{"rules", {{{"match", "layers.0.ffn.up.weight"}, {"sparsity", 0.5}}}}}, "test recipe");
  ASSERT_TRUE(recipe.ok()) << recipe.error().message();
  for (const bool with_recipe : {false, true}) {
    const std::string path = sparq::test::temp_dir("encode_and_write_pre_encoded") + "/m.sparq";
    int reads = 0, encodes = 0;
    std::vector<SourceTensor> tensors = {source("layers.0.ffn.up.weight", {32, 64}, true, values, &reads)};
    tensors[0].encoded = [&]() -> Result<sparq::formats::EncodedTensor> {
      ++encodes;
      return *reference;
    };
    auto writer = SparqWriter::create(path);
    ASSERT_TRUE(writer.ok());
    EncodeAndWriteOptions options;
    if (with_recipe) options.recipe = &*recipe;
    auto written = encode_and_write(tensors, options, **writer);
    ASSERT_TRUE(written.ok()) << written.error().message();
    auto reader = finish_and_open(**writer, path);
    ASSERT_TRUE(reader);
    const auto* t = reader->find("layers.0.ffn.up.weight");
    ASSERT_NE(t, nullptr);
    if (!with_recipe) {
      EXPECT_EQ(reads, 0);
      EXPECT_EQ(encodes, 1);
      EXPECT_EQ(t->desc.encoding_string(), "q8:g16");
      EXPECT_TRUE(std::equal(t->payload.begin(), t->payload.end(), reference->payload.begin(),
                             reference->payload.end()));
    } else {
      EXPECT_EQ(reads, 1);
      EXPECT_EQ(encodes, 0);
      ASSERT_EQ(written->compressed.size(), 1u);
      EXPECT_DOUBLE_EQ(written->compressed[0].sparsity, 0.5);
    }
  }
}

}  // namespace
