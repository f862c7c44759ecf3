// The GGUF reader against an independent reference and against hostile files.
//
// Reference: tests/formats/fixtures/gguf/make_gguf_fixtures.py, which writes GGUF files with
// its own writer, quantizes random values with its own numpy quantizers and decodes every
// tensor with its own numpy decoders (from ggml's block layouts); each decoded tensor is
// stored beside its source as `expected.<name>` (F32). Decoding must match bit for bit.
// Corruption: files built here byte by byte, then truncated, flipped, or given hostile counts,
// offsets and types; each must end in an error naming the file, or a safe read.
#include <gtest/gtest.h>

#include <bit>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>

#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "formats/gguf.h"
#include "formats/input_file.h"

namespace sparq::formats {
namespace {

std::string fixture(const std::string& name) {
  return std::string(SPARQ_SOURCE_DIR) + "/tests/formats/fixtures/gguf/" + name;
}

// ---- a GGUF writer for hostile variations -------------------------------------------------

void put(std::vector<uint8_t>& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_string(std::vector<uint8_t>& out, std::string_view s) {
  put(out, s.size(), 8);
  out.insert(out.end(), s.begin(), s.end());
}

struct Builder {
  struct Tensor {
    std::string name;
    std::vector<uint64_t> dims;
    uint32_t type;
    std::vector<uint8_t> data;
    std::optional<uint64_t> offset;  // default: packed in order, aligned
  };
  uint32_t version = 3;
  uint64_t alignment = 32;
  std::vector<uint8_t> kv;
  uint64_t kv_count = 0;
  std::vector<Tensor> tensors;
  std::optional<uint64_t> tensor_count, metadata_count;

  // A key and its raw value bytes (type tag included by the caller through `type`).
  Builder& add(std::string_view key, GgufValueType type, const std::vector<uint8_t>& value) {
    put_string(kv, key);
    put(kv, static_cast<uint32_t>(type), 4);
    kv.insert(kv.end(), value.begin(), value.end());
    ++kv_count;
    return *this;
  }
  Builder& add_u32(std::string_view key, uint32_t v) {
    std::vector<uint8_t> b;
    put(b, v, 4);
    return add(key, GgufValueType::u32, b);
  }
  Builder& add_string(std::string_view key, std::string_view s) {
    std::vector<uint8_t> b;
    put_string(b, s);
    return add(key, GgufValueType::string, b);
  }
  Builder& tensor(std::string name, std::vector<uint64_t> dims, GgmlType type, std::vector<uint8_t> data,
                  std::optional<uint64_t> offset = std::nullopt) {
    tensors.push_back({std::move(name), std::move(dims), static_cast<uint32_t>(type), std::move(data), offset});
    return *this;
  }

  // The last tensor ends the file (no trailing padding), so every truncation loses data.
  std::vector<uint8_t> build() const {
    std::vector<uint8_t> out = {'G', 'G', 'U', 'F'};
    put(out, version, 4);
    put(out, tensor_count.value_or(tensors.size()), 8);
    put(out, metadata_count.value_or(kv_count), 8);
    out.insert(out.end(), kv.begin(), kv.end());
    std::vector<uint64_t> offsets;
    uint64_t next = 0;
    for (const Tensor& t : tensors) {
      const uint64_t at = t.offset.value_or(next);
      offsets.push_back(at);
      next = std::max(next, (at + t.data.size() + alignment - 1) / alignment * alignment);
      put_string(out, t.name);
      put(out, t.dims.size(), 4);
      for (uint64_t d : t.dims) put(out, d, 8);
      put(out, t.type, 4);
      put(out, at, 8);
    }
    const size_t data_start = (out.size() + alignment - 1) / alignment * alignment;
    out.resize(data_start);
    for (size_t i = 0; i < tensors.size(); ++i) {
      const size_t end = data_start + offsets[i] + tensors[i].data.size();
      if (out.size() < end) out.resize(end);
      std::copy(tensors[i].data.begin(), tensors[i].data.end(), out.begin() + data_start + offsets[i]);
    }
    return out;
  }
};

// One Q8_0 block with d = 1.0 and quants first, first + 1, ...
std::vector<uint8_t> q8_0_block(int8_t first) {
  std::vector<uint8_t> b = {0x00, 0x3C};
  for (int i = 0; i < 32; ++i) b.push_back(static_cast<uint8_t>(first + i));
  return b;
}

std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

// A small valid file with metadata of several kinds and tensors of several types.
Builder sample() {
  Builder b;
  b.add_string("general.architecture", "llama").add_u32("llama.context_length", 2048);
  std::vector<uint8_t> tokens;
  put(tokens, static_cast<uint32_t>(GgufValueType::string), 4);
  put(tokens, 3, 8);
  for (std::string_view s : {"<s>", "a", "bc"}) put_string(tokens, s);
  b.add("tokenizer.ggml.tokens", GgufValueType::array, tokens);
  std::vector<uint8_t> scores;
  put(scores, static_cast<uint32_t>(GgufValueType::f32), 4);
  put(scores, 2, 8);
  put(scores, std::bit_cast<uint32_t>(-1.5f), 4);
  put(scores, std::bit_cast<uint32_t>(2.0f), 4);
  b.add("tokenizer.ggml.scores", GgufValueType::array, scores);
  std::vector<uint8_t> q4k = pattern(144, 7);
  q4k[0] = 0x00, q4k[1] = 0x3C, q4k[2] = 0x00, q4k[3] = 0x38;  // finite d, dmin
  std::vector<uint8_t> q8 = q8_0_block(-16);
  std::vector<uint8_t> q8b = q8_0_block(3);
  q8.insert(q8.end(), q8b.begin(), q8b.end());
  b.tensor("blk.0.w", {32, 2}, GgmlType::Q8_0, q8);
  b.tensor("blk.0.k", {256}, GgmlType::Q4_K, q4k);
  b.tensor("norm", {4}, GgmlType::F16, {0x00, 0x3C, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x7C});
  return b;
}

Result<std::unique_ptr<GgufFile>> parse(const std::vector<uint8_t>& bytes, const std::string& name = "t.gguf") {
  return GgufFile::from_memory(bytes, name);
}

std::string error_of(const std::vector<uint8_t>& bytes) {
  auto f = parse(bytes);
  if (f.ok()) return "(accepted)";
  return f.error().message();
}

#define EXPECT_HAS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

// ---- against the numpy reference ------------------------------------------------------------

// Decodes every tensor of a decodable type and compares it, bit for bit, with the F32 tensor
// `expected.<name>` beside it; returns how many were compared.
int expect_decodes_as_expected(const GgufFile& file) {
  int compared = 0;
  for (const GgufTensor& t : file.tensors()) {
    if (t.name.starts_with("expected.") || !t.decodable()) continue;
    const GgufTensor* expected = file.find_tensor("expected." + t.name);
    EXPECT_NE(expected, nullptr) << t.name;
    if (expected == nullptr) continue;
    EXPECT_EQ(expected->type, static_cast<uint32_t>(GgmlType::F32));
    auto got = file.dequantize(t);
    EXPECT_TRUE(got.ok()) << got.error().message();
    if (!got.ok()) continue;
    EXPECT_EQ(got->size(), expected->elements) << t.name;
    if (got->size() != expected->elements) continue;
    size_t mismatches = 0;
    for (size_t i = 0; i < got->size(); ++i) {
      uint32_t want_bits = 0;
      std::memcpy(&want_bits, expected->bytes.data() + 4 * i, 4);
      const uint32_t got_bits = std::bit_cast<uint32_t>((*got)[i]);
      if (got_bits != want_bits && mismatches++ < 5) {
        ADD_FAILURE() << t.name << " (" << t.type_label() << ") value " << i << ": got 0x" << std::hex << got_bits
                      << " (" << (*got)[i] << "), expected 0x" << want_bits;
      }
    }
    EXPECT_EQ(mismatches, 0u) << t.name;
    ++compared;
  }
  return compared;
}

TEST(GgufTypes, EveryDecodedTypeMatchesTheNumpyReferenceBitForBit) {
  auto file = GgufFile::open(fixture("types.gguf"));
  ASSERT_TRUE(file.ok()) << file.error().message();
  // f32, f16 x2, bf16 x2, 5 quantized types x2 (from values, random bytes), q8_0.3d
  EXPECT_EQ(expect_decodes_as_expected(**file), 16);
}

// ggml's own decoders (libggml-base.so of @node-llama-cpp/linux-x64) wrote the expected values
// of this file: compare_with_ggml.py, run by ctest as formats.gguf_random_blocks_from_ggml.
TEST(GgufReference, DecodesAsGgmlItself) {
  const char* path = std::getenv("SPARQ_GGUF_GGML_REFERENCE");
  if (path == nullptr) {
    GTEST_SKIP() << "SPARQ_GGUF_GGML_REFERENCE unset: ctest's formats.gguf_decodes_as_ggml runs this on a file "
                    "ggml decoded";
  }
  auto file = GgufFile::open(path);
  ASSERT_TRUE(file.ok()) << file.error().message();
  // F16 and BF16 (every bit pattern), Q8_0, Q4_0, Q4_K, Q5_K, Q6_K (4096 random blocks each)
  EXPECT_EQ(expect_decodes_as_expected(**file), 7);
}

TEST(GgufTypes, ShapeIsRowMajorAndTheDecodeIsStorageOrder) {
  auto file = GgufFile::open(fixture("types.gguf"));
  ASSERT_TRUE(file.ok()) << file.error().message();
  const GgufTensor* t = (*file)->find_tensor("q8_0.3d");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->dims, (std::vector<uint64_t>{32, 2, 3}));
  EXPECT_EQ(t->shape, (std::vector<uint64_t>{3, 2, 32}));
  EXPECT_EQ(t->elements, 192u);
  // Row r of the [6, 32] view is block r: its values are q * d of that block's bytes.
  auto values = (*file)->dequantize(*t);
  ASSERT_TRUE(values.ok());
  for (size_t r = 0; r < 6; ++r) {
    const uint8_t* block = t->bytes.data() + 34 * r;
    std::vector<float> one(32);
    ASSERT_TRUE(dequantize_ggml(static_cast<uint32_t>(GgmlType::Q8_0), {block, 34}, one).ok());
    for (size_t c = 0; c < 32; ++c) EXPECT_EQ((*values)[r * 32 + c], one[c]);
  }
}

TEST(GgufTypes, UnsupportedTypesAreRefusedByName) {
  auto file = GgufFile::open(fixture("types.gguf"));
  ASSERT_TRUE(file.ok()) << file.error().message();
  for (auto [name, label] : {std::pair{"iq2_xxs", "type IQ2_XXS (16) is not supported"},
                             std::pair{"q4_1", "type Q4_1 (3) is not supported"},
                             std::pair{"i32", "type I32 (26) is not supported"}}) {
    const GgufTensor* t = (*file)->find_tensor(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_FALSE(t->decodable());
    auto values = (*file)->dequantize(*t);
    ASSERT_FALSE(values.ok()) << name;
    EXPECT_HAS(values.error().message(), fixture("types.gguf") + ": tensor '" + name + "': " + label);
    EXPECT_EQ(values.error().kind(), ErrorKind::unsupported);
  }
}

// ---- metadata and tensor infos against the writer's description -----------------------------

void expect_value(const GgufValue& v, const nlohmann::json& want, const std::string& where) {
  const std::string type = want["type"];
  if (type == "array") {
    ASSERT_EQ(v.type(), GgufValueType::array) << where;
    const std::string et = want["element_type"];
    EXPECT_EQ(gguf_value_type_name(v.element_type()), et) << where;
    const auto& items = want["items"];
    ASSERT_EQ(v.size(), items.size()) << where;
    if (et == "string") {
      auto got = v.to_strings();
      ASSERT_TRUE(got.ok()) << where;
      for (size_t i = 0; i < items.size(); ++i) EXPECT_EQ((*got)[i], items[i].get<std::string>()) << where;
    } else if (et == "float32") {
      auto got = v.to_floats();
      ASSERT_TRUE(got.ok()) << where;
      for (size_t i = 0; i < items.size(); ++i) {
        EXPECT_EQ(std::bit_cast<uint32_t>((*got)[i]), std::bit_cast<uint32_t>(items[i].get<float>())) << where;
      }
    } else if (et == "array") {
      ASSERT_EQ(v.items().size(), items.size()) << where;
      for (size_t i = 0; i < items.size(); ++i) expect_value(v.items()[i], items[i], where + "[" + std::to_string(i) + "]");
    } else if (et == "float64") {
      EXPECT_FALSE(v.to_integers().ok()) << where;
    } else {  // integers and bool
      if (et == "bool") {
        EXPECT_FALSE(v.to_integers().ok()) << where;
        return;
      }
      auto got = v.to_integers();
      ASSERT_TRUE(got.ok()) << where << ": " << got.error().message();
      for (size_t i = 0; i < items.size(); ++i) {
        if (items[i].is_number_unsigned()) {
          EXPECT_EQ(static_cast<uint64_t>((*got)[i]), items[i].get<uint64_t>()) << where;
        } else {
          EXPECT_EQ((*got)[i], items[i].get<int64_t>()) << where;
        }
      }
    }
    return;
  }
  EXPECT_EQ(v.type_name(), type) << where;
  const auto& value = want["value"];
  if (type == "string") {
    EXPECT_EQ(*v.to_string(), value.get<std::string>()) << where;
  } else if (type == "bool") {
    EXPECT_EQ(*v.to_bool(), value.get<bool>()) << where;
  } else if (type == "float32" || type == "float64") {
    EXPECT_EQ(*v.to_float(), value.get<double>()) << where;
  } else if (value.is_number_unsigned()) {
    auto got = v.to_unsigned();
    ASSERT_TRUE(got.ok()) << where;
    EXPECT_EQ(*got, value.get<uint64_t>()) << where;
  } else {
    auto got = v.to_signed();
    ASSERT_TRUE(got.ok()) << where;
    EXPECT_EQ(*got, value.get<int64_t>()) << where;
  }
}

TEST(GgufMetadata, EveryValueTypeMatchesTheWritersDescription) {
  auto file = GgufFile::open(fixture("types.gguf"));
  ASSERT_TRUE(file.ok()) << file.error().message();
  auto want = load_json_file(fixture("types.json"));
  ASSERT_TRUE(want.ok()) << want.error().message();
  EXPECT_EQ((*file)->version(), (*want)["version"].get<uint32_t>());
  EXPECT_EQ((*file)->alignment(), (*want)["alignment"].get<uint64_t>());
  const auto& metadata = (*want)["metadata"];
  ASSERT_EQ((*file)->metadata().size(), metadata.size());
  for (size_t i = 0; i < metadata.size(); ++i) {
    const std::string key = metadata[i]["key"];
    EXPECT_EQ((*file)->metadata()[i].key, key);
    const GgufValue* v = (*file)->find(key);
    ASSERT_NE(v, nullptr) << key;
    expect_value(*v, metadata[i], key);
  }
  const auto& tensors = (*want)["tensors"];
  ASSERT_EQ((*file)->tensors().size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const GgufTensor& t = (*file)->tensors()[i];
    EXPECT_EQ(t.name, tensors[i]["name"].get<std::string>());
    EXPECT_EQ(t.type, tensors[i]["type"].get<uint32_t>());
    EXPECT_EQ(t.type_label(), tensors[i]["type_name"].get<std::string>() + " (" + std::to_string(t.type) + ")");
    EXPECT_EQ(t.dims, tensors[i]["dims"].get<std::vector<uint64_t>>());
    EXPECT_EQ(t.offset, tensors[i]["offset"].get<uint64_t>());
    EXPECT_EQ(t.bytes.size(), tensors[i]["bytes"].get<uint64_t>());
    EXPECT_EQ(t.file_offset, (*file)->data_offset() + t.offset);
    EXPECT_EQ(t.file_offset % 32, 0u);
  }
}

TEST(GgufMetadata, TypedGettersNameTheKeyAndBothTypes) {
  auto file = GgufFile::open(fixture("types.gguf"));
  ASSERT_TRUE(file.ok()) << file.error().message();
  const GgufFile& f = **file;
  const std::string path = fixture("types.gguf");
  EXPECT_EQ(*f.get_string("general.architecture"), "llama");
  EXPECT_EQ(*f.get_unsigned("test.u32"), 4294967295u);
  EXPECT_EQ(*f.get_unsigned("test.u8"), 255u);
  EXPECT_EQ(*f.get_signed("test.i64"), INT64_MIN);
  EXPECT_EQ(*f.get_float("test.f32"), -0.15625);
  EXPECT_TRUE(*f.get_bool("test.bool_true"));
  EXPECT_EQ(f.get_strings("tokenizer.ggml.tokens")->size(), 7u);
  EXPECT_EQ(f.get_integers("tokenizer.ggml.token_type")->at(5), 6);
  EXPECT_EQ(f.get_floats("tokenizer.ggml.scores")->at(3), -1000.0f);

  auto wrong = f.get_string("test.u32");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().message(), path + ": metadata 'test.u32': expected string, found uint32");
  auto wrong_array = f.get_strings("tokenizer.ggml.scores");
  ASSERT_FALSE(wrong_array.ok());
  EXPECT_EQ(wrong_array.error().message(),
            path + ": metadata 'tokenizer.ggml.scores': expected array of string, found array of float32");
  auto negative = f.get_unsigned("test.i8");
  ASSERT_FALSE(negative.ok());
  EXPECT_HAS(negative.error().message(), "metadata 'test.i8': expected a non-negative integer, found int8 -128");
  auto too_big = f.get_signed("test.u64");
  ASSERT_FALSE(too_big.ok());
  EXPECT_HAS(too_big.error().message(), "metadata 'test.u64': uint64 value 18446744073709551615 does not fit");
  auto missing = f.get_unsigned("llama.context_length");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message(), path + ": metadata 'llama.context_length' is missing");
  EXPECT_EQ(f.find("nope"), nullptr);
  EXPECT_EQ(f.find_tensor("nope"), nullptr);
}

TEST(GgufFile, Version2WithItsOwnAlignment) {
  auto file = GgufFile::open(fixture("v2.gguf"));
  ASSERT_TRUE(file.ok()) << file.error().message();
  EXPECT_EQ((*file)->version(), 2u);
  EXPECT_EQ((*file)->alignment(), 64u);
  EXPECT_EQ((*file)->data_offset() % 64, 0u);
  const GgufTensor* t = (*file)->find_tensor("v2.small");
  const GgufTensor* e = (*file)->find_tensor("expected.v2.small");
  ASSERT_TRUE(t && e);
  EXPECT_EQ(e->file_offset % 64, 0u);
  auto got = (*file)->dequantize(*t);
  auto want = (*file)->dequantize(*e);
  ASSERT_TRUE(got.ok() && want.ok());
  EXPECT_EQ(*got, *want);
}

// ---- against Hugging Face's GGUF parser ------------------------------------------------------

// A value as dump_with_huggingface_gguf.mjs writes @huggingface/gguf's reading of it: 64-bit
// integers as decimal strings, other numbers as numbers, arrays as lists.
nlohmann::json as_reference_json(const GgufValue& v) {
  auto scalar = [](GgufValueType t, const GgufValue& x) -> nlohmann::json {
    switch (t) {
      case GgufValueType::u64: return std::to_string(*x.to_unsigned());
      case GgufValueType::i64: return std::to_string(*x.to_signed());
      case GgufValueType::f32: case GgufValueType::f64: return *x.to_float();
      case GgufValueType::boolean: return *x.to_bool();
      case GgufValueType::string: return std::string(*x.to_string());
      default: return *x.to_signed();
    }
  };
  if (v.type() != GgufValueType::array) return scalar(v.type(), v);
  nlohmann::json out = nlohmann::json::array();
  // (Each Result is held in a local: a range-for over *temporary would dangle.)
  switch (v.element_type()) {
    case GgufValueType::array:
      for (const GgufValue& item : v.items()) out.push_back(as_reference_json(item));
      break;
    case GgufValueType::string: {
      const auto strings = v.to_strings();
      for (std::string_view s : *strings) out.push_back(std::string(s));
      break;
    }
    case GgufValueType::f32: {
      const auto floats = v.to_floats();
      for (float f : *floats) out.push_back(static_cast<double>(f));
      break;
    }
    case GgufValueType::f64: {
      const auto doubles = v.to_doubles();
      for (double d : *doubles) out.push_back(d);
      break;
    }
    case GgufValueType::boolean: {
      const auto bools = v.to_bools();
      for (bool b : *bools) out.push_back(b);
      break;
    }
    default: {
      const auto integers = v.to_integers();
      for (int64_t i : *integers) {
        if (v.element_type() == GgufValueType::u64) {
          out.push_back(std::to_string(static_cast<uint64_t>(i)));
        } else if (v.element_type() == GgufValueType::i64) {
          out.push_back(std::to_string(i));
        } else {
          out.push_back(i);
        }
      }
    }
  }
  return out;
}

TEST(GgufReference, MatchesHuggingFaceGgufJs) {
  const char* dump = std::getenv("SPARQ_GGUF_HF_REFERENCE");
  if (dump == nullptr) {
    GTEST_SKIP() << "SPARQ_GGUF_HF_REFERENCE unset: ctest's formats.gguf_matches_huggingface_gguf runs this "
                    "with @huggingface/gguf's reading of the fixtures";
  }
  auto reference = load_json_file(dump);
  ASSERT_TRUE(reference.ok()) << reference.error().message();
  ASSERT_GE(reference->size(), 2u);
  for (auto it = reference->begin(); it != reference->end(); ++it) {
    const std::string path = it.key();
    const nlohmann::json& want = it.value();
    auto file = GgufFile::open(path);
    ASSERT_TRUE(file.ok()) << file.error().message();
    EXPECT_EQ((*file)->version(), want["version"].get<uint32_t>()) << path;
    EXPECT_TRUE(want["littleEndian"].get<bool>()) << path;
    EXPECT_EQ(std::to_string((*file)->data_offset()), want["tensorDataOffset"].get<std::string>()) << path;
    const auto& metadata = want["metadata"];
    ASSERT_EQ((*file)->metadata().size(), metadata.size()) << path;
    for (size_t i = 0; i < metadata.size(); ++i) {
      const GgufKeyValue& kv = (*file)->metadata()[i];
      const std::string where = path + ": " + kv.key;
      EXPECT_EQ(kv.key, metadata[i]["key"].get<std::string>()) << path;
      EXPECT_EQ(static_cast<uint32_t>(kv.value.type()), metadata[i]["type"].get<uint32_t>()) << where;
      if (kv.value.type() == GgufValueType::array) {
        EXPECT_EQ(static_cast<uint32_t>(kv.value.element_type()), metadata[i]["subType"].get<uint32_t>()) << where;
      }
      const nlohmann::json mine = as_reference_json(kv.value);
      EXPECT_EQ(mine, metadata[i]["value"]) << where << ": sparq " << mine.dump() << ", @huggingface/gguf "
                                            << metadata[i]["value"].dump();
    }
    const auto& tensors = want["tensors"];
    ASSERT_EQ((*file)->tensors().size(), tensors.size()) << path;
    for (size_t i = 0; i < tensors.size(); ++i) {
      const GgufTensor& t = (*file)->tensors()[i];
      EXPECT_EQ(t.name, tensors[i]["name"].get<std::string>()) << path;
      EXPECT_EQ(t.type, tensors[i]["type"].get<uint32_t>()) << t.name;
      EXPECT_EQ(std::to_string(t.offset), tensors[i]["offset"].get<std::string>()) << t.name;
      std::vector<std::string> dims;
      for (uint64_t d : t.dims) dims.push_back(std::to_string(d));
      EXPECT_EQ(dims, tensors[i]["dims"].get<std::vector<std::string>>()) << t.name;
    }
  }
}

// ---- hostile and damaged files ---------------------------------------------------------------

TEST(GgufFile, SampleBuilderWritesAValidFile) {
  const std::vector<uint8_t> bytes = sample().build();  // from_memory reads it in place
  auto f = parse(bytes);
  ASSERT_TRUE(f.ok()) << f.error().message();
  ASSERT_EQ((*f)->tensors().size(), 3u);
  auto norm = (*f)->dequantize(*(*f)->find_tensor("norm"));
  ASSERT_TRUE(norm.ok());
  EXPECT_EQ(*norm, (std::vector<float>{1.0f, -2.0f, 0.0f, INFINITY}));
  auto w = (*f)->dequantize(*(*f)->find_tensor("blk.0.w"));
  ASSERT_TRUE(w.ok());
  EXPECT_EQ((*w)[0], -16.0f);
  EXPECT_EQ((*w)[63], 34.0f);
}

TEST(GgufFile, VersionOneBigEndianAndNonGgufAreRefusedByName) {
  Builder v1 = sample();
  v1.version = 1;
  EXPECT_HAS(error_of(v1.build()), "t.gguf: GGUF version 1 is not supported");
  Builder v4 = sample();
  v4.version = 4;
  EXPECT_HAS(error_of(v4.build()), "t.gguf: GGUF version 4 is not supported");
  Builder be = sample();
  be.version = 0x03000000;  // version 3 written big-endian
  auto f = parse(be.build());
  ASSERT_FALSE(f.ok());
  EXPECT_HAS(f.error().message(), "t.gguf: big-endian GGUF (version 3 stored byte-swapped) is not supported");
  EXPECT_EQ(f.error().kind(), ErrorKind::unsupported);
  std::vector<uint8_t> bytes = sample().build();
  bytes[0] = 'X';
  EXPECT_HAS(error_of(bytes), "t.gguf: not a GGUF file");
  EXPECT_HAS(error_of({'G', 'G'}), "t.gguf: 2 bytes, too short for a GGUF file");
}

TEST(GgufFile, HostileCountsAndLengthsAreRefusedBeforeAllocating) {
  Builder many_tensors = sample();
  many_tensors.tensor_count = uint64_t{1} << 60;
  EXPECT_HAS(error_of(many_tensors.build()), "tensor count 1152921504606846976 cannot fit");
  Builder many_keys = sample();
  many_keys.metadata_count = ~uint64_t{0};
  EXPECT_HAS(error_of(many_keys.build()), "metadata count 18446744073709551615 cannot fit");

  Builder long_string;
  std::vector<uint8_t> s;
  put(s, uint64_t{1} << 40, 8);
  long_string.add("k", GgufValueType::string, s);
  EXPECT_HAS(error_of(long_string.build()), "t.gguf: metadata 'k' at byte 37: length 1099511627776 runs past the end");

  Builder long_array;
  std::vector<uint8_t> a;
  put(a, static_cast<uint32_t>(GgufValueType::u64), 4);
  put(a, uint64_t{1} << 58, 8);
  long_array.add("arr", GgufValueType::array, a);
  EXPECT_HAS(error_of(long_array.build()), "metadata 'arr' at byte 39: array of 288230376151711744 uint64 values "
                                           "cannot fit");

  Builder many_strings;
  std::vector<uint8_t> ms;
  put(ms, static_cast<uint32_t>(GgufValueType::string), 4);
  put(ms, 1000, 8);
  put_string(ms, "only one");
  many_strings.add("strs", GgufValueType::array, ms);
  EXPECT_HAS(error_of(many_strings.build()), "array of 1000 string values cannot fit");

  // Arrays nested deeper than the bound.
  Builder deep;
  std::vector<uint8_t> d;
  for (int i = 0; i < 12; ++i) {
    put(d, static_cast<uint32_t>(GgufValueType::array), 4);
    put(d, 1, 8);
  }
  put(d, static_cast<uint32_t>(GgufValueType::u8), 4);
  put(d, 0, 8);
  deep.add("deep", GgufValueType::array, d);
  EXPECT_HAS(error_of(deep.build()), "arrays nested more than 8 deep");

  // Counts that fit in the file but exceed the reader's bounds.
  Builder too_many_tensors;
  too_many_tensors.tensor_count = (uint64_t{1} << 20) + 1;
  std::vector<uint8_t> big = too_many_tensors.build();
  big.resize(big.size() + 33 * ((size_t{1} << 20) + 1));
  EXPECT_HAS(error_of(big), "t.gguf: tensor count 1048577 exceeds the limit of 1048576");
  Builder too_many_keys;
  too_many_keys.metadata_count = (uint64_t{1} << 20) + 1;
  big = too_many_keys.build();
  big.resize(big.size() + 14 * ((size_t{1} << 20) + 1));
  EXPECT_HAS(error_of(big), "t.gguf: metadata count 1048577 exceeds the limit of 1048576");
  Builder many_nested;
  std::vector<uint8_t> n;
  put(n, static_cast<uint32_t>(GgufValueType::array), 4);
  put(n, (1 << 16) + 1, 8);
  for (int i = 0; i < (1 << 16) + 1; ++i) {
    put(n, static_cast<uint32_t>(GgufValueType::u8), 4);
    put(n, 0, 8);
  }
  many_nested.add("nested", GgufValueType::array, n);
  EXPECT_HAS(error_of(many_nested.build()), "metadata 'nested' at byte 42: more than 65536 elements in arrays of arrays");

  Builder key_name_huge;
  key_name_huge.kv_count = 1;
  put(key_name_huge.kv, ~uint64_t{0}, 8);
  key_name_huge.kv.resize(key_name_huge.kv.size() + 32);
  EXPECT_HAS(error_of(key_name_huge.build()), "metadata key 0 at byte 24: length 18446744073709551615 runs past");
}

TEST(GgufFile, BadValuesKeysAndTypesAreRefusedNamingTheItem) {
  Builder bad_bool;
  bad_bool.add("flag", GgufValueType::boolean, {2});
  EXPECT_HAS(error_of(bad_bool.build()), "metadata 'flag' at byte 40: bool value 2 is neither 0 nor 1");
  Builder bad_type;
  bad_type.add("k", GgufValueType(13), {0});
  EXPECT_HAS(error_of(bad_type.build()), "metadata 'k' at byte 33: unknown value type 13");
  Builder dup = sample();
  dup.add_u32("llama.context_length", 1);
  EXPECT_HAS(error_of(dup.build()), "metadata 'llama.context_length' at byte");
  EXPECT_HAS(error_of(dup.build()), "key also defined at byte");
  Builder align_type = sample();
  align_type.add_string("general.alignment", "32");
  EXPECT_HAS(error_of(align_type.build()), "metadata 'general.alignment': expected uint32, found string");
  Builder align_pow = sample();
  align_pow.add_u32("general.alignment", 48);
  EXPECT_HAS(error_of(align_pow.build()), "metadata 'general.alignment': 48 is not a power of two");
}

TEST(GgufFile, BadTensorInfosAreRefusedNamingTheTensor) {
  auto with = [](auto change) {
    Builder b = sample();
    change(b);
    return error_of(b.build());
  };
  EXPECT_HAS(with([](Builder& b) { b.tensors[1].dims = {}; }), "tensor 'blk.0.k' (info at byte");
  EXPECT_HAS(with([](Builder& b) { b.tensors[1].dims = {}; }), "0 dimensions (1 to 4 are valid)");
  EXPECT_HAS(with([](Builder& b) { b.tensors[1].dims = {256, 1, 1, 1, 1}; }), "5 dimensions");
  EXPECT_HAS(with([](Builder& b) { b.tensors[0].type = 99; }), "tensor 'blk.0.w' (info at byte");
  EXPECT_HAS(with([](Builder& b) { b.tensors[0].type = 99; }), "unknown ggml type 99");
  EXPECT_HAS(with([](Builder& b) { b.tensors[0].type = 31; }), "type Q4_0_4_4 (31) was removed from ggml");
  EXPECT_HAS(with([](Builder& b) { b.tensors[0].dims = {16, 4}; }),
             "rows of 16 values are not a whole number of Q8_0 blocks of 32");
  EXPECT_HAS(with([](Builder& b) { b.tensors[0].dims = {uint64_t{1} << 63, 1}; }), "negative as ggml's int64");
  EXPECT_HAS(with([](Builder& b) { b.tensors[0].dims = {uint64_t{1} << 40, uint64_t{1} << 40}; }),
             "hold more than 2^63 values");
  EXPECT_HAS(with([](Builder& b) { b.tensors[2].name = "blk.0.w"; }), "name also used by the tensor at byte");
  EXPECT_HAS(with([](Builder& b) { b.tensors[2].offset = 16; }),
             "tensor 'norm' (info at byte");
  EXPECT_HAS(with([](Builder& b) { b.tensors[2].offset = 16; }), "data offset 16 is not a multiple of the alignment 32");
  EXPECT_HAS(with([](Builder& b) { b.tensors[2].offset = 0; }), "overlaps tensor");
  EXPECT_HAS(with([](Builder& b) { b.tensors[2].dims = {1 << 20}; }), "run past the end of the file");
  EXPECT_HAS(with([](Builder& b) { b.tensors[2].offset = ~uint64_t{0} - 31; }), "run past the end of the file");
  // Overlapping the end of another tensor, not just its start.
  EXPECT_HAS(with([](Builder& b) { b.tensors[1].offset = 64; }),
             "tensor 'blk.0.k' (info at byte 280): data [448, 592) overlaps tensor 'blk.0.w' [384, 452)");
}

TEST(GgufFile, TruncationAtEveryOffsetIsAnError) {
  const std::vector<uint8_t> bytes = sample().build();
  ASSERT_TRUE(parse(bytes).ok());
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + n);
    auto f = parse(cut);
    ASSERT_FALSE(f.ok()) << "truncated to " << n << " bytes was accepted";
    EXPECT_EQ(f.error().message().rfind("t.gguf: ", 0), 0u) << f.error().message();
  }
}

