// Lexing a chat template. Byte-identical rendering with @huggingface/jinja starts here: it
// rewrites the whole source before lexing (drops one trailing newline, applies lstrip_blocks
// and trim_blocks as text substitutions, even inside string literals), so this does the
// same, keeping each byte's original offset so errors still point into the source as given.
#include <string>
#include <string_view>
#include <vector>

#include "formats/utf8.h"
#include "runtime/text/chat_template_syntax.h"

namespace sparq::runtime::chat_template_detail {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_word(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

// The rewritten source plus, for each of its bytes, the offset it came from.
struct MappedSource {
  std::string text;
  std::vector<uint32_t> origin;
};

MappedSource rewrite_like_huggingface_jinja(std::string_view source) {
  MappedSource in;
  size_t n = source.size();
  if (n > 0 && source[n - 1] == '\n') --n;
  in.text.assign(source.substr(0, n));
  for (uint32_t i = 0; i < n; ++i) in.origin.push_back(i);

  // lstrip_blocks: spaces and tabs at the start of a line go when a block or comment tag
  // ("{%", "{#", and "{-" as the reference's pattern has it) follows them.
  MappedSource lstripped;
  for (size_t i = 0; i < in.text.size();) {
    const bool line_start = i == 0 || in.text[i - 1] == '\n' || in.text[i - 1] == '\r';
    if (line_start) {
      size_t j = i;
      while (j < in.text.size() && (in.text[j] == ' ' || in.text[j] == '\t')) ++j;
      if (j > i && j + 1 < in.text.size() && in.text[j] == '{' &&
          (in.text[j + 1] == '%' || in.text[j + 1] == '#' || in.text[j + 1] == '-')) {
        i = j;
      }
    }
    // Copy up to the next line start (at least one byte).
    do {
      lstripped.text.push_back(in.text[i]);
      lstripped.origin.push_back(in.origin[i]);
      ++i;
    } while (i < in.text.size() && in.text[i - 1] != '\n' && in.text[i - 1] != '\r');
  }

  // trim_blocks: the newline right after "%}", "#}" or "-}" goes.
  MappedSource out;
  const std::string& t = lstripped.text;
  for (size_t i = 0; i < t.size(); ++i) {
    out.text.push_back(t[i]);
    out.origin.push_back(lstripped.origin[i]);
    if (t[i] == '}' && i > 0 && (t[i - 1] == '%' || t[i - 1] == '#' || t[i - 1] == '-') &&
        i + 1 < t.size() && t[i + 1] == '\n') {
      ++i;
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string_view source) : src_(rewrite_like_huggingface_jinja(source)) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < source.size(); ++i) {
      if (source[i] == '\n') line_starts_.push_back(static_cast<uint32_t>(i + 1));
    }
    source_size_ = static_cast<uint32_t>(source.size());
  }

  std::vector<Token> run() {
    const std::string& s = src_.text;
    while (pos_ < s.size()) {
      const TokenKind last = tokens_.empty() ? TokenKind::end : tokens_.back().kind;
      if (tokens_.empty() || last == TokenKind::close_statement || last == TokenKind::close_expression ||
          after_comment_) {
        after_comment_ = false;
        const size_t start = pos_;
        while (pos_ < s.size() && !(s[pos_] == '{' && pos_ + 1 < s.size() &&
                                    (s[pos_ + 1] == '%' || s[pos_ + 1] == '{' || s[pos_ + 1] == '#'))) {
          ++pos_;
        }
        if (pos_ > start) {
          push(TokenKind::text, s.substr(start, pos_ - start), start);
          continue;
        }
      }
      if (starts_with("{#")) {
        lex_comment();
        continue;
      }
      if (starts_with("{%-") || starts_with("{{-")) {
        strip_trailing_whitespace_of_text();
        push(s[pos_ + 1] == '%' ? TokenKind::open_statement : TokenKind::open_expression, s.substr(pos_, 2), pos_);
        pos_ += 3;
        continue;
      }
      while (pos_ < s.size() && is_space(s[pos_])) ++pos_;
      if (pos_ >= s.size()) break;
      if (starts_with("-%}") || starts_with("-}}")) {
        push(s[pos_ + 1] == '%' ? TokenKind::close_statement : TokenKind::close_expression, s.substr(pos_ + 1, 2), pos_);
        pos_ += 3;
        while (pos_ < s.size() && is_space(s[pos_])) ++pos_;
        continue;
      }
      lex_inside_tag();
    }
    tokens_.push_back(Token{TokenKind::end, "", position_of(s.size())});
    return std::move(tokens_);
  }

 private:
  SourcePosition position_of(size_t rewritten_offset) const {
    const uint32_t offset = rewritten_offset < src_.origin.size() ? src_.origin[rewritten_offset] : source_size_;
    size_t lo = 0, hi = line_starts_.size();
    while (hi - lo > 1) {
      const size_t mid = (lo + hi) / 2;
      (line_starts_[mid] <= offset ? lo : hi) = mid;
    }
    return SourcePosition{static_cast<uint32_t>(lo + 1), offset - line_starts_[lo] + 1};
  }
  [[noreturn]] void fail(size_t at, const std::string& message) const { throw TemplateError(position_of(at), message); }
  bool starts_with(std::string_view p) const { return std::string_view(src_.text).substr(pos_).starts_with(p); }
  void push(TokenKind kind, std::string value, size_t at, bool is_float = false) {
    tokens_.push_back(Token{kind, std::move(value), position_of(at), is_float});
  }

  // "{%-" / "{{-" / "{#-": the text before loses its trailing whitespace (and vanishes if
  // nothing is left).
  void strip_trailing_whitespace_of_text() {
    if (tokens_.empty() || tokens_.back().kind != TokenKind::text) return;
    std::string& v = tokens_.back().value;
    while (!v.empty() && is_space(v.back())) v.pop_back();
    if (v.empty()) tokens_.pop_back();
  }

  void lex_comment() {
    const std::string& s = src_.text;
    const size_t open = pos_;
    pos_ += 2;
    const bool strip_before = pos_ < s.size() && s[pos_] == '-';
    if (strip_before) ++pos_;
    const size_t close = s.find("#}", pos_);
    if (close == std::string::npos) fail(open, "comment opened here is never closed with '#}'");
    const bool strip_after = close > pos_ && s[close - 1] == '-';
    if (strip_before) strip_trailing_whitespace_of_text();
    pos_ = close + 2;
    after_comment_ = true;
    if (strip_after) {
      while (pos_ < s.size() && is_space(s[pos_])) ++pos_;
    }
  }

  void lex_inside_tag() {
    const std::string& s = src_.text;
    const char c = s[pos_];
    const size_t start = pos_;
    if (c == '-' || c == '+') {
      // A sign right after an operand is a binary operator; elsewhere it is unary and a
      // number directly after it belongs to the literal (as the reference lexes "-1").
      const TokenKind last = tokens_.empty() ? TokenKind::end : tokens_.back().kind;
      if (last == TokenKind::text || tokens_.empty()) fail(start, std::string("unexpected character '") + c + "'");
      const bool after_operand = last == TokenKind::identifier || last == TokenKind::number ||
                                 last == TokenKind::string ||
                                 (last == TokenKind::symbol && (tokens_.back().value == ")" || tokens_.back().value == "]"));
      if (!after_operand) {
        ++pos_;
        std::string digits = take_digits();
        bool is_float = false;
        if (!digits.empty() && pos_ + 1 < s.size() && s[pos_] == '.' && is_digit(s[pos_ + 1])) {
          ++pos_;
          digits += "." + take_digits();
          is_float = true;
        }
        if (digits.empty()) {
          push(TokenKind::symbol, std::string("unary") + c, start);
        } else {
          push(TokenKind::number, c + digits, start, is_float);
        }
        return;
      }
    }
    static constexpr std::string_view kSymbols[] = {
        "{%", "%}", "{{", "}}", "(", ")", "{", "}", "[", "]", ",", ".", ":", "|", "<=", ">=", "==", "!=",
        "<", ">", "+", "-", "~", "**", "*", "//", "/", "%", "="};
    for (std::string_view sym : kSymbols) {
      if (sym == "}}" && curly_depth_ > 0) continue;
      if (!starts_with(sym)) continue;
      pos_ += sym.size();
      if (sym == "{%") {
        push(TokenKind::open_statement, std::string(sym), start);
      } else if (sym == "%}") {
        push(TokenKind::close_statement, std::string(sym), start);
      } else if (sym == "{{") {
        curly_depth_ = 0;
        push(TokenKind::open_expression, std::string(sym), start);
      } else if (sym == "}}") {
        push(TokenKind::close_expression, std::string(sym), start);
      } else {
        if (sym == "{") ++curly_depth_;
        if (sym == "}") --curly_depth_;
        push(TokenKind::symbol, std::string(sym), start);
      }
      return;
    }
    if (c == '\'' || c == '"') {
      ++pos_;
      std::string value;
      while (true) {
        if (pos_ >= s.size()) fail(start, "string literal opened here is never closed");
        const char d = s[pos_];
        if (d == c) break;
        if (d == '\\') {
          if (++pos_ >= s.size()) fail(start, "string literal opened here is never closed");
          value += unescape(s[pos_], pos_);
          continue;
        }
        value.push_back(d);
        ++pos_;
      }
      ++pos_;
      push(TokenKind::string, std::move(value), start);
      return;
    }
    if (is_digit(c)) {
      std::string digits = take_digits();
      bool is_float = false;
      const bool after_dot = !tokens_.empty() && tokens_.back().kind == TokenKind::symbol && tokens_.back().value == ".";
      if (!after_dot && pos_ + 1 < s.size() && s[pos_] == '.' && is_digit(s[pos_ + 1])) {
        ++pos_;
        digits += "." + take_digits();
        is_float = true;
      }
      push(TokenKind::number, std::move(digits), start, is_float);
      return;
    }
    if (is_word(c)) {
      while (pos_ < s.size() && is_word(s[pos_])) ++pos_;
      push(TokenKind::identifier, s.substr(start, pos_ - start), start);
      return;
    }
    fail(start, std::string("unexpected character '") + c + "'");
  }

  std::string take_digits() {
    const size_t start = pos_;
    while (pos_ < src_.text.size() && is_digit(src_.text[pos_])) ++pos_;
    return src_.text.substr(start, pos_ - start);
  }

  // The escape after a backslash at `at` (pos_ points at the escaped character).
  std::string unescape(char e, size_t at) {
    ++pos_;
    switch (e) {
      case 'n': return "\n";
      case 't': return "\t";
      case 'r': return "\r";
      case 'b': return "\b";
      case 'f': return "\f";
      case 'v': return "\v";
      case '\'': return "'";
      case '"': return "\"";
      case '\\': return "\\";
      case 'x':
      case 'u': {
        const size_t len = e == 'x' ? 2 : 4;
        uint32_t code = 0;
        for (size_t k = 0; k < len; ++k, ++pos_) {
          const char h = pos_ < src_.text.size() ? src_.text[pos_] : '\0';
          const int v = is_digit(h) ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
          if (v < 0) fail(at - 1, std::string("invalid hexadecimal escape sequence \\") + e);
          code = code * 16 + static_cast<uint32_t>(v);
        }
        // UTF-8 of the UTF-16 unit (a lone surrogate cannot be represented and is refused).
        if (code >= 0xD800 && code <= 0xDFFF) fail(at - 1, "surrogate escape sequences are not supported");
        std::string out;
        if (code < 0x80) {
          out.push_back(static_cast<char>(code));
        } else if (code < 0x800) {
          out.push_back(static_cast<char>(0xC0 | (code >> 6)));
          out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
        } else {
          out.push_back(static_cast<char>(0xE0 | (code >> 12)));
          out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
          out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
        }
        return out;
      }
      default:
        fail(at - 1, std::string("unexpected escaped character '") + e + "'");
    }
  }

  MappedSource src_;
  std::vector<uint32_t> line_starts_;
  uint32_t source_size_ = 0;
  size_t pos_ = 0;
  int curly_depth_ = 0;
  bool after_comment_ = false;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> lex_chat_template(std::string_view source) {
  // Everything downstream (trim, case mapping, slicing by code point) walks UTF-8, so
  // invalid bytes are refused here, where the error can point at them.
  if (const size_t bad = formats::find_invalid_utf8(source); bad != std::string_view::npos) {
    uint32_t line = 1, column = 1;
    for (size_t i = 0; i < bad; ++i) {
      if (source[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    throw TemplateError(SourcePosition{line, column}, "invalid UTF-8");
  }
  return Lexer(source).run();
}

}  // namespace sparq::runtime::chat_template_detail
