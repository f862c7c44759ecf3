// End-to-end `sparq tokenize`: from a tokenizer.json and from a .sparq model's metadata, one
// output line per input record, bad records as error lines while the job goes on. Expected
// ids are worked out by hand from the tiny WordPiece vocabulary below.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "cli_runner.h"
#include "formats/sparq_writer.h"

namespace {

using nlohmann::json;
using sparq::test::run_sparq;
using sparq::test::temp_dir;
using sparq::test::json_lines;

// [UNK]=0 [CLS]=1 [SEP]=2 hello=3 world=4 !=5 ##s=6
json tiny_tokenizer() {
  json vocab = {{"[UNK]", 0}, {"[CLS]", 1}, {"[SEP]", 2}, {"hello", 3}, {"world", 4}, {"!", 5}, {"##s", 6}};
  json added = json::array();
  for (const char* t : {"[UNK]", "[CLS]", "[SEP]"}) {
    added.push_back({{"id", vocab[t]}, {"content", t}, {"special", true}, {"normalized", false}});
  }
  return {{"added_tokens", added},
          {"normalizer", {{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true},
                          {"lowercase", true}, {"strip_accents", nullptr}}},
          {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
          {"post_processor", {{"type", "BertProcessing"}, {"sep", {"[SEP]", 2}}, {"cls", {"[CLS]", 1}}}},
          {"model", {{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"vocab", vocab}}}};
}

TEST(CliTokenize, TokenizerJsonRecordsPairsAndErrors) {
  std::string dir = temp_dir("cli_tokenize_json");
  std::ofstream(dir + "/tokenizer.json") << tiny_tokenizer().dump();
  std::string input =
      "{\"text\": \"Hello worlds!\", \"b\": \"WORLD\"}\n"
      "not json\n"
      "{\"other\": 1}\n"
      "{\"text\": \"hello hello hello\", \"b\": \"world\"}\n";
  auto r = run_sparq({"tokenize", dir + "/tokenizer.json", "--tokens", "--output", "-"}, input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto out = json_lines(r.out);
  ASSERT_EQ(out.size(), 4u) << r.out;
  EXPECT_EQ(out[0]["ids"], json({1, 3, 4, 6, 5, 2}));
  EXPECT_EQ(out[0]["tokens"], json({"[CLS]", "hello", "world", "##s", "!", "[SEP]"}));
  EXPECT_EQ(out[1]["error"]["line"], 2);
  EXPECT_NE(out[2]["error"]["message"].get<std::string>().find("\"text\""), std::string::npos);
  EXPECT_EQ(out[3]["ids"], json({1, 3, 3, 3, 2}));

  // Pairs truncated to 6: 3 special tokens leave 3, "world" (1) fits, "hello x3" keeps 2.
  r = run_sparq({"tokenize", dir + "/tokenizer.json", "--pair-field", "b", "--max-length", "6", "--output", "-"},
                input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  out = json_lines(r.out);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[3]["ids"], json({1, 3, 3, 2, 4, 2}));
  EXPECT_EQ(out[3]["type_ids"], json({0, 0, 0, 0, 1, 1}));
  EXPECT_EQ(out[3]["truncated_tokens"], 1);
}

TEST(CliTokenize, PlainTextLinesWithInvalidUtf8) {
  std::string dir = temp_dir("cli_tokenize_txt");
  std::ofstream(dir + "/tokenizer.json") << tiny_tokenizer().dump();
  std::ofstream(dir + "/in.txt", std::ios::binary) << "hello\nhel\xFFlo\nworld\n";
  auto r = run_sparq({"tokenize", dir + "/tokenizer.json", "--input", dir + "/in.txt", "--output", dir + "/out.jsonl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream f(dir + "/out.jsonl");
  std::stringstream ss;
  ss << f.rdbuf();
  auto out = json_lines(ss.str());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0]["ids"], json({1, 3, 2}));
  EXPECT_NE(out[1]["error"]["message"].get<std::string>().find("invalid UTF-8 at byte offset 3"), std::string::npos);
  EXPECT_EQ(out[2]["ids"], json({1, 4, 2}));
}

TEST(CliTokenize, SparqModelCarriesItsTokenizer) {
  std::string path = temp_dir("cli_tokenize_sparq") + "/m.sparq";
  auto writer = sparq::formats::SparqWriter::create(path);
  ASSERT_TRUE(writer.ok());
  json metadata = {{"architecture", {{"name", "bert"}}}, {"tokenizer", tiny_tokenizer()}};
  auto finished = (*writer)->finish(metadata);
  ASSERT_TRUE(finished.ok()) << finished.error().message();
  auto r = run_sparq({"tokenize", path, "--output", "-"}, "{\"text\": \"world hello\"}\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json_lines(r.out).at(0)["ids"], json({1, 4, 3, 2}));

  auto bad = run_sparq({"tokenize", "/nonexistent/tokenizer.json", "--output", "-"}, "");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("/nonexistent/tokenizer.json"), std::string::npos) << bad.err;
}

}  // namespace
