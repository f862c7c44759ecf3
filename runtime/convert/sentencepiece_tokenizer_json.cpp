#include "runtime/convert/sentencepiece_tokenizer_json.h"

#include <algorithm>
#include <numeric>
#include <string_view>
#include <unordered_map>

namespace sparq::runtime {
namespace {

using nlohmann::json;

// Byte offsets of the code point boundaries inside `s` (excluding 0 and s.size()): Hugging
// Face splits pieces by characters, never inside one. A stray continuation byte simply stays
// with the character before it.
std::vector<size_t> inner_boundaries(std::string_view s) {
  std::vector<size_t> out;
  for (size_t i = 1; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) out.push_back(i);
  }
  return out;
}

json special_token(int64_t id, const std::string& content, bool special) {
  return {{"id", id},           {"content", content}, {"single_word", false}, {"lstrip", false},
          {"rstrip", false},    {"normalized", false}, {"special", special}};
}

json template_piece(const std::string& id, int type_id, bool special) {
  return special ? json{{"SpecialToken", {{"id", id}, {"type_id", type_id}}}}
                 : json{{"Sequence", {{"id", id}, {"type_id", type_id}}}};
}

}  // namespace

std::vector<std::pair<std::string, std::string>> sentencepiece_merges(const std::vector<SentencePiece>& pieces) {
  std::unordered_map<std::string_view, size_t> ids;
  for (size_t i = 0; i < pieces.size(); ++i) ids.emplace(pieces[i].piece, i);  // the first id of a repeated piece
  std::vector<size_t> order(pieces.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return pieces[a].score > pieces[b].score; });
  std::vector<std::pair<std::string, std::string>> merges;
  std::vector<std::pair<size_t, size_t>> splits;
  for (size_t id : order) {
    const std::string_view piece = pieces[id].piece;
    splits.clear();
    for (size_t at : inner_boundaries(piece)) {
      auto l = ids.find(piece.substr(0, at)), r = ids.find(piece.substr(at));
      if (l != ids.end() && r != ids.end()) splits.emplace_back(l->second, r->second);
    }
    std::sort(splits.begin(), splits.end());
    for (auto [l, r] : splits) merges.emplace_back(pieces[l].piece, pieces[r].piece);
  }
  return merges;
}

json sentencepiece_bpe_tokenizer_json(const std::vector<SentencePiece>& pieces, const SentencePieceSpecials& sp) {
  json vocab = json::object();
  json added = json::array();
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (!vocab.contains(pieces[i].piece)) vocab[pieces[i].piece] = i;
    const PieceType t = pieces[i].type;
    if (t == PieceType::control || t == PieceType::unknown || t == PieceType::user_defined) {
      added.push_back(special_token(int64_t(i), pieces[i].piece, t != PieceType::user_defined));
    }
  }
  json merges = json::array();
  for (auto& [l, r] : sentencepiece_merges(pieces)) merges.push_back(json::array({l, r}));
  const std::string space = "\u2581";
  auto name = [&](int64_t id) { return pieces[size_t(id)].piece; };
  json single = json::array(), pair = json::array(), specials = json::object();
  auto add_special = [&](int64_t id, json& seq, int type_id) {
    seq.push_back(template_piece(name(id), type_id, true));
    specials[name(id)] = {{"id", name(id)}, {"ids", {id}}, {"tokens", {name(id)}}};
  };
  const bool bos = sp.add_bos && sp.bos >= 0, eos = sp.add_eos && sp.eos >= 0;
  if (bos) add_special(sp.bos, single, 0);
  single.push_back(template_piece("A", 0, false));
  if (eos) add_special(sp.eos, single, 0);
  if (bos) add_special(sp.bos, pair, 0);
  pair.push_back(template_piece("A", 0, false));
  if (eos) add_special(sp.eos, pair, 0);
  if (bos) add_special(sp.bos, pair, 1);
  pair.push_back(template_piece("B", 1, false));
  if (eos) add_special(sp.eos, pair, 1);
  return {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", space}},
          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", space}}}}}},
      {"pre_tokenizer", nullptr},
      {"post_processor",
       {{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", specials}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"}, {"pattern", {{"String", space}}}, {"content", " "}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}},
          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", sp.unk >= 0 ? json(name(sp.unk)) : json(nullptr)},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", true},
        {"byte_fallback", true},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", merges}}},
  };
}

}  // namespace sparq::runtime
