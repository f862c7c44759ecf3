// BPE: a word starts as its characters; the adjacent pair with the lowest merge rank (the
// leftmost among equals) is merged until no ranked pair is left. Symbols are interned strings
// so a merge is one hash lookup on a pair of integers. A piece that is no token is the unknown
// token, or with byte_fallback (SentencePiece's, as Llama's tokenizers have) its UTF-8 bytes
// as the tokens <0x00>..<0xFF>.
#include <fmt/core.h>

#include <algorithm>
#include <array>

#include "runtime/text/tokenizer_pipeline.h"
#include "runtime/text/tokenizer_unicode.h"

namespace sparq::runtime {
namespace {

using nlohmann::json;

struct Merge {
  int32_t rank;
  int32_t result;  // symbol
};

class BpeModel final : public TokenModel {
 public:
  std::string_view kind() const override { return "bpe"; }

  // Interns a string as a symbol.
  int32_t symbol(std::string_view s) {
    auto it = symbols_.find(s);
    if (it != symbols_.end()) return it->second;
    int32_t id = int32_t(symbol_strings_.size());
    symbol_strings_.emplace_back(s);
    symbols_.emplace(std::string(s), id);
    return id;
  }

  void add_merge(const std::string& left, const std::string& right, int32_t rank) {
    int32_t a = symbol(left), b = symbol(right), merged = symbol(left + right);
    merges_[key(a, b)] = Merge{rank, merged};  // a repeated pair keeps its last rank
  }

  void vocabulary_complete() override {
    for (const auto& [token, id] : vocab.ids) symbol(token);
    symbol_vocab_id_.assign(symbol_strings_.size(), -1);
    for (size_t s = 0; s < symbol_strings_.size(); ++s) symbol_vocab_id_[s] = find_id(vocab.ids, symbol_strings_[s]);
    small_char_symbol_.fill(-1);
    std::string utf8;
    for (char32_t c = 0; c < small_char_symbol_.size(); ++c) {
      utf8.clear();
      unicode::append_utf8(utf8, c);
      small_char_symbol_[c] = find_id(symbols_, utf8);
    }
    for (unsigned b = 0; b < 256; ++b) byte_token_id_[b] = find_id(vocab.ids, fmt::format("<0x{:02X}>", b));
  }

  bool ignore_merges = false;
  bool byte_fallback = false;

 private:
  void encode_uncached(std::string_view word, std::vector<int32_t>& ids) const override {
    if (ignore_merges) {
      if (int32_t id = find_id(vocab.ids, word); id >= 0) {
        ids.push_back(id);
        return;
      }
    }
    thread_local std::vector<Node> nodes;
    nodes.clear();
    for (size_t i = 0; i < word.size();) {
      size_t start = i;
      char32_t c = unicode::next_code_point(word, i);
      int32_t s = c < small_char_symbol_.size() ? small_char_symbol_[c] : find_id(symbols_, word.substr(start, i - start));
      nodes.push_back({s, int32_t(nodes.size()) - 1, int32_t(nodes.size()) + 1, uint32_t(start), uint32_t(i)});
    }
    nodes.back().next = -1;
    merge_all(nodes);
    for (int32_t n = 0; n >= 0; n = nodes[size_t(n)].next) {
      const Node& node = nodes[size_t(n)];
      // Every vocabulary entry is a symbol, so a character that is none is unknown.
      int32_t id = node.symbol >= 0 ? symbol_vocab_id_[size_t(node.symbol)] : -1;
      if (id >= 0) {
        ids.push_back(id);
      } else if (!(byte_fallback && push_bytes(word.substr(node.begin, node.end - node.begin), ids)) && unk_id >= 0) {
        ids.push_back(unk_id);
      }
    }
  }

  // The byte tokens of `piece`, all or none (the reference falls back to the unknown token
  // when one is missing).
  bool push_bytes(std::string_view piece, std::vector<int32_t>& ids) const {
    for (char ch : piece) {
      if (byte_token_id_[static_cast<uint8_t>(ch)] < 0) return false;
    }
    for (char ch : piece) ids.push_back(byte_token_id_[static_cast<uint8_t>(ch)]);
    return true;
  }

  struct Node {
    int32_t symbol;  // -1: a character that is no symbol (cannot merge)
    int32_t prev, next;
    uint32_t begin, end;  // the bytes of the word it covers
  };
  struct Candidate {
    int32_t rank, left;  // left node index; ties go to the leftmost
    int32_t left_symbol, right_symbol;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };

  static uint64_t key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

  const Merge* find_merge(int32_t a, int32_t b) const {
    if (a < 0 || b < 0) return nullptr;
    auto it = merges_.find(key(a, b));
    return it == merges_.end() ? nullptr : &it->second;
  }