TEST(GgufFile, EveryFlippedByteIsAnErrorOrASafeRead) {
  std::vector<uint8_t> bytes = sample().build();
  size_t refused = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xFF}}) {
      bytes[i] ^= mask;
      auto f = parse(bytes, "damaged.gguf");
      if (!f.ok()) {
        ++refused;
        EXPECT_EQ(f.error().message().rfind("damaged.gguf: ", 0), 0u) << f.error().message();
      } else {
        for (const GgufTensor& t : (*f)->tensors()) {
          ASSERT_LE(t.file_offset + t.bytes.size(), bytes.size());
          if (t.elements <= (1u << 20)) (void)(*f)->dequantize(t);
        }
        for (const GgufKeyValue& kv : (*f)->metadata()) (void)kv.value.type_name();
      }
      bytes[i] ^= mask;
    }
  }
  // The header, counts, lengths and types are refused; flips in names, values and data read.
  EXPECT_GT(refused, 100u);
}

TEST(GgufFile, OpenNamesThePathAndRefusesWhatIsNotARegularFile) {
  const std::string dir = test::temp_dir("gguf_open");
  auto missing = GgufFile::open(dir + "/none.gguf");
  ASSERT_FALSE(missing.ok());
  EXPECT_HAS(missing.error().message(), dir + "/none.gguf");
  auto directory = GgufFile::open(dir);
  ASSERT_FALSE(directory.ok());
  EXPECT_HAS(directory.error().message(), dir);
  const std::string path = dir + "/cut.gguf";
  std::vector<uint8_t> bytes = sample().build();
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size() - 1);
  auto cut = GgufFile::open(path);
  ASSERT_FALSE(cut.ok());
  EXPECT_HAS(cut.error().message(), path + ": tensor 'norm'");
}

}  // namespace
}  // namespace sparq::formats
