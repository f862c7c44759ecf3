// Tokenizers on tiny hand-made vocabularies, with every expected id worked out by hand from
// the algorithms' definitions (BERT's basic tokenizer + WordPiece, GPT-2's byte-level BPE,
// Hugging Face's post-processor templates and "longest_first" truncation). Equality with
// Hugging Face's implementation on real data is tests/tokenizers/compare_with_hf.py.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <set>
#include <thread>

#include "runtime/text/tokenizer.h"
#include "runtime/text/tokenizer_byte_level.h"
#include "runtime/text/tokenizer_pipeline.h"
#include "runtime/text/tokenizer_post_processor.h"
#include "runtime/text/tokenizer_unicode.h"

namespace sparq::runtime {
namespace {

using nlohmann::json;
using Ids = std::vector<int32_t>;

json vocab_of(const std::vector<std::string>& tokens) {
  json v = json::object();
  for (size_t i = 0; i < tokens.size(); ++i) v[tokens[i]] = i;
  return v;
}

// [UNK]=0 [CLS]=1 [SEP]=2, then the given tokens from id 3.
json wordpiece_json(const std::vector<std::string>& tokens, json normalizer, size_t max_chars = 100) {
  std::vector<std::string> all = {"[UNK]", "[CLS]", "[SEP]"};
  all.insert(all.end(), tokens.begin(), tokens.end());
  json added = json::array();
  for (int id = 0; id < 3; ++id) {
    added.push_back({{"id", id}, {"content", all[size_t(id)]}, {"special", true}, {"normalized", false},
                     {"lstrip", false}, {"rstrip", false}, {"single_word", false}});
  }
  return {{"added_tokens", added},
          {"normalizer", normalizer},
          {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
          {"post_processor", {{"type", "BertProcessing"}, {"sep", {"[SEP]", 2}}, {"cls", {"[CLS]", 1}}}},
          {"model",
           {{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"continuing_subword_prefix", "##"},
            {"max_input_chars_per_word", max_chars}, {"vocab", vocab_of(all)}}}};
}

json bert_normalizer(bool lowercase, json strip_accents) {
  return {{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true},
          {"lowercase", lowercase}, {"strip_accents", strip_accents}};
}

std::shared_ptr<const Tokenizer> make(const json& j) {
  auto t = Tokenizer::from_json(j);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message());
  return t.ok() ? *t : nullptr;
}

Ids ids_of(const Tokenizer& t, std::string_view text, size_t max_length = 0) {
  auto e = t.encode(text, max_length);
  EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().message());
  return e.ok() ? e->ids : Ids{};
}

TEST(TokenizerWordPiece, GreedyLongestMatchWithContinuationPieces) {
  // 3 un, 4 ##a, 5 ##aff, 6 ##able, 7 ##ff, 8 a, 9 !
  auto t = make(wordpiece_json({"un", "##a", "##aff", "##able", "##ff", "a", "!"}, bert_normalizer(true, nullptr)));
  // "unaffable": "un" (longest prefix in vocab), then "##aff" beats "##a", then "##able".
  EXPECT_EQ(ids_of(*t, "unaffable!"), (Ids{1, 3, 5, 6, 9, 2}));
  // "unx": "un" matches but nothing covers "x", so the whole word is one [UNK].
  EXPECT_EQ(ids_of(*t, "unx a"), (Ids{1, 0, 8, 2}));
  EXPECT_EQ(ids_of(*t, ""), (Ids{1, 2}));
  EXPECT_EQ(ids_of(*t, " \t\n "), (Ids{1, 2}));
}

TEST(TokenizerWordPiece, WordsLongerThanTheLimitInCharactersAreUnknown) {
  // 3 é, 4 ##é: a word of n é's is é + (n-1) ##é when it has at most 4 characters.
  auto t = make(wordpiece_json({"é", "##é"}, bert_normalizer(false, false), 4));
  EXPECT_EQ(ids_of(*t, "éééé"), (Ids{1, 3, 4, 4, 4, 2}));  // 4 characters (8 bytes): kept
  EXPECT_EQ(ids_of(*t, "ééééé é"), (Ids{1, 0, 3, 2}));     // 5 characters: [UNK]
}

TEST(TokenizerWordPiece, PunctuationIsSplitOffAndCjkIdeographsStandAlone) {
  // 3 a, 4 b, 5 ",", 6 $, 7 ¿, 8 中, 9 ##b
  auto t = make(wordpiece_json({"a", "b", ",", "$", "¿", "中", "##b"}, bert_normalizer(true, nullptr)));
  // ',' and '$' (an ASCII symbol, punctuation to BERT) and '¿' (Po) are words of their own.
  EXPECT_EQ(ids_of(*t, "a,b$¿a"), (Ids{1, 3, 5, 4, 6, 7, 3, 2}));
  // Without the CJK spacing "a中b" would be one word ([UNK] here); with it, three.
  EXPECT_EQ(ids_of(*t, "a中b"), (Ids{1, 3, 8, 4, 2}));
  EXPECT_EQ(ids_of(*t, "ab"), (Ids{1, 3, 9, 2}));
}

TEST(TokenizerWordPiece, LowercasingStripsAccentsUnlessStripAccentsIsFalse) {
  std::vector<std::string> tokens = {"cafe", "café", "i", "i̇", "straße"};  // 3 4 5 6 7
  auto strip = make(wordpiece_json(tokens, bert_normalizer(true, nullptr)));
  auto keep = make(wordpiece_json(tokens, bert_normalizer(true, false)));
  auto cased = make(wordpiece_json(tokens, bert_normalizer(false, nullptr)));
  // Precomposed and decomposed É both become "cafe" (NFD, then the Mn accent removed).
  EXPECT_EQ(ids_of(*strip, "CAFÉ Cafe\u0301"), (Ids{1, 3, 3, 2}));
  EXPECT_EQ(ids_of(*keep, "CAFÉ"), (Ids{1, 4, 2}));
  EXPECT_EQ(ids_of(*cased, "CAFÉ café"), (Ids{1, 0, 4, 2}));
  // 'İ' lowercases to two characters, i + U+0307 (SpecialCasing.txt); stripping drops U+0307.
  EXPECT_EQ(ids_of(*strip, "İ"), (Ids{1, 5, 2}));
  EXPECT_EQ(ids_of(*keep, "İ"), (Ids{1, 6, 2}));
  // 'ß' has no single-character uppercase and lowercases to itself.
  EXPECT_EQ(ids_of(*keep, "STRAßE"), (Ids{1, 7, 2}));
}

TEST(TokenizerWordPiece, CleanTextDropsControlsAndTurnsWhitespaceIntoSpaces) {
  auto t = make(wordpiece_json({"a", "b"}, bert_normalizer(true, nullptr)));  // 3 a, 4 b
  // NUL and the zero-width space (Cf) vanish, so each text is the one word "ab" ([UNK]).
  EXPECT_EQ(ids_of(*t, std::string("a\0b", 3)), (Ids{1, 0, 2}));
  EXPECT_EQ(ids_of(*t, "a\u200Bb"), (Ids{1, 0, 2}));
  // NBSP, ideographic space and tab separate words.
  EXPECT_EQ(ids_of(*t, "a\u00A0b\u3000a\tb"), (Ids{1, 3, 4, 3, 4, 2}));
}

TEST(TokenizerAddedTokens, AreMatchedInTheRawTextBeforeNormalization) {
  auto t = make(wordpiece_json({"hello", "world", "sep"}, bert_normalizer(true, nullptr)));  // 3 4 5
  EXPECT_EQ(ids_of(*t, "hello[SEP]world"), (Ids{1, 3, 2, 4, 2}));
  // "[sep]" is not the (unnormalized, case-sensitive) special token: it is punctuation + word.
  auto e = t->encode("[sep]", 0);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->ids.size(), 5u);  // [CLS] [ sep ] [SEP] -> "[" and "]" are unknown here
  EXPECT_EQ(e->ids[2], 5);
}

