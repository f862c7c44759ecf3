// Normalizers of tokenizer.json: BertNormalizer, and Sequence, NFC, NFD, NFKC, NFKD,
// Lowercase, StripAccents, Strip, Replace (string patterns) and Prepend.
#include <fmt/core.h>

#include "runtime/text/tokenizer_pipeline.h"
#include "runtime/text/tokenizer_unicode.h"

namespace sparq::runtime {
namespace {

using nlohmann::json;

// CJK Unified Ideographs (and extension A, compatibility ideographs) as BERT defines them.
// The reference tests each UTF-16 code unit, so ideographs outside the BMP are never spaced.
bool is_bmp_cjk_ideograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0xF900 && c <= 0xFAFF);
}

std::string remove_marks(std::string_view text, bool (*is_removed)(char32_t)) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t start = i;
    char32_t c = unicode::next_code_point(text, i);
    if (!is_removed(c)) out.append(text.substr(start, i - start));
  }
  return out;
}

class BertNormalizer final : public TextNormalizer {
 public:
  BertNormalizer(bool clean_text, bool handle_chinese_chars, bool lowercase, bool strip_accents)
      : clean_text_(clean_text),
        handle_chinese_chars_(handle_chinese_chars),
        lowercase_(lowercase),
        strip_accents_(strip_accents) {}

  std::string normalize(std::string_view text) const override {
    std::string out;
    out.reserve(text.size() + 8);
    for (size_t i = 0; i < text.size();) {
      size_t start = i;
      char32_t c = unicode::next_code_point(text, i);
      if (clean_text_) {
        // Tab, newline and carriage return are whitespace, not control characters.
        bool control = c != '\t' && c != '\n' && c != '\r' && unicode::is_other_control_format_private(c);
        if (c == 0 || c == 0xFFFD || control) continue;
        if (unicode::is_js_whitespace(c)) {
          out.push_back(' ');
          continue;
        }
      }
      if (handle_chinese_chars_ && is_bmp_cjk_ideograph(c)) {
        out.push_back(' ');
        out.append(text.substr(start, i - start));
        out.push_back(' ');
        continue;
      }
      out.append(text.substr(start, i - start));
    }
    if (lowercase_) out = unicode::to_lower(out);
    if (strip_accents_ && !unicode::is_ascii(out)) {
      out = remove_marks(unicode::to_nfd(out), unicode::is_nonspacing_mark);
    }
    return out;
  }

 private:
  bool clean_text_, handle_chinese_chars_, lowercase_, strip_accents_;
};

class SequenceNormalizer final : public TextNormalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<TextNormalizer>> steps) : steps_(std::move(steps)) {}
  std::string normalize(std::string_view text) const override {
    std::string out(text);
    for (const auto& step : steps_) out = step->normalize(out);
    return out;
  }

 private:
  std::vector<std::unique_ptr<TextNormalizer>> steps_;
};

// One of the simple whole-text normalizers.
class FunctionNormalizer final : public TextNormalizer {
 public:
  explicit FunctionNormalizer(std::string (*fn)(std::string_view)) : fn_(fn) {}
  std::string normalize(std::string_view text) const override { return fn_(text); }

 private:
  std::string (*fn_)(std::string_view);
};

std::string strip_all_marks(std::string_view text) { return remove_marks(text, unicode::is_mark); }

class StripNormalizer final : public TextNormalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  std::string normalize(std::string_view text) const override {
    size_t begin = 0, end = text.size();
    if (left_) {
      while (begin < end) {
        size_t i = begin;
        if (!unicode::is_js_whitespace(unicode::next_code_point(text, i))) break;
        begin = i;
      }
    }
    if (right_) {
      while (end > begin) {
        size_t start = end - 1;
        while (start > begin && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
        size_t i = start;
        if (!unicode::is_js_whitespace(unicode::next_code_point(text, i))) break;
        end = start;
      }
    }
    return std::string(text.substr(begin, end - begin));
  }

 private:
  bool left_, right_;
};

class ReplaceNormalizer final : public TextNormalizer {
 public:
  ReplaceNormalizer(std::string pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  std::string normalize(std::string_view text) const override { return replace_all(text, pattern_, content_); }

 private:
  std::string pattern_, content_;
};

class PrependNormalizer final : public TextNormalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  std::string normalize(std::string_view text) const override { return prefix_ + std::string(text); }

 private:
  std::string prefix_;
};

