#include "runtime/text/tokenizer_post_processor.h"

#include <fmt/core.h>

#include <algorithm>

namespace sparq::runtime {
namespace {

using nlohmann::json;
using TokenIdFn = std::function<int32_t(std::string_view)>;

Result<int32_t> special_id(const std::string& token, const std::string& path, const TokenIdFn& token_id) {
  int32_t id = token_id(token);
  if (id < 0) return Error(path + ": special token '" + token + "' is not in the vocabulary");
  return id;
}

// A template piece's type id: an integer (value("type_id", 0) cast a float of 1.2e20 to int,
// undefined: found by fuzz_tokenizer_json under UBSan). Models have a handful of type ids.
Result<int32_t> type_id_of(const json& s, const std::string& path) {
  if (!s.contains("type_id")) return 0;
  const json& t = s["type_id"];
  if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > 255) {
    return Error(path + ".type_id: expected an integer in [0, 255], got " + t.dump());
  }
  return t.get<int32_t>();
}

Result<std::vector<PostTemplate::Piece>> parse_template(const json& items, const std::string& path,
                                                        const TokenIdFn& token_id) {
  if (!items.is_array()) return Error(path + ": expected an array");
  std::vector<PostTemplate::Piece> pieces;
  for (size_t i = 0; i < items.size(); ++i) {
    std::string item_path = fmt::format("{}[{}]", path, i);
    const json& item = items[i];
    try {
      if (item.contains("SpecialToken")) {
        const json& s = item["SpecialToken"];
        auto id = special_id(s.at("id").get<std::string>(), item_path + ".SpecialToken.id", token_id);
        if (!id) return id.error();
        auto type_id = type_id_of(s, item_path + ".SpecialToken");
        if (!type_id) return type_id.error();
        pieces.push_back({-1, *id, *type_id});
      } else if (item.contains("Sequence")) {
        const json& s = item["Sequence"];
        std::string which = s.at("id").get<std::string>();
        if (which != "A" && which != "B") return Error(item_path + ".Sequence.id: expected \"A\" or \"B\"");
        auto type_id = type_id_of(s, item_path + ".Sequence");
        if (!type_id) return type_id.error();
        pieces.push_back({which == "A" ? 0 : 1, -1, *type_id});
      } else {
        return Error(item_path + ": expected a SpecialToken or a Sequence");
      }
    } catch (const json::exception& e) {
      return Error(item_path + ": " + e.what());
    }
  }
  return pieces;
}

// BertProcessing and RobertaProcessing: CLS A SEP [(SEP) B SEP], the pair part with type id 1.
Result<PostTemplate> wrap_template(const json& j, const std::string& path, const TokenIdFn& token_id, bool double_sep) {
  int32_t ids[2];
  const char* keys[2] = {"cls", "sep"};
  for (int k = 0; k < 2; ++k) {
    const json& entry = j.value(keys[k], json());
    if (!entry.is_array() || entry.empty() || !entry[0].is_string()) {
      return Error(path + "." + keys[k] + ": expected [token, id]");
    }
    auto id = special_id(entry[0].get<std::string>(), path + "." + keys[k], token_id);
    if (!id) return id.error();
    ids[k] = *id;
  }
  int32_t cls = ids[0], sep = ids[1];
  PostTemplate t;
  t.single = {{-1, cls, 0}, {0, -1, 0}, {-1, sep, 0}};
  t.pair = t.single;
  if (double_sep) t.pair.push_back({-1, sep, 1});
  t.pair.push_back({1, -1, 1});
  t.pair.push_back({-1, sep, 1});
  return t;
}

}  // namespace

std::pair<size_t, size_t> longest_first_lengths(size_t n1, size_t n2, size_t max_length) {
  if (n1 + n2 <= max_length) return {n1, n2};
  bool swap = n1 > n2;
  if (swap) std::swap(n1, n2);  // n1: the shorter
  n2 = n1 > max_length ? n1 : std::max(n1, max_length - n1);
  if (n1 + n2 > max_length) {
    n1 = max_length / 2;
    n2 = n1 + max_length % 2;
  }
  if (swap) std::swap(n1, n2);
  return {n1, n2};
}

Result<PostTemplate> PostTemplate::from_json(const json& j, const std::string& path, const TokenIdFn& token_id) {
  if (j.is_null()) {
    PostTemplate t;
    t.single = {{0, -1, 0}};
    t.pair = {{0, -1, 0}, {1, -1, 1}};
    return t;
  }
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
    return Error(path + ": expected an object with a \"type\"");
  }
  std::string type = j["type"].get<std::string>();
  if (type == "BertProcessing") return wrap_template(j, path, token_id, false);
  if (type == "RobertaProcessing") return wrap_template(j, path, token_id, true);
  if (type == "ByteLevel") return from_json(json(), path, token_id);
  if (type == "TemplateProcessing") {
    auto single = parse_template(j.value("single", json()), path + ".single", token_id);
    if (!single) return single.error();
    auto pair = parse_template(j.value("pair", json()), path + ".pair", token_id);
    if (!pair) return pair.error();
    PostTemplate t;
    t.single = std::move(*single);
    t.pair = std::move(*pair);
    return t;
  }
  if (type == "Sequence") {
    // ByteLevel steps only adjust offsets; at most one step may add tokens.
    const json& steps = j.value("processors", json::array());
    json chosen;
    for (size_t i = 0; i < steps.size(); ++i) {
      if (steps[i].value("type", "") == "ByteLevel") continue;
      if (!chosen.is_null()) {
        return Error(fmt::format("{}.processors[{}]: more than one token-adding step is not supported", path, i),
                     ErrorKind::unsupported);
      }
      chosen = steps[i];
    }
    return from_json(chosen, path + ".processors", token_id);
  }
  return Error(path + ".type: '" + type + "' is not supported", ErrorKind::unsupported);
}

size_t PostTemplate::added_tokens(bool is_pair) const {
  const auto& pieces = is_pair ? pair : single;
  return size_t(std::count_if(pieces.begin(), pieces.end(), [](const Piece& p) { return p.sequence < 0; }));
}

Encoding PostTemplate::apply(std::vector<int32_t> a, const std::vector<int32_t>* b, size_t max_length) const {
  Encoding out;
  std::vector<int32_t> b_kept = b ? *b : std::vector<int32_t>();
  if (max_length > 0) {
    size_t added = added_tokens(b != nullptr);
    size_t room = max_length > added ? max_length - added : 0;
    size_t before = a.size() + b_kept.size();
    if (b) {
      auto [n1, n2] = longest_first_lengths(a.size(), b_kept.size(), room);
      a.resize(std::min(a.size(), n1));
      b_kept.resize(std::min(b_kept.size(), n2));
    } else {
      a.resize(std::min(a.size(), room));
    }
    out.truncated_tokens = before - a.size() - b_kept.size();
  }
  const auto& pieces = b ? pair : single;
  for (const Piece& p : pieces) {
    if (p.sequence < 0) {
      out.ids.push_back(p.id);
      out.type_ids.push_back(p.type_id);
      continue;
    }
    const auto& seq = p.sequence == 0 ? a : b_kept;
    out.ids.insert(out.ids.end(), seq.begin(), seq.end());
    out.type_ids.insert(out.type_ids.end(), seq.size(), p.type_id);
  }
  return out;
}

}  // namespace sparq::runtime