// a=0 b=1 c=2 ab=3 abc=4 bc=5; merges ranked (a,b) < (ab,c) < (b,c).
json tiny_bpe_json() {
  return {{"normalizer", nullptr},
          {"pre_tokenizer", {{"type", "WhitespaceSplit"}}},
          {"post_processor", nullptr},
          {"model",
           {{"type", "BPE"}, {"vocab", vocab_of({"a", "b", "c", "ab", "abc", "bc", "aa"})},
            {"merges", {"a b", json::array({"ab", "c"}), "b c", "a a"}}}}};
}

TEST(TokenizerBpe, MergesTheLowestRankedPairFirst) {
  auto t = make(tiny_bpe_json());
  // abc: (a,b) rank 0 -> ab c; (ab,c) rank 1 -> abc.
  EXPECT_EQ(ids_of(*t, "abc"), (Ids{4}));
  // bcab: (a,b) rank 0 beats (b,c) rank 2 -> b c ab; then (b,c) -> bc ab.
  EXPECT_EQ(ids_of(*t, "bcab"), (Ids{5, 3}));
  // aaa: equal ranks merge leftmost first -> aa a.
  EXPECT_EQ(ids_of(*t, "aaa"), (Ids{6, 0}));
  // Characters outside the vocabulary are dropped when the model has no unknown token.
  EXPECT_EQ(ids_of(*t, "axb c"), (Ids{0, 1, 2}));
}

