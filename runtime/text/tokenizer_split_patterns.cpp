// The Split pre-tokenizer for the regular expressions decoder models ship, recognised by
// their exact text and matched by hand (no regex library at hand knows \p{L}; a matcher per
// pattern is also much faster than a general engine). Llama 3's pattern:
//
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*
//   |\s*[\r\n]+|\s+(?!\S)|\s+
//
// and Qwen2's, the same with \p{N} for \p{N}{1,3}. The reference (transformers.js) rewrites
// (?i:...) to ASCII case classes ('[sS]) and \s to \p{White_Space}; the matcher follows it.
// Alternatives are tried in order at each position, as a backtracking engine does; every
// character starts a match of one of them, so the matches tile the text and behavior
// "Isolated" (matches and the text between them are words) gives the matches.
#include <fmt/core.h>

#include <array>

#include "runtime/text/tokenizer_pipeline.h"
#include "runtime/text/tokenizer_unicode.h"

namespace sparq::runtime {
namespace {

using nlohmann::json;

constexpr std::string_view kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

enum class CharClass { letter, number, space, other };

CharClass classify(char32_t c) {
  if (unicode::is_letter(c)) return CharClass::letter;
  if (unicode::is_number(c)) return CharClass::number;
  if (unicode::is_white_space_property(c)) return CharClass::space;
  return CharClass::other;
}

bool is_line_break(char32_t c) { return c == '\r' || c == '\n'; }

// The text decoded once into code points with their classes and byte offsets, so each
// alternative looks characters up by index.
struct Decoded {
  std::vector<char32_t> chars;
  std::vector<CharClass> classes;
  std::vector<uint32_t> offsets;  // byte offset of each character, and the end
  void assign(std::string_view text) {
    chars.clear();
    classes.clear();
    offsets.clear();
    for (size_t i = 0; i < text.size();) {
      offsets.push_back(uint32_t(i));
      char32_t c = unicode::next_code_point(text, i);
      chars.push_back(c);
      classes.push_back(classify(c));
    }
    offsets.push_back(uint32_t(text.size()));
  }
  size_t size() const { return chars.size(); }
  // The end of the run of `cls` characters from `i`.
  size_t run_end(size_t i, CharClass cls) const {
    while (i < size() && classes[i] == cls) ++i;
    return i;
  }
};

class ContractionSplitPreTokenizer final : public PreTokenizer {
 public:
  explicit ContractionSplitPreTokenizer(size_t max_digits) : max_digits_(max_digits) {}

  void split(std::string_view text, PreTokens& out) const override {
    thread_local Decoded d;
    d.assign(text);
    for (size_t i = 0; i < d.size();) {
      size_t end = match_at(d, i);
      out.add(text.substr(d.offsets[i], d.offsets[end] - d.offsets[i]));
      i = end;
    }
  }

 private:
  // The end (character index) of the match starting at character `i`.
  size_t match_at(const Decoded& d, size_t i) const {
    const size_t n = d.size();
    auto lower = [&](size_t k) { return k < n && d.chars[k] < 0x80 ? char32_t(d.chars[k] | 0x20) : char32_t(0); };
    // (?i:'s|'t|'re|'ve|'m|'ll|'d), ASCII letters in either case.
    if (d.chars[i] == '\'') {
      char32_t a = lower(i + 1), b = lower(i + 2);
      if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    }
    const CharClass first = d.classes[i];
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (first == CharClass::letter) return d.run_end(i, CharClass::letter);
    if (first != CharClass::number && !is_line_break(d.chars[i]) && i + 1 < n && d.classes[i + 1] == CharClass::letter) {
      return d.run_end(i + 1, CharClass::letter);
    }
    // \p{N}{1,max}
    if (first == CharClass::number) {
      size_t end = i;
      while (end < n && end - i < max_digits_ && d.classes[end] == CharClass::number) ++end;
      return end;
    }
    // " ?[^\s\p{L}\p{N}]+[\r\n]*"
    size_t symbols = d.chars[i] == ' ' && i + 1 < n && d.classes[i + 1] == CharClass::other ? i + 1 : i;
    if (d.classes[symbols] == CharClass::other) {
      size_t end = d.run_end(symbols, CharClass::other);
      while (end < n && is_line_break(d.chars[end])) ++end;
      return end;
    }
    // Only whitespace is left. \s*[\r\n]+: the greedy \s* backs off to the last line break of
    // the run, which [\r\n]+ then takes alone.
    size_t run = d.run_end(i, CharClass::space);
    for (size_t k = run; k > i; --k) {
      if (is_line_break(d.chars[k - 1])) return k;
    }
    // \s+(?!\S): the run, or all of it but the last character when a word follows; \s+ takes
    // a single whitespace character before a word.
    if (run == n || run - i == 1) return run;
    return run - 1;
  }

  size_t max_digits_;
};

}  // namespace

Result<std::unique_ptr<PreTokenizer>> make_split_pre_tokenizer(const json& j, const std::string& path) {
  using Ptr = std::unique_ptr<PreTokenizer>;
  const json& pattern = j.value("pattern", json());
  if (!pattern.is_object() || !pattern.contains("Regex") || !pattern["Regex"].is_string()) {
    return Error(path + ".pattern: only {\"Regex\": ...} patterns of known tokenizers are supported",
                 ErrorKind::unsupported);
  }
  auto behavior = optional_field<std::string>(j, path, "behavior", "");
  auto invert = optional_field<bool>(j, path, "invert", false);
  if (!behavior) return behavior.error();
  if (!invert) return invert.error();
  if (*behavior != "Isolated") {
    return Error(path + ".behavior: '" + *behavior + "' is not supported (Isolated is)", ErrorKind::unsupported);
  }
  if (*invert) return Error(path + ".invert: true is not supported", ErrorKind::unsupported);
  std::string regex = pattern["Regex"].get<std::string>();
  if (regex == kLlama3Pattern) return Ptr(std::make_unique<ContractionSplitPreTokenizer>(3));
  if (regex == kQwen2Pattern) return Ptr(std::make_unique<ContractionSplitPreTokenizer>(1));
  return Error(path + ".pattern.Regex: this regular expression is not supported (Llama 3's and Qwen2's are): " +
                   regex.substr(0, 200),
               ErrorKind::unsupported);
}

}  // namespace sparq::runtime
