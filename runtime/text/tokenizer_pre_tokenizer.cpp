// Pre-tokenizers of tokenizer.json: BertPreTokenizer, ByteLevel (GPT-2's split, written out
// by hand since no regex library at hand knows \p{L}), Whitespace, WhitespaceSplit, Digits,
// Metaspace, Split (tokenizer_split_patterns.cpp) and Sequence.
#include <fmt/core.h>

#include "runtime/text/tokenizer_byte_level.h"
#include "runtime/text/tokenizer_pipeline.h"
#include "runtime/text/tokenizer_unicode.h"

namespace sparq::runtime {
namespace {

using nlohmann::json;

// BERT's punctuation: \p{P} plus every ASCII symbol ($, +, <, ^, ` ... are symbols in Unicode).
bool is_bert_punctuation(char32_t c) {
  if (c < 0x80) return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
  return unicode::is_punctuation(c);
}

// Splits into maximal runs of characters of one class; `keep(cls)` says whether a run of that
// class is a word, and `single(cls)` whether each of its characters is a word on its own.
template <class Classify, class Keep, class Single>
void split_runs(std::string_view text, PreTokens& out, Classify classify, Keep keep, Single single) {
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    int cls = classify(unicode::next_code_point(text, i));
    if (!single(cls)) {
      for (size_t j = i; j < text.size();) {
        if (classify(unicode::next_code_point(text, j)) != cls) break;
        i = j;
      }
    }
    if (keep(cls)) out.add(text.substr(start, i - start));
  }
}

class BertPreTokenizer final : public PreTokenizer {
 public:
  void split(std::string_view text, PreTokens& out) const override {
    enum { space, punct, word };
    split_runs(
        text, out,
        [](char32_t c) { return unicode::is_js_whitespace(c) ? space : is_bert_punctuation(c) ? punct : word; },
        [](int cls) { return cls != space; }, [](int cls) { return cls == punct; });
  }
};

// JavaScript `\w+|[^\w\s]+` (ASCII \w).
class WhitespacePreTokenizer final : public PreTokenizer {
 public:
  void split(std::string_view text, PreTokens& out) const override {
    enum { space, word, other };
    auto classify = [](char32_t c) {
      bool w = c < 0x80 && (c == '_' || unicode::is_letter(c) || unicode::is_number(c));
      return w ? word : unicode::is_js_whitespace(c) ? space : other;
    };
    split_runs(text, out, classify, [](int cls) { return cls != space; }, [](int) { return false; });
  }
};

// JavaScript `\S+`.
class WhitespaceSplitPreTokenizer final : public PreTokenizer {
 public:
  void split(std::string_view text, PreTokens& out) const override {
    split_runs(
        text, out, [](char32_t c) { return unicode::is_js_whitespace(c) ? 0 : 1; }, [](int cls) { return cls == 1; },
        [](int) { return false; });
  }
};

// `[^\d]+|\d+`, or `[^\d]+|\d` with individual_digits.
class DigitsPreTokenizer final : public PreTokenizer {
 public:
  explicit DigitsPreTokenizer(bool individual) : individual_(individual) {}
  void split(std::string_view text, PreTokens& out) const override {
    bool individual = individual_;
    split_runs(
        text, out, [](char32_t c) { return c >= '0' && c <= '9' ? 1 : 0; }, [](int) { return true; },
        [individual](int cls) { return individual && cls == 1; });
  }

 private:
  bool individual_;
};

// GPT-2's pattern, alternatives tried in order at each position:
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// Every character belongs to one of the last five, so the matches tile the text.
class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space), use_regex_(use_regex) {}

  void split(std::string_view text, PreTokens& out) const override {
    std::string prefixed;
    if (add_prefix_space_ && (text.empty() || text[0] != ' ')) {
      prefixed = " " + std::string(text);
      text = prefixed;
    }
    if (!use_regex_) {
      add_mapped(text, out);
      return;
    }
    for (size_t i = 0; i < text.size();) {
      size_t end = match_at(text, i);
      add_mapped(text.substr(i, end - i), out);
      i = end;
    }
  }

 private:
  enum Class { letter, number, space, other };
  static Class classify(char32_t c) {
    if (unicode::is_letter(c)) return letter;
    if (unicode::is_number(c)) return number;
    if (unicode::is_js_whitespace(c)) return space;
    return other;
  }

  // The end of the run of `cls` characters starting at `i`.
  static size_t run_end(std::string_view text, size_t i, Class cls) {
    while (i < text.size()) {
      size_t j = i;
      if (classify(unicode::next_code_point(text, j)) != cls) break;
      i = j;
    }
    return i;
  }

  static size_t match_at(std::string_view text, size_t i) {
    if (text[i] == '\'') {
      std::string_view rest = text.substr(i + 1);
      for (std::string_view suffix : {"s", "t", "re", "ve", "m", "ll", "d"}) {
        if (rest.substr(0, suffix.size()) == suffix) return i + 1 + suffix.size();
      }
    }
    size_t next = i;
    Class first = classify(unicode::next_code_point(text, next));
    if (text[i] == ' ' && next < text.size()) {
      size_t after = next;
      Class second = classify(unicode::next_code_point(text, after));
      if (second != space) return run_end(text, next, second);  // " ?X+" with the space
    }
    if (first != space) return run_end(text, i, first);
    size_t end = run_end(text, i, space);
    if (end == text.size()) return end;
    // \s+(?!\S): leave the last whitespace character to the word that follows, if more
    // than one; otherwise \s+ takes the single one.
    size_t last = end - 1;
    while ((static_cast<uint8_t>(text[last]) & 0xC0) == 0x80) --last;
    return last > i ? last : end;
  }

  static void add_mapped(std::string_view piece, PreTokens& out) {
    if (piece.empty()) return;
    out.begin();
    for (char ch : piece) out.buffer().append(byte_level_char(static_cast<uint8_t>(ch)));
    out.end();
  }

  bool add_prefix_space_, use_regex_;
};