TEST(TokenizerBpe, UnknownCharactersBecomeTheUnknownTokenAndFuseWhenAsked) {
  json j = tiny_bpe_json();
  j["model"]["vocab"]["<unk>"] = 7;
  j["model"]["unk_token"] = "<unk>";
  EXPECT_EQ(ids_of(*make(j), "axyb"), (Ids{0, 7, 7, 1}));
  j["model"]["fuse_unk"] = true;
  EXPECT_EQ(ids_of(*make(j), "axyb"), (Ids{0, 7, 1}));
}

TEST(TokenizerByteLevel, AlphabetIsABijectionOntoPrintableCharacters) {
  std::set<char32_t> seen;
  for (int b = 0; b < 256; ++b) {
    char32_t c = byte_level_code_point(uint8_t(b));
    EXPECT_TRUE(seen.insert(c).second) << b;
    EXPECT_FALSE(unicode::is_js_whitespace(c)) << b;
    EXPECT_FALSE(unicode::is_other_control_format_private(c)) << b;
    size_t i = 0;
    EXPECT_EQ(unicode::next_code_point(byte_level_char(uint8_t(b)), i), c);
  }
  // GPT-2: printable bytes map to themselves; the others, in order, to U+0100...: bytes
  // 0x00-0x20 are the first 33, so the space is U+0120 ('Ġ'); 0x7F follows as U+0121.
  EXPECT_EQ(byte_level_code_point('A'), U'A');
  EXPECT_EQ(byte_level_code_point(0xE9), U'\u00E9');
  EXPECT_EQ(byte_level_code_point(0x00), U'\u0100');
  EXPECT_EQ(byte_level_code_point(' '), U'\u0120');
  EXPECT_EQ(byte_level_code_point(0x7F), U'\u0121');
  EXPECT_EQ(byte_level_code_point(0xAD), U'\u0143');
}

std::vector<std::string> byte_level_words(std::string_view text, bool add_prefix_space) {
  auto pre = make_pre_tokenizer({{"type", "ByteLevel"}, {"add_prefix_space", add_prefix_space}}, "p");
  EXPECT_TRUE(pre.ok());
  PreTokens words;
  (*pre)->split(text, words);
  std::vector<std::string> out;
  for (size_t i = 0; i < words.size(); ++i) out.emplace_back(words[i]);
  return out;
}

TEST(TokenizerByteLevel, SplitsLikeGpt2sPattern) {
  // Contractions, " ?letters", " ?digits", " ?other", and whitespace runs that leave their
  // last space to the following word. Spaces show as 'Ġ', newlines as 'Ċ'. "\n\nx": \s+(?!\S)
  // backs off to the first "\n"; the second, followed by "x", is matched by \s+ alone (only a
  // space joins the next word).
  EXPECT_EQ(byte_level_words("Hello world's  test 42!!\n\nx  ", false),
            (std::vector<std::string>{"Hello", "Ġworld", "'s", "Ġ", "Ġtest", "Ġ42", "!!", "Ċ", "Ċ", "x", "ĠĠ"}));
  EXPECT_EQ(byte_level_words("hi", true), (std::vector<std::string>{"Ġhi"}));
  EXPECT_EQ(byte_level_words(" hi", true), (std::vector<std::string>{"Ġhi"}));
  // 'é' is two bytes, each its own byte-level character.
  EXPECT_EQ(byte_level_words("é", false), (std::vector<std::string>{"Ã©"}));
}

TEST(TokenizerPostProcessing, LongestFirstKeepsTheShorterSequenceWhenItFits) {
  // room 6: shorter 3 fits, the longer gets max(3, 6 - 3) = 3.
  EXPECT_EQ(longest_first_lengths(10, 3, 6), (std::pair<size_t, size_t>{3, 3}));
  EXPECT_EQ(longest_first_lengths(2, 10, 6), (std::pair<size_t, size_t>{2, 4}));
  // Both longer than the room: halves, the odd token to the second.
  EXPECT_EQ(longest_first_lengths(10, 10, 7), (std::pair<size_t, size_t>{3, 4}));
  EXPECT_EQ(longest_first_lengths(2, 3, 10), (std::pair<size_t, size_t>{2, 3}));
}

