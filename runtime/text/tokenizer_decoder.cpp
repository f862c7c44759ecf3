// Decoders of tokenizer.json: ByteLevel, WordPiece, Metaspace, Replace (string patterns),
// ByteFallback, Fuse, Strip and Sequence, with the semantics of the reference
// (transformers.js): each stage rewrites the list of token strings, the tokenizer joins the
// result. Invalid UTF-8 from byte tokens becomes U+FFFD as the reference's TextDecoder makes it.
#include <fmt/core.h>

#include "runtime/text/tokenizer_byte_level.h"
#include "runtime/text/tokenizer_pipeline.h"
#include "runtime/text/tokenizer_unicode.h"

namespace sparq::runtime {
namespace {

using nlohmann::json;

// GPT-2's alphabet back to bytes; added tokens are text already and pass through whole.
class ByteLevelDecoder final : public TokenDecoder {
 public:
  explicit ByteLevelDecoder(const TokenIdMap& added_tokens) : added_tokens_(&added_tokens) {}

  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> pieces;
    std::string bytes;
    auto flush = [&] {
      if (bytes.empty()) return;
      pieces.emplace_back();
      unicode::append_utf8_lossy(pieces.back(), bytes);
      bytes.clear();
    };
    for (std::string& token : tokens) {
      if (added_tokens_->contains(token)) {
        flush();
        pieces.push_back(std::move(token));
        continue;
      }
      for (size_t i = 0; i < token.size();) {
        int byte = byte_level_byte(unicode::next_code_point(token, i));
        bytes.push_back(char(byte < 0 ? 0 : byte));  // the reference's Uint8Array makes an unknown character 0
      }
    }
    flush();
    tokens = std::move(pieces);
  }

 private:
  const TokenIdMap* added_tokens_;
};

// "##"-prefixed pieces join the previous token, the others follow a space; `cleanup` removes
// the spaces English puts no space before (per token, as the reference does).
class WordPieceDecoder final : public TokenDecoder {
 public:
  WordPieceDecoder(std::string prefix, bool cleanup) : prefix_(std::move(prefix)), cleanup_(cleanup) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& token = tokens[i];
      if (i > 0) {
        if (!prefix_.empty() && token.starts_with(prefix_)) {
          token.erase(0, prefix_.size());
        } else {
          token.insert(0, 1, ' ');
        }
      }
      if (cleanup_) token = clean_up_tokenization(token);
    }
  }

 private:
  std::string prefix_;
  bool cleanup_;
};

class MetaspaceDecoder final : public TokenDecoder {
 public:
  explicit MetaspaceDecoder(std::string replacement) : replacement_(std::move(replacement)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      tokens[i] = replace_all(tokens[i], replacement_, " ");
      if (i == 0 && tokens[i].starts_with(' ')) tokens[i].erase(0, 1);
    }
  }

 private:
  std::string replacement_;
};

class ReplaceDecoder final : public TokenDecoder {
 public:
  ReplaceDecoder(std::string pattern, std::string content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& token : tokens) token = replace_all(token, pattern_, content_);
  }

 private:
  std::string pattern_, content_;
};

// Runs of "<0xXX>" tokens become the text their bytes spell. The reference recognises a byte
// token as "<0x" + two UTF-16 units + ">" whose first units parseInt reads as hexadecimal.
class ByteFallbackDecoder final : public TokenDecoder {
 public:
  static int byte_of(std::string_view token) {
    if (!token.starts_with("<0x") || !token.ends_with(">")) return -1;
    std::string_view hex = token.substr(3, token.size() - 4);
    size_t units = 0;
    for (size_t i = 0; i < hex.size();) units += unicode::next_code_point(hex, i) >= 0x10000 ? 2 : 1;
    if (units != 2) return -1;
    auto digit = [](char c) {
      if (c >= '0' && c <= '9') return c - '0';
      c = char(c | 0x20);
      return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    };
    // parseInt stops at the first character that is no digit.
    int high = digit(hex[0]), low = digit(hex[1]);
    if (high < 0) return -1;
    return low < 0 ? high : high * 16 + low;
  }

  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> pieces;
    std::string bytes;
    auto flush = [&] {
      if (bytes.empty()) return;
      // TextDecoder without ignoreBOM drops a byte order mark that starts its input.
      std::string_view view = bytes;
      if (view.starts_with("\xEF\xBB\xBF")) view.remove_prefix(3);
      pieces.emplace_back();
      unicode::append_utf8_lossy(pieces.back(), view);
      bytes.clear();
    };
    for (std::string& token : tokens) {
      int byte = byte_of(token);
      if (byte >= 0) {
        bytes.push_back(char(byte));
        continue;
      }
      flush();
      pieces.push_back(std::move(token));
    }
    flush();
    tokens = std::move(pieces);
  }
};