Result<std::unique_ptr<TextNormalizer>> make_bert_normalizer(const json& j, const std::string& path) {
  // Absent flags are off, as in the reference; tokenizer.json files always spell them out.
  auto clean = optional_field<bool>(j, path, "clean_text", false);
  auto chinese = optional_field<bool>(j, path, "handle_chinese_chars", false);
  auto lower = optional_field<bool>(j, path, "lowercase", false);
  if (!clean) return clean.error();
  if (!chinese) return chinese.error();
  if (!lower) return lower.error();
  // strip_accents: null follows lowercase; true or false is explicit.
  bool strip = *lower;
  if (auto it = j.find("strip_accents"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean()) return Error(path + ".strip_accents: expected true, false or null");
    strip = it->get<bool>();
  }
  return std::unique_ptr<TextNormalizer>(std::make_unique<BertNormalizer>(*clean, *chinese, *lower, strip));
}

}  // namespace

std::string replace_all(std::string_view text, std::string_view pattern, std::string_view content) {
  if (pattern.empty()) return std::string(text);
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = text.find(pattern, pos)) != std::string_view::npos; pos = hit + pattern.size()) {
    out.append(text.substr(pos, hit - pos));
    out.append(content);
  }
  out.append(text.substr(pos));
  return out;
}

Status check_sequence_nesting(const std::string& path, int depth) {
  if (depth < kMaxSequenceNesting) return {};
  return Error(fmt::format("{}: Sequences nested more than {} deep", path, kMaxSequenceNesting), ErrorKind::unsupported);
}

Result<std::unique_ptr<TextNormalizer>> make_normalizer(const json& j, const std::string& path, int depth) {
  if (j.is_null()) return std::unique_ptr<TextNormalizer>();
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
    return Error(path + ": expected an object with a \"type\"");
  }
  std::string type = j["type"].get<std::string>();
  using Ptr = std::unique_ptr<TextNormalizer>;
  if (type == "BertNormalizer") return make_bert_normalizer(j, path);
  if (type == "NFC") return Ptr(std::make_unique<FunctionNormalizer>(unicode::to_nfc));
  if (type == "NFD") return Ptr(std::make_unique<FunctionNormalizer>(unicode::to_nfd));
  if (type == "NFKC") return Ptr(std::make_unique<FunctionNormalizer>(unicode::to_nfkc));
  if (type == "NFKD") return Ptr(std::make_unique<FunctionNormalizer>(unicode::to_nfkd));
  if (type == "Lowercase") return Ptr(std::make_unique<FunctionNormalizer>(unicode::to_lower));
  if (type == "StripAccents") return Ptr(std::make_unique<FunctionNormalizer>(strip_all_marks));
  if (type == "Strip") {
    auto left = optional_field<bool>(j, path, "strip_left", false);
    auto right = optional_field<bool>(j, path, "strip_right", false);
    if (!left) return left.error();
    if (!right) return right.error();
    return Ptr(std::make_unique<StripNormalizer>(*left, *right));
  }
  if (type == "Prepend") {
    auto prefix = optional_field<std::string>(j, path, "prepend", "");
    if (!prefix) return prefix.error();
    return Ptr(std::make_unique<PrependNormalizer>(*prefix));
  }
  if (type == "Replace") {
    const json& pattern = j.value("pattern", json::object());
    if (!pattern.contains("String") || !pattern["String"].is_string()) {
      return Error(path + ".pattern: only {\"String\": ...} patterns are supported (regular expressions are not)");
    }
    auto content = optional_field<std::string>(j, path, "content", "");
    if (!content) return content.error();
    return Ptr(std::make_unique<ReplaceNormalizer>(pattern["String"].get<std::string>(), *content));
  }
  if (type == "Sequence") {
    if (Status s = check_sequence_nesting(path, depth); !s) return s.error();
    const json& list = j.value("normalizers", json::array());
    if (!list.is_array()) return Error(path + ".normalizers: expected an array");
    std::vector<Ptr> steps;
    for (size_t i = 0; i < list.size(); ++i) {
      auto step = make_normalizer(list[i], fmt::format("{}.normalizers[{}]", path, i), depth + 1);
      if (!step) return step.error();
      if (*step) steps.push_back(std::move(*step));
    }
    return Ptr(std::make_unique<SequenceNormalizer>(std::move(steps)));
  }
  return Error(path + ".type: '" + type + "' is not supported", ErrorKind::unsupported);
}

}  // namespace sparq::runtime