TEST(TokenizerPostProcessing, PairTemplateWithTypeIdsAndTruncation) {
  auto t = make(wordpiece_json({"a", "b"}, bert_normalizer(true, nullptr)));  // 3 a, 4 b
  auto e = t->encode_pair("a a a a a a", "b b", 8);
  ASSERT_TRUE(e.ok());
  // 8 - 3 special tokens = 5: "b b" fits (2), "a..." keeps max(2, 5 - 2) = 3.
  EXPECT_EQ(e->ids, (Ids{1, 3, 3, 3, 2, 4, 4, 2}));
  EXPECT_EQ(e->type_ids, (Ids{0, 0, 0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(e->truncated_tokens, 3u);
  auto single = t->encode("a a a a", 4);
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(single->ids, (Ids{1, 3, 3, 2}));
  EXPECT_EQ(single->truncated_tokens, 2u);
}

TEST(TokenizerPostProcessing, RobertaPairHasTwoSeparators) {
  json j = tiny_bpe_json();
  j["model"]["vocab"]["<s>"] = 7;
  j["model"]["vocab"]["</s>"] = 8;
  j["post_processor"] = {{"type", "RobertaProcessing"}, {"sep", {"</s>", 8}}, {"cls", {"<s>", 7}}};
  auto e = make(j)->encode_pair("ab", "c", 0);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->ids, (Ids{7, 3, 8, 8, 2, 8}));
}

TEST(TokenizerPipeline, RejectsInvalidUtf8WithItsOffset) {
  auto t = make(wordpiece_json({"a"}, bert_normalizer(true, nullptr)));
  auto e = t->encode("ab\xC3(", 0);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message().find("invalid UTF-8 at byte offset 2"), std::string::npos) << e.error().message();
  auto p = t->encode_pair("ok", "\xED\xA0\x80", 0);  // a UTF-16 surrogate
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message().find("second text: invalid UTF-8 at byte offset 0"), std::string::npos);
}

