// Reading user-supplied files safely (formats/input_file.h, formats/document.h): regular
// files only, sizes bounded, JSON and YAML with bounded nesting and expansion and no
// duplicate keys. Each case is an attack that crashed, hung or silently misread before.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "cli_runner.h"
#include "formats/document.h"
#include "formats/input_file.h"

namespace {

using sparq::formats::load_document;
using sparq::formats::load_json_file;
using sparq::formats::parse_document;
using sparq::formats::parse_json;
using sparq::formats::read_regular_file;

void write_file(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

TEST(InputFile, AFifoIsRefusedWithoutBlocking) {
  std::string dir = sparq::test::temp_dir("input_fifo");
  std::string fifo = dir + "/config.json";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  // Without O_NONBLOCK this open() waits for a writer forever (ctest's timeout would fire).
  auto r = read_regular_file(fifo, 1 << 20);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find(fifo + ": a FIFO, not a regular file"), std::string::npos) << r.error().message();
}

TEST(InputFile, DirectoriesAndDevicesAreRefusedByName) {
  std::string dir = sparq::test::temp_dir("input_dir");
  auto d = read_regular_file(dir, 1 << 20);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message().find("a directory"), std::string::npos) << d.error().message();
  auto z = read_regular_file("/dev/zero", 1 << 20);
  ASSERT_FALSE(z);
  EXPECT_NE(z.error().message().find("/dev/zero: a character device"), std::string::npos) << z.error().message();
}

TEST(InputFile, SizeLimitIsEnforcedBeforeReading) {
  std::string path = sparq::test::temp_dir("input_size") + "/big.json";
  write_file(path, std::string(2000, ' ') + "{}");
  auto r = read_regular_file(path, 1000);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("more than the limit of 1000 bytes"), std::string::npos) << r.error().message();
  EXPECT_TRUE(read_regular_file(path, 4000));
}

TEST(ParseJson, DeepNestingIsRefused) {
  // 100,000 levels overflowed the stack when the value was serialised or destroyed.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto r = parse_json(deep, "tokenizer.json");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("tokenizer.json: nested deeper than 64 levels"), std::string::npos)
      << r.error().message();
  // At the limit it parses; the key path says where the depth was exceeded.
  std::string ok = std::string(63, '[') + std::string(63, ']');
  EXPECT_TRUE(parse_json(ok, "x"));
  auto keyed = parse_json(R"({"model": {"vocab": [[[1]]]}})", "t.json", {.max_depth = 3});
  ASSERT_FALSE(keyed);
  EXPECT_NE(keyed.error().message().find("model.vocab"), std::string::npos) << keyed.error().message();
}

TEST(ParseJson, DuplicateKeysAreRefusedAtAnyDepth) {
  auto top = parse_json(R"({"a": 1, "a": 2})", "f.json");
  ASSERT_FALSE(top);
  EXPECT_NE(top.error().message().find("key 'a' is listed twice in the top level"), std::string::npos)
      << top.error().message();
  auto nested = parse_json(R"({"x": {"b": 1, "c": {"b": 2}}, "y": [{"k": 1, "k": 1}]})", "f.json");
  ASSERT_FALSE(nested);
  EXPECT_NE(nested.error().message().find("key 'k' is listed twice in y.[]"), std::string::npos)
      << nested.error().message();
  // The same key in sibling objects is fine.
  EXPECT_TRUE(parse_json(R"({"x": {"b": 1}, "y": {"b": 2}, "z": [{"b": 3}, {"b": 4}]})", "f.json"));
}

TEST(ParseJson, NumbersBeyondDoubleAreAnErrorNotAnException) {
  auto r = parse_json(R"({"id": "b", "text": "x", "n": 1e400})", "line 3");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("line 3: not valid JSON"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("overflow"), std::string::npos) << r.error().message();
}

TEST(ParseJson, SizeLimit) {
  auto r = parse_json(std::string(100, ' ') + "1", "f.json", {.max_depth = 4, .max_bytes = 50});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("more than the limit of 50"), std::string::npos);
}

TEST(LoadJsonFile, NamesTheFile) {
  std::string path = sparq::test::temp_dir("input_json") + "/bad.json";
  write_file(path, "{\"a\": ");
  auto r = load_json_file(path);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message().rfind(path + ": not valid JSON", 0), 0u) << r.error().message();
}

#ifdef SPARQ_HAVE_YAML_CPP
TEST(LoadDocument, YamlAliasExpansionIsBounded) {
  // "Billion laughs": ten anchors, each a list of nine of the previous: 9^10 values.
  std::string yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 10; ++i) {
    yaml += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 9; ++k) yaml += (k ? ", *a" : "*a") + std::to_string(i - 1);
    yaml += "]\n";
  }
  std::string path = sparq::test::temp_dir("yaml_laughs") + "/workload.yaml";
  write_file(path, yaml);
  auto r = load_document(path);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("expands to more than"), std::string::npos) << r.error().message();
}

TEST(LoadDocument, YamlDuplicateKeysAndDeepNestingAreRefused) {
  std::string dir = sparq::test::temp_dir("yaml_dup");
  write_file(dir + "/dup.yaml", "name: a\nfloor: 1\nname: b\n");
  auto dup = load_document(dir + "/dup.yaml");
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message().find("line 3: key \"name\" is listed twice"), std::string::npos)
      << dup.error().message();
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += std::string(size_t(i) * 2, ' ') + "k:\n";
  write_file(dir + "/deep.yaml", deep);
  auto d = load_document(dir + "/deep.yaml");
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message().find("nested deeper than"), std::string::npos) << d.error().message();
}

// Found by tests/fuzz/workload_and_recipe_fuzz.cpp: a workload value with a byte that is not
// UTF-8 was accepted, and the message naming the bad value threw from nlohmann's dump().
TEST(LoadDocument, YamlScalarsAndKeysMustBeUtf8) {
  for (const std::string yaml : {"name: caf\xe9\n", "documents_per_day: 1\xa0\n",
                                 "costs:\n  pu\xff" "e: 1\n"}) {
    auto r = parse_document(yaml, "w.yaml", true);
    ASSERT_FALSE(r) << yaml;
    EXPECT_NE(r.error().message().find("w.yaml: line "), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find(": not valid UTF-8"), std::string::npos) << r.error().message();
  }
  auto ok = parse_document("name: caf\xc3\xa9 \xf0\x9f\x99\x82\n", "w.yaml", true);
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ((*ok)["name"], "caf\xc3\xa9 \xf0\x9f\x99\x82");
}
#endif

}  // namespace