  void push_candidate(std::vector<Node>& nodes, int32_t left, std::vector<Candidate>& heap) const {
    int32_t right = nodes[size_t(left)].next;
    if (right < 0) return;
    int32_t a = nodes[size_t(left)].symbol, b = nodes[size_t(right)].symbol;
    if (const Merge* m = find_merge(a, b)) {
      heap.push_back({m->rank, left, a, b});
      std::push_heap(heap.begin(), heap.end(), std::greater<>());
    }
  }

  void merge_all(std::vector<Node>& nodes) const {
    thread_local std::vector<Candidate> heap;
    heap.clear();
    for (int32_t n = 0; n + 1 < int32_t(nodes.size()); ++n) push_candidate(nodes, n, heap);
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), std::greater<>());
      Candidate c = heap.back();
      heap.pop_back();
      Node& left = nodes[size_t(c.left)];
      // Stale candidates: one side was merged away or changed since it was queued.
      if (left.symbol != c.left_symbol || left.next < 0) continue;
      Node& right = nodes[size_t(left.next)];
      if (right.symbol != c.right_symbol) continue;
      left.symbol = find_merge(c.left_symbol, c.right_symbol)->result;
      left.next = right.next;
      left.end = right.end;
      if (right.next >= 0) nodes[size_t(right.next)].prev = c.left;
      right.symbol = -2;  // removed
      if (left.prev >= 0) push_candidate(nodes, left.prev, heap);
      push_candidate(nodes, c.left, heap);
    }
  }

  TokenIdMap symbols_;
  std::vector<std::string> symbol_strings_;
  std::vector<int32_t> symbol_vocab_id_;
  std::unordered_map<uint64_t, Merge> merges_;
  std::array<int32_t, 0x200> small_char_symbol_{};  // covers the byte-level alphabet
  std::array<int32_t, 256> byte_token_id_{};        // "<0xXX>" tokens; -1: absent
};

// A merge is "a b" (split at spaces; the reference keeps the first two parts) or ["a", "b"].
Result<std::pair<std::string, std::string>> parse_merge(const json& m, const std::string& path) {
  if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
    return std::pair{m[0].get<std::string>(), m[1].get<std::string>()};
  }
  if (m.is_string()) {
    std::string s = m.get<std::string>();
    size_t space = s.find(' ');
    if (space != std::string::npos) {
      size_t end = s.find(' ', space + 1);
      return std::pair{s.substr(0, space), s.substr(space + 1, end == std::string::npos ? end : end - space - 1)};
    }
  }
  return Error(path + ": expected \"left right\" or [left, right]");
}

}  // namespace

Result<std::unique_ptr<TokenModel>> make_bpe_model(const json& j, const std::string& path) {
  if (auto d = j.find("dropout"); d != j.end() && !d->is_null()) {
    return Error(path + ".dropout: BPE dropout is not supported", ErrorKind::unsupported);
  }
  for (const char* key : {"end_of_word_suffix", "continuing_subword_suffix", "continuing_subword_prefix"}) {
    if (auto it = j.find(key); it != j.end() && !it->is_null() && !(it->is_string() && it->get<std::string>().empty())) {
      return Error(path + "." + key + ": not supported", ErrorKind::unsupported);
    }
  }
  auto byte_fallback = optional_field<bool>(j, path, "byte_fallback", false);
  if (!byte_fallback) return byte_fallback.error();

  auto model = std::make_unique<BpeModel>();
  model->byte_fallback = *byte_fallback;
  const json& vocab = j.value("vocab", json());
  if (!vocab.is_object()) return Error(path + ".vocab: expected an object of token -> id");
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX) {
      return Error(path + ".vocab[\"" + token + "\"]: expected a non-negative integer id");
    }
    if (!plausible_token_id(id.get<int64_t>(), vocab.size())) {
      return Error(fmt::format("{}.vocab[\"{}\"]: id {} is far past the vocabulary's {} tokens (ids run from 0)",
                               path, token, id.get<int64_t>(), vocab.size()));
    }
    model->vocab.set(token, id.get<int32_t>());
  }
  const json& merges = j.value("merges", json::array());
  if (!merges.is_array()) return Error(path + ".merges: expected an array");
  for (size_t i = 0; i < merges.size(); ++i) {
    auto m = parse_merge(merges[i], fmt::format("{}.merges[{}]", path, i));
    if (!m) return m.error();
    model->add_merge(m->first, m->second, int32_t(i));
  }
  auto unk = optional_field<std::string>(j, path, "unk_token", "");
  if (!unk) return unk.error();
  model->unk_token = *unk;
  auto fuse = optional_field<bool>(j, path, "fuse_unk", false);
  auto ignore = optional_field<bool>(j, path, "ignore_merges", false);
  if (!fuse) return fuse.error();
  if (!ignore) return ignore.error();
  model->fuse_unk = *fuse;
  model->ignore_merges = *ignore;
  return std::unique_ptr<TokenModel>(std::move(model));
}

}  // namespace sparq::runtime