TEST(TokenizerPipeline, UnsupportedComponentsNameTheirJsonPath) {
  auto expect_error = [](json j, const std::string& fragment) {
    auto t = Tokenizer::from_json(j);
    ASSERT_FALSE(t.ok()) << fragment;
    EXPECT_NE(t.error().message().find(fragment), std::string::npos) << t.error().message();
  };
  json base = wordpiece_json({"a"}, bert_normalizer(true, nullptr));
  json j = base;
  j["normalizer"] = {{"type", "Precompiled"}};
  expect_error(j, "tokenizer.normalizer.type: 'Precompiled' is not supported");
  j = base;
  j["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {{{"type", "Whitespace"}}, {{"type", "Punctuation"}}}}};
  expect_error(j, "tokenizer.pre_tokenizer.pretokenizers[1].type: 'Punctuation'");
  j = base;
  j["model"]["type"] = "Unigram";
  expect_error(j, "tokenizer.model.type: 'Unigram'");
  j = base;
  j["model"]["unk_token"] = "<nope>";
  expect_error(j, "tokenizer.model.unk_token");
  j = tiny_bpe_json();
  j["model"]["dropout"] = 0.1;
  expect_error(j, "tokenizer.model.dropout");
  // 4,000 nested Sequences once took 3 GB and 12 s: refused at a small depth. (Built by
  // moving, not copying, so the fixture itself stays linear and shallow on the stack.)
  json nested = {{"type", "Lowercase"}};
  for (int i = 0; i < 64; ++i) {
    json outer = {{"type", "Sequence"}, {"normalizers", json::array()}};
    outer["normalizers"].push_back(std::move(nested));
    nested = std::move(outer);
  }
  j = base;
  j["normalizer"] = nested;
  expect_error(j, "Sequences nested more than 8 deep");
  json shallow = {{"type", "Lowercase"}};
  for (int i = 0; i < 3; ++i) shallow = {{"type", "Sequence"}, {"normalizers", json::array({shallow})}};
  j = base;
  j["normalizer"] = shallow;
  EXPECT_TRUE(Tokenizer::from_json(j).ok());
}

// Found by fuzz_tokenizer_json: ids index a table of tokens, and one id of 360,000,011
// among 120 tokens asked for 11.5 GB. A float id was cast to int32 (undefined when out of range).
TEST(TokenizerPipeline, FarOrNonIntegerIdsAreRefusedBeforeAllocating) {
  auto expect_error = [](json j, const std::string& fragment) {
    auto t = Tokenizer::from_json(j);
    ASSERT_FALSE(t.ok()) << fragment;
    EXPECT_NE(t.error().message().find(fragment), std::string::npos) << t.error().message();
  };
  json j = wordpiece_json({"a"}, bert_normalizer(true, nullptr));
  j["model"]["vocab"]["far"] = 360000011;
  expect_error(j, R"(tokenizer.model.vocab["far"]: id 360000011 is far past the vocabulary's 5 tokens)");
  j = tiny_bpe_json();
  j["model"]["vocab"]["far"] = 2147483647;
  expect_error(j, R"(tokenizer.model.vocab["far"]: id 2147483647 is far past)");
  j = wordpiece_json({"a"}, bert_normalizer(true, nullptr));
  j["added_tokens"][0]["id"] = 1e10;
  expect_error(j, "tokenizer.added_tokens[0].id: expected a non-negative integer");
  j = wordpiece_json({"a"}, bert_normalizer(true, nullptr));
  j["added_tokens"].push_back({{"id", 5000000}, {"content", "<far>"}, {"special", true}});
  expect_error(j, "tokenizer.added_tokens: id 5000000 of '<far>' is far past");
  // Holes are allowed: Hugging Face's ids run 0..n-1, but some tokenizers skip a few.
  j = wordpiece_json({"a"}, bert_normalizer(true, nullptr));
  j["model"]["vocab"]["b"] = 40;
  j["added_tokens"].push_back({{"id", 50}, {"content", "<new>"}, {"special", true}});
  EXPECT_TRUE(Tokenizer::from_json(j).ok());
}

// Found by fuzz_tokenizer_json under UBSan: a template's type_id of 1.2e20, and a
// max_input_chars_per_word past size_t, were cast out of range.
TEST(TokenizerPipeline, OutOfRangeNumbersAreErrorsNotCasts) {
  json j = wordpiece_json({"a"}, bert_normalizer(true, nullptr));
  json special = {{"SpecialToken", {{"id", "[CLS]"}, {"type_id", 1.18e20}}}};
  json sequence = {{"Sequence", {{"id", "A"}, {"type_id", 0}}}};
  json special_tokens = {{"[CLS]", {{"id", "[CLS]"}, {"ids", {1}}, {"tokens", {"[CLS]"}}}}};
  j["post_processor"] = {{"type", "TemplateProcessing"}, {"single", json::array({special, sequence})},
                         {"pair", json::array({special, sequence})}, {"special_tokens", special_tokens}};
  auto t = Tokenizer::from_json(j);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message().find("single[0].SpecialToken.type_id: expected an integer in [0, 255]"),
            std::string::npos)
      << t.error().message();
  j = wordpiece_json({"a"}, bert_normalizer(true, nullptr));
  j["model"]["max_input_chars_per_word"] = 1e30;
  t = Tokenizer::from_json(j);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message().find("max_input_chars_per_word: expected an integer in range"), std::string::npos)
      << t.error().message();
  // In range, whether nlohmann stores it signed (built from an int) or unsigned (parsed).
  j["model"]["max_input_chars_per_word"] = int64_t{100};
  EXPECT_TRUE(Tokenizer::from_json(j).ok());
  j["model"]["max_input_chars_per_word"] = json::parse("100");
  EXPECT_TRUE(Tokenizer::from_json(j).ok());
  j["model"]["max_input_chars_per_word"] = -1;
  EXPECT_FALSE(Tokenizer::from_json(j).ok());
}

TEST(TokenizerUnicode, LowercaseFollowsFullCaseMapping) {
  EXPECT_EQ(unicode::to_lower("ΟΔΟΣ"), "οδος");  // final sigma
  EXPECT_EQ(unicode::to_lower("İ"), "i\u0307");
  EXPECT_EQ(unicode::to_nfd("é"), "e\u0301");
  EXPECT_EQ(unicode::to_nfc("e\u0301"), "é");
  EXPECT_EQ(unicode::to_nfkc("\uFB01"), "fi");  // the ligature's compatibility decomposition
}

TEST(TokenizerPipeline, SameIdsFromManyThreads) {
  json j = tiny_bpe_json();
  auto t = make(j);
  std::string text;
  for (int i = 0; i < 200; ++i) text += i % 3 ? "abc bcab " : "aaa ";
  Ids expected = ids_of(*t, text);
  std::vector<std::thread> threads;
  std::vector<Ids> got(4);
  for (size_t k = 0; k < got.size(); ++k) {
    threads.emplace_back([&, k] { got[k] = t->encode(text, 0)->ids; });
  }
  for (auto& th : threads) th.join();
  for (const Ids& g : got) EXPECT_EQ(g, expected);
}

}  // namespace
}  // namespace sparq::runtime