class FuseDecoder final : public TokenDecoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const std::string& token : tokens) all += token;
    tokens.assign(1, std::move(all));
  }
};

// Removes up to `start` leading and `stop` trailing copies of one character from each token.
class StripDecoder final : public TokenDecoder {
 public:
  StripDecoder(std::string content, size_t start, size_t stop)
      : content_(std::move(content)), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    // The reference compares one UTF-16 unit with `content`: a content of other than one
    // character (outside the BMP: two units) never matches.
    if (content_.empty() || unicode::count_code_points(content_) != 1 || content_.size() == 4) return;
    for (std::string& token : tokens) {
      std::string_view view = token;
      size_t begin = 0, end = view.size();
      for (size_t k = 0; k < start_ && view.substr(begin).starts_with(content_); ++k) begin += content_.size();
      for (size_t k = 0; k < stop_ && end >= begin + content_.size() && view.substr(0, end).ends_with(content_); ++k) {
        end -= content_.size();
      }
      token = std::string(view.substr(begin, end - begin));
    }
  }

 private:
  std::string content_;
  size_t start_, stop_;
};

class SequenceDecoder final : public TokenDecoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<TokenDecoder>> steps) : steps_(std::move(steps)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& step : steps_) step->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<TokenDecoder>> steps_;
};

}  // namespace

std::string clean_up_tokenization(std::string_view text) {
  static constexpr std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  std::string out(text);
  for (const auto& [from, to] : kRules) {
    if (out.find(from) != std::string::npos) out = replace_all(out, from, to);
  }
  return out;
}

Result<std::unique_ptr<TokenDecoder>> make_decoder(const json& j, const std::string& path,
                                                   const TokenIdMap& added_tokens, int depth) {
  using Ptr = std::unique_ptr<TokenDecoder>;
  if (j.is_null()) return Ptr();
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
    return Error(path + ": expected an object with a \"type\"");
  }
  std::string type = j["type"].get<std::string>();
  if (type == "ByteLevel") return Ptr(std::make_unique<ByteLevelDecoder>(added_tokens));
  if (type == "Fuse") return Ptr(std::make_unique<FuseDecoder>());
  if (type == "ByteFallback") return Ptr(std::make_unique<ByteFallbackDecoder>());
  if (type == "WordPiece") {
    auto prefix = optional_field<std::string>(j, path, "prefix", "##");
    auto cleanup = optional_field<bool>(j, path, "cleanup", false);
    if (!prefix) return prefix.error();
    if (!cleanup) return cleanup.error();
    return Ptr(std::make_unique<WordPieceDecoder>(*prefix, *cleanup));
  }
  if (type == "Metaspace") {
    auto replacement = optional_field<std::string>(j, path, "replacement", "\u2581");
    if (!replacement) return replacement.error();
    return Ptr(std::make_unique<MetaspaceDecoder>(*replacement));
  }
  if (type == "Replace") {
    const json& pattern = j.value("pattern", json::object());
    if (!pattern.is_object() || !pattern.contains("String") || !pattern["String"].is_string()) {
      return Error(path + ".pattern: only {\"String\": ...} patterns are supported (regular expressions are not)",
                   ErrorKind::unsupported);
    }
    auto content = optional_field<std::string>(j, path, "content", "");
    if (!content) return content.error();
    return Ptr(std::make_unique<ReplaceDecoder>(pattern["String"].get<std::string>(), *content));
  }
  if (type == "Strip") {
    auto content = optional_field<std::string>(j, path, "content", "");
    auto start = optional_field<uint32_t>(j, path, "start", 0);
    auto stop = optional_field<uint32_t>(j, path, "stop", 0);
    if (!content) return content.error();
    if (!start) return start.error();
    if (!stop) return stop.error();
    return Ptr(std::make_unique<StripDecoder>(*content, *start, *stop));
  }
  if (type == "Sequence") {
    if (Status s = check_sequence_nesting(path, depth); !s) return s.error();
    const json& list = j.value("decoders", json::array());
    if (!list.is_array()) return Error(path + ".decoders: expected an array");
    std::vector<Ptr> steps;
    for (size_t i = 0; i < list.size(); ++i) {
      auto step = make_decoder(list[i], fmt::format("{}.decoders[{}]", path, i), added_tokens, depth + 1);
      if (!step) return step.error();
      if (*step) steps.push_back(std::move(*step));
    }
    return Ptr(std::make_unique<SequenceDecoder>(std::move(steps)));
  }
  return Error(path + ".type: '" + type + "' is not supported", ErrorKind::unsupported);
}

}  // namespace sparq::runtime