// SentencePiece's spaces: " " becomes the replacement ("▁"), which is prepended to the text
// unless it starts with one (prepend_scheme "always"; "first": only in the first section,
// "never": not at all). With split, each word starts at a replacement (the reference's
// transformers.js ignores `split` and never splits; Hugging Face's Rust library splits so).
class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  enum class Prepend { always, first, never };
  MetaspacePreTokenizer(std::string replacement, Prepend prepend, bool split)
      : replacement_(std::move(replacement)), prepend_(prepend), split_(split) {}

  void split(std::string_view text, PreTokens& out) const override { split_section(text, out, true); }

  void split_section(std::string_view text, PreTokens& out, bool first_section) const override {
    thread_local std::string replaced;
    replaced.clear();
    bool prepend = prepend_ == Prepend::always || (prepend_ == Prepend::first && first_section);
    if (prepend && !(text.substr(0, 1) == " " || text.substr(0, replacement_.size()) == replacement_)) {
      replaced.append(replacement_);
    }
    for (char ch : text) {
      if (ch == ' ') {
        replaced.append(replacement_);
      } else {
        replaced.push_back(ch);
      }
    }
    std::string_view all = replaced;
    if (!split_ || replacement_.empty()) {
      out.add(all);
      return;
    }
    size_t start = 0;
    for (size_t hit = all.find(replacement_, 1); hit != std::string_view::npos; hit = all.find(replacement_, hit + 1)) {
      if (hit > start) out.add(all.substr(start, hit - start));
      start = hit;
    }
    if (start < all.size()) out.add(all.substr(start));
  }

 private:
  std::string replacement_;
  Prepend prepend_;
  bool split_;
};

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps) : steps_(std::move(steps)) {}
  void split(std::string_view text, PreTokens& out) const override { split_section(text, out, true); }
  void split_section(std::string_view text, PreTokens& out, bool first_section) const override {
    if (steps_.empty()) {
      out.add(text);
      return;
    }
    PreTokens current, next;
    current.add(text);
    for (size_t s = 0; s < steps_.size(); ++s) {
      PreTokens& target = s + 1 == steps_.size() ? out : next;
      if (&target == &next) next.clear();
      for (size_t w = 0; w < current.size(); ++w) steps_[s]->split_section(current[w], target, first_section);
      if (&target == &next) std::swap(current, next);
    }
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

}  // namespace

Result<std::unique_ptr<PreTokenizer>> make_pre_tokenizer(const json& j, const std::string& path, int depth) {
  using Ptr = std::unique_ptr<PreTokenizer>;
  if (j.is_null()) return Ptr();
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
    return Error(path + ": expected an object with a \"type\"");
  }
  std::string type = j["type"].get<std::string>();
  if (type == "BertPreTokenizer") return Ptr(std::make_unique<BertPreTokenizer>());
  if (type == "Whitespace") return Ptr(std::make_unique<WhitespacePreTokenizer>());
  if (type == "WhitespaceSplit") return Ptr(std::make_unique<WhitespaceSplitPreTokenizer>());
  if (type == "Digits") {
    auto individual = optional_field<bool>(j, path, "individual_digits", false);
    if (!individual) return individual.error();
    return Ptr(std::make_unique<DigitsPreTokenizer>(*individual));
  }
  if (type == "ByteLevel") {
    auto prefix = optional_field<bool>(j, path, "add_prefix_space", false);
    auto regex = optional_field<bool>(j, path, "use_regex", true);
    if (!prefix) return prefix.error();
    if (!regex) return regex.error();
    return Ptr(std::make_unique<ByteLevelPreTokenizer>(*prefix, *regex));
  }
  if (type == "Metaspace") {
    auto replacement = optional_field<std::string>(j, path, "replacement", "\u2581");
    auto scheme = optional_field<std::string>(j, path, "prepend_scheme", "always");
    auto split = optional_field<bool>(j, path, "split", true);
    if (!replacement) return replacement.error();
    if (!scheme) return scheme.error();
    if (!split) return split.error();
    using Prepend = MetaspacePreTokenizer::Prepend;
    Prepend prepend = *scheme == "always" ? Prepend::always : *scheme == "first" ? Prepend::first : Prepend::never;
    if (*scheme != "always" && *scheme != "first" && *scheme != "never") {
      return Error(path + ".prepend_scheme: expected \"always\", \"first\" or \"never\", not '" + *scheme + "'");
    }
    return Ptr(std::make_unique<MetaspacePreTokenizer>(*replacement, prepend, *split));
  }
  if (type == "Split") return make_split_pre_tokenizer(j, path);
  if (type == "Sequence") {
    if (Status s = check_sequence_nesting(path, depth); !s) return s.error();
    const json& list = j.value("pretokenizers", json::array());
    if (!list.is_array()) return Error(path + ".pretokenizers: expected an array");
    std::vector<Ptr> steps;
    for (size_t i = 0; i < list.size(); ++i) {
      auto step = make_pre_tokenizer(list[i], fmt::format("{}.pretokenizers[{}]", path, i), depth + 1);
      if (!step) return step.error();
      if (*step) steps.push_back(std::move(*step));
    }
    return Ptr(std::make_unique<SequencePreTokenizer>(std::move(steps)));
  }
  return Error(path + ".type: '" + type + "' is not supported", ErrorKind::unsupported);
}

}  // namespace sparq::runtime
