// The safetensors reader against files written by an independent little writer
// (safetensors_test_writer.h): values of each dtype (expected bit patterns written out by
// hand from IEEE 754), shards through an index, and every kind of damage ending in an error
// that names the file and, where there is one, the tensor.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>

#include "cli_runner.h"
#include "formats/safetensors.h"
#include "formats/safetensors_test_writer.h"

namespace {

using nlohmann::json;
using sparq::formats::SafetensorsCheckpoint;
using sparq::formats::SafetensorsDtype;
using sparq::test::StEntry;
using sparq::test::write_file;

std::vector<uint8_t> u16_bytes(std::initializer_list<uint16_t> v) {
  std::vector<uint8_t> b;
  for (uint16_t x : v) {
    b.push_back(static_cast<uint8_t>(x & 0xFF));
    b.push_back(static_cast<uint8_t>(x >> 8));
  }
  return b;
}

std::vector<StEntry> sample_entries() {
  return {
      {"empty", "F32", {0, 4}, {}},
      sparq::test::st_f32("w", {2, 3}, {1.0f, -2.5f, 3.25f, 0.0f, 1e-3f, -7.0f}),
      // F16: 1.0, -2.0, 0.5, 65504 (largest finite)
      {"h", "F16", {4}, u16_bytes({0x3C00, 0xC000, 0x3800, 0x7BFF})},
      // BF16: 1.0, -2.0, 3.140625
      {"b", "BF16", {1, 3}, u16_bytes({0x3F80, 0xC000, 0x4049})},
      {"ids", "I64", {2}, std::vector<uint8_t>(16)},
  };
}

// Opens `bytes` written to a file and returns the error text (empty when it opened).
std::string open_error(const std::string& path, const std::vector<uint8_t>& bytes) {
  write_file(path, bytes);
  auto ckpt = SafetensorsCheckpoint::open(path);
  return ckpt.ok() ? std::string() : ckpt.error().message();
}

std::string header_with(const std::string& name, const json& entry) {
  return json{{name, entry}}.dump();
}

TEST(Safetensors, ReadsF32F16Bf16ValuesShapesAndMetadata) {
  std::string dir = sparq::test::temp_dir("safetensors_values");
  auto entries = sample_entries();
  json header = sparq::test::st_header(entries);
  header["__metadata__"] = {{"format", "pt"}};
  write_file(dir + "/model.safetensors", sparq::test::st_file_bytes(header.dump(), sparq::test::st_data(entries)));

  auto ckpt = SafetensorsCheckpoint::open(dir);  // the directory finds model.safetensors
  ASSERT_TRUE(ckpt.ok()) << ckpt.error().message();
  const auto& c = **ckpt;
  EXPECT_EQ(c.tensors().size(), 5u);
  EXPECT_EQ(c.metadata().at("format"), "pt");
  ASSERT_EQ(c.files().size(), 1u);

  const auto* w = c.find("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->dtype, SafetensorsDtype::f32);
  EXPECT_EQ(w->shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(*c.read_f32("w"), (std::vector<float>{1.0f, -2.5f, 3.25f, 0.0f, 1e-3f, -7.0f}));
  EXPECT_EQ(c.find("h")->dtype, SafetensorsDtype::f16);
  EXPECT_EQ(*c.read_f32("h"), (std::vector<float>{1.0f, -2.0f, 0.5f, 65504.0f}));
  EXPECT_EQ(c.find("b")->dtype, SafetensorsDtype::bf16);
  EXPECT_EQ(*c.read_f32("b"), (std::vector<float>{1.0f, -2.0f, 3.140625f}));
  EXPECT_TRUE(c.read_f32("empty")->empty());
  EXPECT_EQ(c.find("nope"), nullptr);

  // Integer buffers are listed (an importer may ignore them) but not readable as floats.
  ASSERT_NE(c.find("ids"), nullptr);
  EXPECT_EQ(c.find("ids")->dtype_name, "I64");
  auto ids = c.read_f32("ids");
  ASSERT_FALSE(ids.ok());
  EXPECT_NE(ids.error().message().find("'ids'"), std::string::npos) << ids.error().message();
  EXPECT_NE(ids.error().message().find("I64"), std::string::npos) << ids.error().message();
  EXPECT_NE(ids.error().message().find("model.safetensors"), std::string::npos) << ids.error().message();
  EXPECT_EQ(ids.error().kind(), sparq::ErrorKind::unsupported);
}

TEST(Safetensors, ShardsThroughIndexEachOpenedOnce) {
  std::string dir = sparq::test::temp_dir("safetensors_shards");
  auto entries = sample_entries();
  std::vector<StEntry> a(entries.begin(), entries.begin() + 2), b(entries.begin() + 2, entries.end());
  ASSERT_EQ(b.size(), 3u);
  write_file(dir + "/s1.safetensors", sparq::test::st_file_bytes(a));
  write_file(dir + "/s2.safetensors", sparq::test::st_file_bytes(b));
  json map = json::object();
  for (const auto& e : a) map[e.name] = "s1.safetensors";
  for (const auto& e : b) map[e.name] = "s2.safetensors";
  write_file(dir + "/model.safetensors.index.json", json{{"weight_map", map}}.dump());

  auto ckpt = SafetensorsCheckpoint::open(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.error().message();
  EXPECT_EQ((*ckpt)->files().size(), 2u);
  EXPECT_EQ((*ckpt)->tensors().size(), entries.size());
  EXPECT_EQ(*(*ckpt)->read_f32("b"), (std::vector<float>{1.0f, -2.0f, 3.140625f}));
  EXPECT_EQ((*ckpt)->find("b")->file, dir + "/s2.safetensors");

  // A shard the index names but that is not there.
  map["w"] = "s3.safetensors";
  write_file(dir + "/model.safetensors.index.json", json{{"weight_map", map}}.dump());
  auto missing = SafetensorsCheckpoint::open(dir + "/model.safetensors.index.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("s3.safetensors"), std::string::npos) << missing.error().message();
  EXPECT_NE(missing.error().message().find("missing"), std::string::npos) << missing.error().message();

  // The index places a tensor in a shard that does not hold it.
  map["w"] = "s2.safetensors";
  write_file(dir + "/model.safetensors.index.json", json{{"weight_map", map}}.dump());
  auto misplaced = SafetensorsCheckpoint::open(dir);
  ASSERT_FALSE(misplaced.ok());
  EXPECT_NE(misplaced.error().message().find("'w'"), std::string::npos) << misplaced.error().message();

  // The same tensor stored in two shards.
  map["w"] = "s1.safetensors";
  write_file(dir + "/s2.safetensors", sparq::test::st_file_bytes({b[0], b[1], b[2], a[1]}));
  write_file(dir + "/model.safetensors.index.json", json{{"weight_map", map}}.dump());
  auto twice = SafetensorsCheckpoint::open(dir);
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.error().message().find("'w'"), std::string::npos) << twice.error().message();
  EXPECT_NE(twice.error().message().find("s1.safetensors"), std::string::npos) << twice.error().message();

  // A shard path leaving the directory.
  map["w"] = "../s1.safetensors";
  write_file(dir + "/model.safetensors.index.json", json{{"weight_map", map}}.dump());
  auto escape = SafetensorsCheckpoint::open(dir);
  ASSERT_FALSE(escape.ok());
  EXPECT_NE(escape.error().message().find("weight_map.w"), std::string::npos) << escape.error().message();

  write_file(dir + "/model.safetensors.index.json", std::string("{\"weight_map\": [1, 2]}"));
  auto bad = SafetensorsCheckpoint::open(dir);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("model.safetensors.index.json"), std::string::npos) << bad.error().message();
}

struct Damage {
  const char* what;
  std::vector<uint8_t> bytes;
  std::string tensor;  // the tensor the message must name ("" when the damage is file-level)
  std::string detail;  // a word the message must contain
};

TEST(Safetensors, EveryKindOfDamageNamesFileAndTensor) {
  std::string dir = sparq::test::temp_dir("safetensors_damage");
  const auto entries = sample_entries();
  const std::vector<uint8_t> good = sparq::test::st_file_bytes(entries);
  const std::vector<uint8_t> data = sparq::test::st_data(entries);
  auto with_header = [&](const std::string& h) { return sparq::test::st_file_bytes(h, data); };
  auto entry = [](const char* dtype, json shape, uint64_t b, uint64_t e) {
    return json{{"dtype", dtype}, {"shape", shape}, {"data_offsets", {b, e}}};
  };

  std::vector<uint8_t> truncated(good.begin(), good.end() - 5);  // the last tensor's bytes cut short
  std::vector<uint8_t> length_past_eof = good;
  length_past_eof[0] = 0xFF, length_past_eof[1] = 0xFF, length_past_eof[2] = 0x01;
  std::vector<uint8_t> huge_length = good;
  for (int i = 0; i < 8; ++i) huge_length[i] = 0xFF;

  std::vector<Damage> cases = {
      {"shorter than the length field", {1, 2, 3}, "", "too short"},
      {"empty file", {}, "", "too short"},
      {"data cut short", truncated, "ids", "past the end"},
      {"header length past the end of the file", length_past_eof, "", "past the end"},
      {"header length overflowing", huge_length, "", "header length"},
      {"bad JSON", with_header("{\"w\": {\"dtype\": \"F32\","), "", "JSON"},
      {"header not an object", with_header("[1, 2, 3]"), "", "object"},
      {"entry not an object", with_header(header_with("w", 3)), "w", "object"},
      {"missing dtype", with_header(header_with("w", {{"shape", {1}}, {"data_offsets", {0, 4}}})), "w", "dtype"},
      {"unknown dtype", with_header(header_with("w", entry("F99", {1}, 0, 4))), "w", "F99"},
      {"negative dim", with_header(header_with("w", entry("F32", {-1}, 0, 4))), "w", "shape"},
      {"fractional dim", with_header(header_with("w", entry("F32", {1.5}, 0, 4))), "w", "shape"},
      {"offsets reversed", with_header(header_with("w", entry("F32", {1}, 8, 4))), "w", "reversed"},
      {"offsets out of range", with_header(header_with("w", entry("F32", {2}, data.size(), data.size() + 8))), "w",
       "past the end"},
      {"wrong byte count", with_header(header_with("w", entry("F32", {3}, 0, 8))), "w", "needs 12"},
      {"byte count overflowing", with_header(header_with("w", entry("F32", {uint64_t{1} << 40, uint64_t{1} << 40}, 0, 8))),
       "w", "overflow"},
      {"overlapping tensors",
       with_header(json{{"a", entry("F32", {2}, 0, 8)}, {"b", entry("F32", {2}, 4, 12)}}.dump()), "b", "overlaps"},
      {"duplicate names",
       with_header("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}, "
                   "\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}"),
       "w", "twice"},
      {"metadata not strings", with_header(json{{"__metadata__", {{"format", 1}}}}.dump()), "", "__metadata__"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Damage& d = cases[i];
    std::string path = dir + "/case" + std::to_string(i) + ".safetensors";
    std::string err = open_error(path, d.bytes);
    ASSERT_FALSE(err.empty()) << d.what << ": opened";
    EXPECT_NE(err.find(path), std::string::npos) << d.what << ": " << err;
    if (!d.tensor.empty()) {
      EXPECT_NE(err.find("'" + d.tensor + "'"), std::string::npos) << d.what << ": " << err;
    }
    EXPECT_NE(err.find(d.detail), std::string::npos) << d.what << ": " << err;
  }
  // The undamaged bytes open, so each failure above comes from its damage alone.
  EXPECT_EQ(open_error(dir + "/good.safetensors", good), "");

  auto absent = SafetensorsCheckpoint::open(dir + "/absent.safetensors");
  ASSERT_FALSE(absent.ok());
  EXPECT_NE(absent.error().message().find("absent.safetensors"), std::string::npos);
  auto no_weights = SafetensorsCheckpoint::open(sparq::test::temp_dir("safetensors_empty_dir"));
  ASSERT_FALSE(no_weights.ok());
  EXPECT_NE(no_weights.error().message().find("model.safetensors"), std::string::npos);
}

}  // namespace
