// Decoding and the decoder models' tokenizers, on the committed fixtures
// (tests/tokenizers/fixtures, built by make_decoder_tokenizer_fixtures.py). That decode()
// equals Hugging Face's is tests/tokenizers/compare_with_hf.py; here: the streaming
// detokenizer's promise (its pieces concatenate to decode() of all ids, for every fixture
// and text), token lookups against the ids tokenizer.json itself lists, byte fallback and
// Metaspace splitting by their definitions, and errors that name the JSON path.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <random>
#include <set>

#include "formats/input_file.h"
#include "runtime/text/tokenizer.h"
#include "runtime/text/tokenizer_pipeline.h"
#include "runtime/text/tokenizer_stream.h"
#include "runtime/text/tokenizer_unicode.h"

namespace sparq::runtime {
namespace {

using nlohmann::json;

const std::string kTokenizers = std::string(SPARQ_SOURCE_DIR) + "/tests/tokenizers";

json fixture_json(const std::string& name) {
  auto j = formats::load_json_file(kTokenizers + "/fixtures/" + name + "/tokenizer.json");
  EXPECT_TRUE(j.ok()) << name;
  return j.ok() ? *j : json();
}

std::shared_ptr<const Tokenizer> fixture(const std::string& name) {
  auto t = Tokenizer::from_json(fixture_json(name));
  EXPECT_TRUE(t.ok()) << name << ": " << (t.ok() ? "" : t.error().message());
  return t.ok() ? *t : nullptr;
}

std::vector<std::string> texts() {
  std::vector<std::string> out;
  for (const std::string& path : {kTokenizers + "/adversarial.jsonl",
                                 std::string(SPARQ_SOURCE_DIR) + "/tests/data/debian-descriptions-dev-subset.jsonl"}) {
    std::ifstream in(path);
    std::string line;
    for (size_t n = 0; std::getline(in, line) && n < 200; ++n) out.push_back(json::parse(line)["text"]);
  }
  EXPECT_GT(out.size(), 300u);
  return out;
}

// The streamed pieces of `ids`, and how many came out before finish().
std::pair<std::string, size_t> stream(const std::shared_ptr<const Tokenizer>& t, const std::vector<int32_t>& ids,
                                      bool skip_special) {
  StreamingDetokenizer detokenizer(t, skip_special);
  std::string text;
  size_t early = 0;
  for (int32_t id : ids) {
    std::string piece = detokenizer.push(id);
    early += !piece.empty();
    text += piece;
  }
  return {text + detokenizer.finish(), early};
}

const char* const kFixtures[] = {"sp-bpe-llama2", "sp-bpe-metaspace", "bpe-llama3", "bpe-qwen2",
                                 "bpe-byte-level", "wordpiece-uncased"};

TEST(StreamingDetokenizer, PiecesConcatenateToDecodeOfAllIds) {
  const std::vector<std::string> all_texts = texts();
  for (const char* name : kFixtures) {
    auto t = fixture(name);
    ASSERT_TRUE(t) << name;
    std::vector<std::vector<int32_t>> id_lists;
    for (const std::string& text : all_texts) id_lists.push_back(t->encode(text, 0)->ids);
    // Random ids too: byte tokens that cut characters anywhere, specials mid-text.
    std::mt19937 rng(7);
    std::uniform_int_distribution<int32_t> any_id(0, int32_t(t->vocab_size()) - 1);
    for (int k = 0; k < 300; ++k) {
      std::vector<int32_t> ids(size_t(1 + k % 40));
      for (int32_t& id : ids) id = any_id(rng);
      id_lists.push_back(ids);
    }
    size_t tokens = 0, early = 0;
    for (const auto& ids : id_lists) {
      for (bool skip : {false, true}) {
        auto [text, pieces] = stream(t, ids, skip);
        ASSERT_EQ(text, t->decode(ids, skip)) << name << ", skip_special_tokens " << skip;
        tokens += ids.size();
        early += pieces;
      }
    }
    // It streams: most tokens complete text when they arrive, not at finish().
    EXPECT_GT(early, tokens / 3) << name;
  }
}

TEST(StreamingDetokenizer, HoldsBackACharacterUntilItsLastByte) {
  auto t = fixture("bpe-llama3");
  ASSERT_TRUE(t);
  // A rare character is several byte-level tokens; the first ones alone are no text yet.
  std::vector<int32_t> ids = t->encode("\xF0\x93\x80\x80", 0)->ids;  // U+13000, Egyptian hieroglyph A001
  ASSERT_GT(ids.size(), 2u);
  StreamingDetokenizer detokenizer(t, true);
  std::string text;
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string piece = detokenizer.push(ids[i]);
    if (i + 1 < ids.size()) EXPECT_EQ(text + piece, "") << "after id " << i;
    text += piece;
  }
  EXPECT_EQ(text, "\xF0\x93\x80\x80");
  EXPECT_EQ(detokenizer.finish(), "");
}

TEST(TokenizerLookups, TokenToIdAndSpecialFollowTheAddedTokens) {
  for (const char* name : {"bpe-llama3", "bpe-qwen2", "sp-bpe-llama2", "sp-bpe-metaspace"}) {
    json j = fixture_json(name);
    auto t = fixture(name);
    ASSERT_TRUE(t);
    size_t special = 0;
    std::set<std::string> added_contents;
    for (const json& added : j["added_tokens"]) {
      added_contents.insert(added["content"].get<std::string>());
      int32_t id = added["id"];
      EXPECT_EQ(t->token_to_id(added["content"].get<std::string>()), id) << name;
      EXPECT_EQ(t->is_special(id), added["special"].get<bool>()) << name << " " << added["content"];
      special += added["special"].get<bool>();
    }
    EXPECT_GT(special, 2u) << name;
    for (const auto& [token, id] : j["model"]["vocab"].items()) {
      if (added_contents.contains(token)) continue;
      EXPECT_EQ(t->token_to_id(token), id.get<int32_t>()) << name << " " << token;
      EXPECT_FALSE(t->is_special(id.get<int32_t>())) << name << " " << token;
    }
    EXPECT_EQ(t->token_to_id("<|no such token|>"), -1);
    EXPECT_FALSE(t->is_special(-1));
    EXPECT_FALSE(t->is_special(int32_t(t->vocab_size()) + 5));
  }
  auto llama3 = fixture("bpe-llama3");
  EXPECT_EQ(llama3->id_to_token(llama3->token_to_id("<|eot_id|>")), "<|eot_id|>");
}

// SentencePiece's byte fallback: a character with no token is its UTF-8 bytes as <0xXX> tokens.
TEST(TokenizerByteFallback, UnknownCharactersBecomeTheirBytes) {
  auto t = fixture("sp-bpe-llama2");
  ASSERT_TRUE(t);
  const std::string hieroglyph = "\xF0\x93\x80\x80";
  ASSERT_EQ(t->token_to_id(hieroglyph), -1);
  auto e = t->encode("x" + hieroglyph, 0);
  ASSERT_TRUE(e.ok());
  std::vector<std::string> tokens;
  for (int32_t id : e->ids) tokens.push_back(t->id_to_token(id));
  ASSERT_GE(tokens.size(), 4u);
  std::vector<std::string> last(tokens.end() - 4, tokens.end());
  EXPECT_EQ(last, (std::vector<std::string>{"<0xF0>", "<0x93>", "<0x80>", "<0x80>"}));
  EXPECT_EQ(t->decode(e->ids, true), "x" + hieroglyph);
  // Without byte fallback the same character is the unknown token.
  json j = fixture_json("sp-bpe-llama2");
  j["model"]["byte_fallback"] = false;
  auto plain = Tokenizer::from_json(j);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ((*plain)->encode(hieroglyph, 0)->ids.back(), (*plain)->token_to_id("<unk>"));
}

// Metaspace with split true (Hugging Face's Rust library; transformers.js ignores `split`):
// each word starts at a replacement character.
TEST(TokenizerMetaspace, SplitStartsAWordAtEachReplacement) {
  auto pre = make_pre_tokenizer({{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", "always"},
                                 {"split", true}},
                                "p");
  ASSERT_TRUE(pre.ok());
  PreTokens words;
  (*pre)->split("  a b", words);
  std::vector<std::string> got;
  for (size_t i = 0; i < words.size(); ++i) got.emplace_back(words[i]);
  EXPECT_EQ(got, (std::vector<std::string>{"\u2581", "\u2581a", "\u2581b"}));
  words.clear();
  (*pre)->split_section("a", words, false);
  EXPECT_EQ(words[0], "\u2581a");  // "always" prepends in every section
  auto first = make_pre_tokenizer({{"type", "Metaspace"}, {"prepend_scheme", "first"}, {"split", false}}, "p");
  ASSERT_TRUE(first.ok());
  words.clear();
  (*first)->split_section("a b", words, false);
  EXPECT_EQ(words[0], "a\u2581b");
}

TEST(TokenizerDecodeErrors, UnsupportedPartsNameTheirJsonPath) {
  auto expect_error = [](json j, const std::string& fragment) {
    auto t = Tokenizer::from_json(j);
    ASSERT_FALSE(t.ok()) << fragment;
    EXPECT_NE(t.error().message().find(fragment), std::string::npos) << t.error().message();
  };
  json j = fixture_json("bpe-llama3");
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\w+";
  expect_error(j, "tokenizer.pre_tokenizer.pretokenizers[0].pattern.Regex: this regular expression is not supported");
  j = fixture_json("bpe-llama3");
  j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed";
  expect_error(j, "tokenizer.pre_tokenizer.pretokenizers[0].behavior: 'Removed' is not supported");
  j = fixture_json("sp-bpe-llama2");
  j["decoder"]["decoders"][3]["type"] = "CTC";
  expect_error(j, "tokenizer.decoder.decoders[3].type: 'CTC' is not supported");
  j = fixture_json("sp-bpe-llama2");
  j["decoder"]["decoders"][0]["pattern"] = {{"Regex", "\u2581+"}};
  expect_error(j, "tokenizer.decoder.decoders[0].pattern: only {\"String\": ...} patterns");
  j = fixture_json("sp-bpe-metaspace");
  j["pre_tokenizer"]["prepend_scheme"] = "sometimes";
  expect_error(j, "tokenizer.pre_tokenizer.prepend_scheme: expected");
}

// The WHATWG decoder's replacement: one U+FFFD per maximal invalid subpart.
TEST(TokenizerUnicode, LossyUtf8ReplacesMaximalSubparts) {
  auto lossy = [](std::string_view bytes) {
    std::string out;
    unicode::append_utf8_lossy(out, bytes);
    return out;
  };
  const std::string r(unicode::kReplacementCharacter);
  EXPECT_EQ(lossy("a\xE2\x82\xAC"), "a\xE2\x82\xAC");
  EXPECT_EQ(lossy("\xE2\x82"), r);            // truncated: one replacement
  EXPECT_EQ(lossy("\xE2\x82" "a"), r + "a");  // the byte that broke it starts afresh
  EXPECT_EQ(lossy("\xC0\xAF"), r + r);        // overlong lead: each byte alone
  EXPECT_EQ(lossy("\xED\xA0\x80"), r + r + r);  // surrogate
  EXPECT_EQ(lossy("\xF4\x90\x80\x80"), r + r + r + r);  // past U+10FFFF
  EXPECT_EQ(lossy("\xF0\x9F\x98"), r);
}

}  // namespace
}  // namespace sparq::runtime
